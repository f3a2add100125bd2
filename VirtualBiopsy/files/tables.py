"""Reading user tables (clinical data, feature tables), the one home for it: numbers never change silently.

:func:`readTable` reads a CSV file (UTF-8, with or without a byte-order mark) cell by cell with an explicit
kind per column:

- ``text``: kept as written (whitespace around it stripped): identifiers stay text (``007`` is not 7);
- ``number``: a float; ``integer``: a whole number; ``event``: 0 or 1 (``true``/``false`` also accepted);
- any other column is inferred strictly: numeric when every filled cell is a number, text when none is. A cell
  that looks like a number written another way (a comma decimal ``63,5``, a thousands separator ``1,234`` or
  ``1 234``, a unit ``63 y``, ``12 mm``, ``5%``, a sign such as ``<5``) and text among numbers are errors.

A number is plain: digits with an optional sign, one decimal mark and an exponent (``-1.5e3``), or
``inf``/``-inf``. The decimal mark is ``.`` unless the user asks for ``,`` (``--decimal ,``,
:attr:`TableFormat.decimal`); then a dot in a number is an error. A file that reads under both marks gives the
same numbers under both. The column separator is the header line's most frequent of ``,``, ``;`` and tab (``,``
on a tie), so European Excel files (``;`` with comma decimals) read as they are.

Missing values are exactly the empty cell and ``NA``, ``N/A``, ``NaN``, ``null`` and ``None`` in any case
(:data:`MISSING_TOKENS`); anything else (``-``, ``?``, ``#N/A``) is a value and must fit its column.
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from VirtualBiopsy.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EVENT",
    "INTEGER",
    "MISSING_TOKENS",
    "NUMBER",
    "TEXT",
    "TableFormat",
    "isTableNumber",
    "lookalikeReason",
    "readTable",
    "tableNumber",
]

TEXT, NUMBER, INTEGER, EVENT = "text", "number", "integer", "event"
KINDS = (TEXT, NUMBER, INTEGER, EVENT)
#: Cells that mean "missing", compared after stripping and in lower case.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
#: The decimal marks a table may use.
DECIMALS = (".", ",")
#: At most this many bad cells are listed in one error message.
MAXIMUM_LISTED = 5
_SEPARATORS = (",", ";", "\t")
_NUMBERS = {
    mark: re.compile(rf"[+-]?(?:\d+(?:{re.escape(mark)}\d*)?|{re.escape(mark)}\d+)(?:[eE][+-]?\d+)?")
    for mark in DECIMALS
}
_INTEGER = re.compile(r"[+-]?\d+")
_INFINITY = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_NUMBER_LIKE = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:[ '’\u00a0\u202f]\d{3})+(?:[.,]\d+)?|[+-]?\d{1,3}(?:[.,]\d{3}){2,}")
_UNIT = re.compile(rf"{_NUMBER_LIKE}\s*[A-Za-zµμ°%‰²³][A-Za-z0-9µμ°%‰²³/.]{{0,11}}")
_EVENT_REASON = "not 0 (censored) or 1 (event); true/false are also read"
_SIGN = re.compile(rf"(?:[<>≤≥~≈]=?|±|[−–])\s*{_NUMBER_LIKE}")


@dataclass(frozen=True)
class TableFormat:
    """How the user's tables write their numbers (the ``--decimal`` and ``--text-columns`` options).

    :ivar decimal: the decimal mark, ``.`` or ``,``.
    :ivar textColumns: columns read as text even where their cells look like numbers (categories such as 2a).
    """

    decimal: str = "."
    textColumns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.decimal not in DECIMALS:
            raise InputError(f"The decimal mark is {self.decimal!r}; give '.' or ','.")
        object.__setattr__(self, "textColumns", tuple(dict.fromkeys(self.textColumns)))

    def toDict(self) -> dict[str, Any]:
        """The format as recorded in provenance and settings."""
        return {"decimal": self.decimal, "textColumns": list(self.textColumns)}


@dataclass(frozen=True)
class _Problem:
    line: int
    column: str
    value: str
    reason: str
    hint: str  # "decimal", "dot", "text" or "" (which fixes the message offers)


def readTable(
    path: str | os.PathLike,
    what: str,
    columns: Mapping[str, str] | None = None,
    others: str = "infer",
    tableFormat: TableFormat | None = None,
    asText: bool = False,
) -> pd.DataFrame:
    """Read a CSV table with an explicit kind per column (see the module).

    :param what: what the table is, for messages (``"Clinical"``, ``"Features"``).
    :param columns: the kind of named columns (``text``, ``number``, ``integer``, ``event``); absent ones are
        not required (callers check what they need).
    :param others: the kind of every other column: ``"infer"`` (numeric or text, strictly), or one of the kinds.
    :param tableFormat: the decimal mark and text columns (default: ``.`` and none).
    :param asText: return every cell as text (missing ones as NaN; numbers with a ``.`` decimal mark) after the
        same checks, for tables whose other columns are written back as they came.
    :returns: the table, columns in file order: text as ``str``, numbers as float, whole numbers (integer and
        event columns, inferred columns of integers) as int64 when none is missing. ``attrs["tableFormat"]``
        records the format and the separator used, ``attrs["lines"]`` the file line of each row.
    :raises InputError: for a missing or unreadable file, a bad header, and every cell that does not fit its
        column (the first :data:`MAXIMUM_LISTED` listed with line, column and value, and the count).
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{what} table not found: {path}; give the path of an existing CSV file.")
    try:
        content = path.read_bytes()
        text = content.decode("utf-8-sig")
    except OSError as error:
        raise InputError(f"{what} table {path} could not be read ({error}); check its permissions.") from error
    except UnicodeDecodeError as error:
        raise InputError(
            f"{what} table {path} is not UTF-8 text ({error}); save it as 'CSV UTF-8' (Excel: Save As)."
        ) from error
    tableFormat = tableFormat or TableFormat()
    separator = _separator(text)
    header, rows = _records(path, what, text, separator)
    kinds = {name: _kind(name, columns or {}, others, tableFormat) for name in header}
    frame = _frame(path, what, header, rows, kinds, tableFormat.decimal, asText)
    frame.attrs["tableFormat"] = {**tableFormat.toDict(), "separator": separator}
    frame.attrs["lines"] = [line for line, _ in rows]
    return frame


