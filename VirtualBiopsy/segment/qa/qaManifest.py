"""Cohort manifests of segmentation QA: one row per case.

Columns: ``patient``, ``prediction``, one or more reference columns (every column
whose name starts with ``reference``: ``reference``, ``reference_rater2``, ...; the
column name is the rater's name) and an optional ``probabilities`` column; other
columns are ignored. Paths are relative to the manifest's folder. An empty
reference cell means that rater did not segment the case. A case whose files are
missing is kept with its problems, so that a batch records it and goes on.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import pathlib
from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

PATIENT, PREDICTION, PROBABILITIES, REFERENCE_PREFIX = "patient", "prediction", "probabilities", "reference"


@dataclass
class QaCase:
    """One row of a QA manifest.

    :ivar references: absolute reference paths by rater (column) name, only the non-empty cells, in column order.
    :ivar problems: what is wrong with the case (missing files, no reference); empty when usable.
    """

    patient: str
    prediction: pathlib.Path | None
    references: dict[str, pathlib.Path]
    probabilities: pathlib.Path | None = None
    line: int = 0
    problems: list[str] = field(default_factory=list)


def readQaManifest(path: str | os.PathLike) -> list[QaCase]:
    """Read a QA manifest (see the module).

    :raises InputError: for a missing or unreadable file, a missing ``patient``, ``prediction`` or reference
        column, a repeated column or patient, a row without a patient, or no rows.
    """
    path = pathlib.Path(path).expanduser().resolve()
    if not path.is_file():
        raise InputError(
            f"QA manifest not found: {path}. Give a CSV file with the columns patient, prediction, "
            "reference (more reference_* columns for more raters) and optionally probabilities."
        )
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"QA manifest {path} could not be read as UTF-8 CSV: {error}") from error
    header = [cell.strip() for cell in rows[0]] if rows else []
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        raise InputError(f"QA manifest {path} repeats column(s) {', '.join(duplicates)}; name every column once.")
    raters = [name for name in header if name.startswith(REFERENCE_PREFIX)]
    missing = [name for name in (PATIENT, PREDICTION) if name not in header] + ([] if raters else ["reference"])
    if missing:
        raise InputError(
            f"QA manifest {path} has no {', '.join(repr(m) for m in missing)} column (columns: "
            f"{', '.join(header) or 'none'}); the header must name patient, prediction and reference "
            "(reference_<rater> columns for more raters)."
        )
    ignored = [name for name in header if name not in (PATIENT, PREDICTION, PROBABILITIES) and name not in raters]
    if ignored:
        logger.info("QA manifest %s: columns ignored: %s", path, ", ".join(ignored))
    cases: list[QaCase] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise InputError(
                f"QA manifest {path} line {line} has {len(row)} cells but the header names "
                f"{len(header)} columns; remove the extra cells or name their column."
            )
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        patient = cells[PATIENT]
        if not patient:
            raise InputError(f"QA manifest {path} line {line} has no patient identifier; fill in its 'patient' cell.")
        if patient in seen:
            raise InputError(
                f"QA manifest {path} lists patient '{patient}' twice (lines {seen[patient]} and {line}); "
                "give every case one row."
            )
        seen[patient] = line
        cases.append(_case(path.parent, line, patient, cells, raters))
    if not cases:
        raise InputError(f"QA manifest {path} has a header but no cases; add one row per case.")
    return cases


def _case(root: pathlib.Path, line: int, patient: str, cells: dict[str, str], raters: list[str]) -> QaCase:
    problems: list[str] = []

    def resolve(column: str) -> pathlib.Path | None:
        if not cells.get(column):
            return None
        candidate = pathlib.Path(cells[column]).expanduser()
        resolved = candidate if candidate.is_absolute() else root / candidate
        if not resolved.is_file():
            problems.append(f"{column} file not found: {resolved}; fix the path (relative to {root}) or add the file.")
        return resolved

    prediction = resolve(PREDICTION)
    if prediction is None:
        problems.append("no prediction; fill in the 'prediction' cell.")
    references = {rater: path for rater in raters if (path := resolve(rater)) is not None}
    if not references:
        problems.append(f"no reference in any of the columns {', '.join(raters)}; fill in at least one.")
    return QaCase(patient, prediction, references, resolve(PROBABILITIES), line, problems)
