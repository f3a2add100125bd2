"""One patient of a cohort run as plain data a Dask worker can receive, read from the manifest's rows.

The rows are read here, not with :func:`~VirtualBiopsy.data.manifest.readManifest` (which refuses the whole
file for one bad row): :func:`~VirtualBiopsy.cohort.cohortCheck.checkCohort` has already named every problem,
and a row with a case-level problem becomes a failed case on its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import pathlib
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.cohort.cohortCheck import CohortCheck
from VirtualBiopsy.cohort.ledger import requireSafeCase
from VirtualBiopsy.data.manifest import LABEL_COLUMN, MASK_COLUMN, PATIENT_COLUMN, RESERVED_COLUMNS, SITE_COLUMN
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import sha256File

#: Ledger case ids of the run's cohort-level steps; no patient may have them.
COHORT_CASES = ("cohort.analyses", "cohort.report")


@dataclass(frozen=True)
class CaseTask:
    """What one worker needs to run one patient.

    :ivar patient: the manifest's patient id (a safe file name).
    :ivar site: the manifest's site, or ``None``.
    :ivar images: absolute path of each sequence's file or DICOM series folder.
    :ivar mask: absolute path of the manifest's mask, or ``None``.
    :ivar label: the tumour's value in the mask (``None``: every non-zero voxel).
    :ivar runFolder: the run folder (absolute).
    :ivar settings: the complete pipeline settings (:meth:`PipelineConfig.toDict`).
    :ivar eventFiles: files that receive the case's progress events (JSON lines).
    """

    patient: str
    site: str | None
    images: dict[str, str]
    mask: str | None
    label: int | None
    runFolder: str
    settings: dict[str, Any]
    eventFiles: tuple[str, ...] = field(default_factory=tuple)


def readCaseTasks(
    check: CohortCheck,
    runFolder: pathlib.Path,
    settings: dict[str, Any],
    neededSequences: list[str],
    needsMask: bool,
    eventFiles: tuple[str, ...] = (),
) -> tuple[list[CaseTask], dict[str, str], list[str]]:
    """The tasks of the manifest's patients, ``{patient: reason}`` for those that fail before any compute, and
    every patient in the manifest's order.

    A patient fails here for a case-level problem of the check, an id that cannot name its files, a sequence the
    settings need and the row lacks, or a missing mask when the settings read the manifest's masks.
    """
    path = check.manifestPath
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    header = [cell.strip() for cell in rows[0]]
    sequences = [name for name in dict.fromkeys(header) if name and name not in RESERVED_COLUMNS]
    problems: dict[str, list[str]] = {}
    for problem in check.errors:
        if problem.scope == "case" and problem.patient:
            problems.setdefault(problem.patient, []).append(problem.line())
    tasks: list[CaseTask] = []
    failed: dict[str, str] = {}
    patients: list[str] = []
    for cellsList in rows[1:]:
        cells = {name: (cellsList[i].strip() if i < len(cellsList) else "") for i, name in enumerate(header)}
        patient = cells.get(PATIENT_COLUMN, "")
        if not any(cell.strip() for cell in cellsList) or not patient or patient in failed:
            continue
        patients.append(patient)
        reasons = list(problems.get(patient, []))
        try:
            requireSafeCase(patient)
            if patient in COHORT_CASES:
                raise InputError(f"Patient id {patient!r} is reserved for the run's cohort steps; rename the patient.")
        except InputError as error:
            reasons.append(str(error))
        missing = [name for name in neededSequences if not cells.get(name)]
        if missing:
            reasons.append(
                f"no {', '.join(missing)} image (the settings need {', '.join(neededSequences)}); add the "
                "column or cell, or change segment.sequence / extract.sequences."
            )
        if needsMask and not cells.get(MASK_COLUMN):
            reasons.append("no mask, and segment.source reads the manifest's masks; fill in the mask cell.")
        if reasons:
            failed[patient] = "; ".join(dict.fromkeys(reasons))
            continue
        root = path.parent
        images = {name: str(_absolute(root, cells[name])) for name in sequences if cells.get(name)}
        labelCell = cells.get(LABEL_COLUMN, "")
        tasks.append(
            CaseTask(
                patient=patient,
                site=cells.get(SITE_COLUMN) or None,
                images=images,
                mask=str(_absolute(root, cells[MASK_COLUMN])) if cells.get(MASK_COLUMN) else None,
                label=int(labelCell) if labelCell else None,
                runFolder=str(runFolder.absolute()),
                settings=settings,
                eventFiles=eventFiles,
            )
        )
    return tasks, failed, patients


def inputHash(path: str | pathlib.Path) -> str:
    """SHA-256 of an input: a file's bytes, or for a DICOM series folder the names and hashes of its files."""
    path = pathlib.Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{member.relative_to(path).as_posix()}\0{sha256File(member)}\n".encode())
        return digest.hexdigest()
    return sha256File(path)


def _absolute(root: pathlib.Path, cell: str) -> pathlib.Path:
    path = pathlib.Path(cell).expanduser()
    return (path if path.is_absolute() else root / path).absolute()
