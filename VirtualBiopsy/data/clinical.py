"""Clinical tables: one row per patient with follow-up ``time``, ``event`` and covariates."""

from __future__ import annotations

import os
import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError

#: Required columns of a clinical table.
CLINICAL_COLUMNS = ("patient", "time", "event")
#: At most this many bad rows are listed in one error message.
_MAXIMUM_LISTED = 10


def readClinical(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a clinical table (CSV): ``patient``, ``time`` (> 0), ``event`` (0 or 1), any covariates.

    :returns: the table with ``patient`` as text, ``time`` as float and ``event`` as int.
    :raises InputError: for a missing file or column, or any row with a missing or
        repeated patient, a missing, non-numeric or non-positive time, or an event other
        than 0 or 1 (every bad row is named, with its line and patient).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(
            f"Clinical table not found: {path}. Give the path of a CSV file with columns {', '.join(CLINICAL_COLUMNS)}."
        )
    try:
        table = pd.read_csv(path, dtype={"patient": str, "site": str}, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"Clinical table {path} could not be read as CSV: {error}") from error
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in CLINICAL_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(
            f"Clinical table {path} has no column {', '.join(missing)} (columns: "
            f"{', '.join(table.columns)}); add it: time is the follow-up (> 0), event 1 for an "
            "event and 0 for censored."
        )
    if table.empty:
        raise InputError(f"Clinical table {path} has no rows; add one row per patient.")

    table["patient"] = table["patient"].str.strip()
    time = pd.to_numeric(table["time"], errors="coerce")
    event = pd.to_numeric(table["event"], errors="coerce")
    problems = []
    duplicated = table["patient"].duplicated(keep=False) & table["patient"].notna()
    for index in table.index:
        line, patient = index + 2, table.at[index, "patient"]
        where = f"line {line} (patient {patient})"
        if pd.isna(patient) or patient == "":
            problems.append(f"line {line}: no patient identifier")
        elif duplicated[index]:
            problems.append(f"{where}: patient listed more than once")
        rawTime, rawEvent = table.at[index, "time"], table.at[index, "event"]
        if pd.isna(rawTime):
            problems.append(f"{where}: time is empty")
        elif pd.isna(time[index]):
            problems.append(f"{where}: time {_shown(rawTime)} is not a number")
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


def _shown(value: object) -> str:
    """A cell as the user typed it: text quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)
