"""Clinical tables: one row per patient with follow-up ``time``, ``event`` and covariates.

Read with :func:`~VirtualBiopsy.files.tables.readTable`: ``patient`` and ``site`` are text, every covariate is a
number or text, strictly (a comma decimal, a unit or text among numbers is an error naming the cell).
"""

from __future__ import annotations

import os
import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files.tables import TEXT, TableFormat, isTableNumber, lookalikeReason, readTable, tableNumber

#: Required columns of a clinical table.
CLINICAL_COLUMNS = ("patient", "time", "event")
#: At most this many bad rows are listed in one error message.
_MAXIMUM_LISTED = 10


def readClinical(path: str | os.PathLike, tableFormat: TableFormat | None = None) -> pd.DataFrame:
    """Read and check a clinical table (CSV): ``patient``, ``time`` (> 0), ``event`` (0 or 1), any covariates.

    :param tableFormat: the decimal mark and text columns (``None``: a dot decimal, no text columns).
    :returns: the table with ``patient`` (and ``site``) as text, ``time`` as float and ``event`` as int.
    :raises InputError: for a missing file or column, a covariate cell that is not what its column holds, or any
        row with a missing or repeated patient, a missing, non-numeric or non-positive time, or an event other
        than 0 or 1 (every bad row is named, with its line and patient).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(
            f"Clinical table not found: {path}. Give the path of a CSV file with columns {', '.join(CLINICAL_COLUMNS)}."
        )
    schema = {"patient": TEXT, "site": TEXT, "time": TEXT, "event": TEXT}
    table = readTable(path, "Clinical", schema, tableFormat=tableFormat)
    decimal = table.attrs["tableFormat"]["decimal"]
    missing = [column for column in CLINICAL_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(
            f"Clinical table {path} has no column {', '.join(missing)} (columns: "
            f"{', '.join(table.columns)}); add it: time is the follow-up (> 0), event 1 for an "
            "event and 0 for censored."
        )
    if table.empty:
        raise InputError(f"Clinical table {path} has no rows; add one row per patient.")

    time = pd.Series([tableNumber(cell, decimal) for cell in table["time"]], index=table.index, dtype=float)
    event = pd.Series([_event(cell, decimal) for cell in table["event"]], index=table.index, dtype=float)
    problems = []
    duplicated = table["patient"].duplicated(keep=False) & table["patient"].notna()
    lines = table.attrs["lines"]
    for index in table.index:
        line, patient = lines[index], table.at[index, "patient"]
        where = f"line {line} (patient {patient})"
        if pd.isna(patient) or patient == "":
            problems.append(f"line {line}: no patient identifier")
        elif duplicated[index]:
            problems.append(f"{where}: patient listed more than once")
        rawTime, rawEvent = table.at[index, "time"], table.at[index, "event"]
        if pd.isna(rawTime):
            problems.append(f"{where}: time is empty")
        elif pd.isna(time[index]):
            problems.append(f"{where}: time {_shown(rawTime)} is not a number{_hint(rawTime, decimal)}")
        elif not (0 < time[index] < float("inf")):
            problems.append(f"{where}: time {rawTime} is not positive and finite")
        if pd.isna(rawEvent):
            problems.append(f"{where}: event is empty")
        elif event[index] not in (0, 1):
            problems.append(f"{where}: event {_shown(rawEvent)} is not 0 or 1")
    if problems:
        listed = problems[:_MAXIMUM_LISTED] + (
            [f"... and {len(problems) - _MAXIMUM_LISTED} more"] if len(problems) > _MAXIMUM_LISTED else []
        )
        raise InputError(
            f"Clinical table {path} has {len(problems)} bad value(s); fix them (time > 0 in any "
            "unit, event 1 = event, 0 = censored, one row per patient):\n  " + "\n  ".join(listed)
        )
    table["time"] = time.astype(float)
    table["event"] = event.astype(int)
    return table


def _event(cell: object, decimal: str) -> float:
    """An event cell: 0 or 1 (``true``/``false`` read as 1/0); NaN when missing or not a number."""
    if isinstance(cell, str) and cell.lower() in ("true", "false"):
        return 1.0 if cell.lower() == "true" else 0.0
    return tableNumber(cell, decimal)


def _shown(value: object) -> str:
    """A cell as the user typed it: a plain number plain, other text quoted."""
    return str(value) if isTableNumber(str(value), ".") else repr(str(value))


def _hint(value: object, decimal: str) -> str:
    """The fix for a number written another way (a comma decimal, a unit), or nothing."""
    reason = lookalikeReason(str(value), decimal)
    fix = "write a plain number, or pass --decimal , if the whole file uses comma decimals"
    return f" ({reason}; {fix})" if reason else ""