def _separator(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {separator: first.count(separator) for separator in _SEPARATORS}
    best = max(counts.values())
    return next(separator for separator in _SEPARATORS if counts[separator] == best)


def _records(path: pathlib.Path, what: str, text: str, separator: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-blank rows with the file line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    records, end = [], 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if any(cell.strip() for cell in record):
                records.append((start, record))
    except csv.Error as error:
        raise InputError(f"{what} table {path} is not a readable CSV file (line {end + 1}: {error}).") from error
    if not records:
        raise InputError(
            f"{what} table {path} is not a readable CSV file: it is empty; its first line must name the columns."
        )
    (_, header), rows = records[0], records[1:]
    header = [name.strip() for name in header]
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise InputError(f"{what} table {path} repeats column(s) {', '.join(duplicates)}; name every column once.")
    for line, row in rows:
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            raise InputError(
                f"{what} table {path} line {line} has {len(row)} cells but the header names {len(header)} columns "
                f"(separator {separator!r}); remove the extra cells or name their column."
            )
    unnamed = [i for i, name in enumerate(header) if not name]
    for index in unnamed:
        if any(index < len(row) and row[index].strip() for _, row in rows):
            raise InputError(
                f"{what} table {path} has a column without a name (column {index + 1}); name it or remove it."
            )
    keep = [i for i, name in enumerate(header) if name]
    rows = [(line, [row[i].strip() if i < len(row) else "" for i in keep]) for line, row in rows]
    if not rows:
        raise InputError(f"{what} table {path} has no rows; add one row per patient.")
    return [header[i] for i in keep], rows


def _kind(name: str, columns: Mapping[str, str], others: str, tableFormat: TableFormat) -> str:
    kind = columns.get(name) or (TEXT if name in tableFormat.textColumns else others)
    if kind not in (*KINDS, "infer"):
        raise ValueError(f"unknown column kind {kind!r}")
    return kind


def _frame(
    path: pathlib.Path,
    what: str,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    kinds: dict[str, str],
    decimal: str,
    asText: bool,
) -> pd.DataFrame:
    import pandas as pd

    problems: list[_Problem] = []
    data = {}
    for index, name in enumerate(header):
        cells = [(line, row[index]) for line, row in rows]
        data[name] = _column(name, cells, kinds[name], decimal, asText, problems)
    if problems:
        raise InputError(_message(path, what, sorted(problems, key=lambda problem: problem.line), decimal))
    return pd.DataFrame(data, columns=header)


def _column(name: str, cells: list[tuple[int, str]], kind: str, decimal: str, asText: bool, problems: list[_Problem]):
    import numpy as np
    import pandas as pd

    filled = [(line, cell) for line, cell in cells if cell.lower() not in MISSING_TOKENS]
    if kind == "infer":
        numeric = [_isNumber(cell, decimal) for _, cell in filled]
        if all(numeric):
            kind = NUMBER
        elif not any(numeric):
            for line, cell in filled:
                reason = _lookalike(cell, decimal)
                if reason:
                    problems.append(_Problem(line, name, cell, reason[0], reason[1]))
            kind = TEXT
        else:
            for (line, cell), isNumber in zip(filled, numeric):
                if not isNumber:
                    reason = _lookalike(cell, decimal) or ("text in a column of numbers", "text")
                    problems.append(_Problem(line, name, cell, reason[0], reason[1]))
            return None
    if kind == TEXT:
        return pd.Series([None if cell.lower() in MISSING_TOKENS else cell for _, cell in cells], dtype=object)
    values: list[float] = []
    for line, cell in cells:
        values.append(_value(name, line, cell, kind, decimal, problems))
    if asText:
        return pd.Series(
            [None if cell.lower() in MISSING_TOKENS else cell.replace(",", ".") for _, cell in cells], dtype=object
        )
    array = np.array(values, dtype=float)
    whole = kind in (INTEGER, EVENT) or (filled and all(_INTEGER.fullmatch(cell) for _, cell in filled))
    if whole and len(filled) == len(cells) and np.isfinite(array).all() and (np.abs(array) < 2**63).all():
        return pd.Series(array.astype(np.int64))
    return pd.Series(array)


def _value(name: str, line: int, cell: str, kind: str, decimal: str, problems: list[_Problem]) -> float:
    """The number of one cell of a numeric column (NaN when missing or bad; bad ones are recorded)."""
    if cell.lower() in MISSING_TOKENS:
        return float("nan")
    if kind == EVENT and cell.lower() in ("true", "false"):
        return 1.0 if cell.lower() == "true" else 0.0
    if not _isNumber(cell, decimal):
        reason = _lookalike(cell, decimal) or (_EVENT_REASON if kind == EVENT else "not a number", "")
        problems.append(_Problem(line, name, cell, reason[0], reason[1]))
        return float("nan")
    value = float(cell.replace(",", "."))
    if kind == INTEGER and not (value == value and value % 1 == 0):
        problems.append(_Problem(line, name, cell, "not a whole number", ""))
    if kind == EVENT and value not in (0.0, 1.0):
        problems.append(_Problem(line, name, cell, _EVENT_REASON, ""))
    return value


def isTableNumber(cell: str, decimal: str = ".") -> bool:
    """Whether ``cell`` (stripped) is a plain number with the decimal mark ``decimal`` (see the module)."""
    return bool(_NUMBERS[decimal].fullmatch(cell) or _INFINITY.fullmatch(cell))


def tableNumber(cell: object, decimal: str = ".") -> float:
    """The number a cell holds, NaN when it is missing or not a plain number (see the module)."""
    if not isinstance(cell, str) or not isTableNumber(cell.strip(), decimal):
        return float("nan")
    return float(cell.strip().replace(",", "."))


def lookalikeReason(cell: str, decimal: str = ".") -> str | None:
    """Why ``cell`` looks like a number written another way (``63,5``, ``12 mm``, ``<5``), or ``None``."""
    reason = _lookalike(cell.strip(), decimal)
    return reason[0] if reason else None


_isNumber = isTableNumber


def _lookalike(cell: str, decimal: str) -> tuple[str, str] | None:
    """Why ``cell`` looks like a number written another way, and which fix applies, or ``None``."""
    if _THOUSANDS.fullmatch(cell):
        return "a thousands separator in a number", "text"
    if decimal == "." and _NUMBERS[","].fullmatch(cell):
        return "a comma in a number (a comma decimal or a thousands separator)", "decimal"
    if decimal == "," and _NUMBERS["."].fullmatch(cell):
        return "a dot in a number, but the table is read with the decimal comma", "dot"
    if _UNIT.fullmatch(cell):
        return "a unit or other text after the number", "text"
    if _SIGN.fullmatch(cell):
        return "a sign before the number (<, >, ~, ±, or a non-ASCII minus)", "text"
    return None


def _message(path: pathlib.Path, what: str, problems: list[_Problem], decimal: str) -> str:
    listed = [f"line {p.line}, column {p.column}: {p.value!r}: {p.reason}" for p in problems[:MAXIMUM_LISTED]]
    if len(problems) > MAXIMUM_LISTED:
        listed.append(f"... and {len(problems) - MAXIMUM_LISTED} more")
    example = "63.5" if decimal == "." else "63,5"
    fixes = [
        f"write plain numbers ({example}: a '{decimal}' decimal mark, no units, thousands separators or signs "
        "such as <), and leave a cell empty (or NA) when the value is missing"
    ]
    hints = {p.hint for p in problems}
    if "decimal" in hints:
        fixes.append("pass --decimal , if the whole file uses comma decimals (tableFormat=TableFormat(decimal=','))")
    if "dot" in hints:
        fixes.append("or read the file with --decimal . if it uses dot decimals")
    if "text" in hints:
        fixes.append("or pass --text-columns COLUMN if a column holds categories rather than numbers (e.g. 2a)")
    return (
        f"{what} table {path} has {len(problems)} cell(s) that do not fit their column, so nothing was read: "
        f"{'; '.join(listed)}. Fix: {'; '.join(fixes)}."
    )


def textColumnsOf(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Column names from ``A,B`` text or a list."""
    if value is None:
        return ()
    names = value.split(",") if isinstance(value, str) else value
    return tuple(name.strip() for name in names if name.strip())
