"""One patient of a cohort run as plain data a Dask worker can receive, read from the manifest's rows.

The rows come from :func:`~VirtualBiopsy.data.manifest.readManifestRows` (as every manifest reader's do), not
:func:`~VirtualBiopsy.data.manifest.readManifest` (which refuses the whole file for one bad row):
:func:`~VirtualBiopsy.cohort.cohortCheck.checkCohort` has already named every problem, and a row with a
case-level problem becomes a failed case on its own. Paths are confined as the check confined them.
"""

from __future__ import annotations

import hashlib
import pathlib
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.cohort.cohortCheck import CohortCheck
from VirtualBiopsy.cohort.ledger import requireSafeCase
from VirtualBiopsy.data.manifest import LABEL_COLUMN, MASK_COLUMN, PATIENT_COLUMN, SITE_COLUMN, readManifestRows
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import PathConfinement, sha256File

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
    settings need and the row lacks, a missing mask when the settings read the manifest's masks, or a path that
    leads outside the check's :attr:`~VirtualBiopsy.cohort.cohortCheck.CohortCheck.confinement`.
    """
    manifest = readManifestRows(check.manifestPath)
    confinement = check.confinement or PathConfinement.of(manifest.path.parent)
    sequences = manifest.sequences
    problems: dict[str, list[str]] = {}
    for problem in check.errors:
        if problem.scope == "case" and problem.patient:
            problems.setdefault(problem.patient, []).append(problem.line())
    tasks: list[CaseTask] = []
    failed: dict[str, str] = {}
    patients: list[str] = []
    for line, _, cells in manifest.rows:
        patient = cells.get(PATIENT_COLUMN, "")
        if not patient or patient in failed:
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
        paths: dict[str, str] = {}
        for name in [*sequences, MASK_COLUMN]:
            if cells.get(name):
                try:
                    where = f"{manifest.path.name} line {line}, column {name}"
                    paths[name] = str(confinement.confined(cells[name], where))
                except InputError as error:
                    reasons.append(str(error))
        if reasons:
            failed[patient] = "; ".join(dict.fromkeys(reasons))
            continue
        images = {name: paths[name] for name in sequences if name in paths}
        labelCell = cells.get(LABEL_COLUMN, "")
        tasks.append(
            CaseTask(
                patient=patient,
                site=cells.get(SITE_COLUMN) or None,
                images=images,
                mask=paths.get(MASK_COLUMN),
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
