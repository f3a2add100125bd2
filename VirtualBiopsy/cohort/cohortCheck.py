"""Check a whole cohort before any compute: every problem of the manifest, its files and the clinical table at once.

:func:`checkCohort` never stops at the first problem and never modifies an input. Each
:class:`CohortProblem` names its manifest row (1-based data row: the line after the header is row 1),
column, cell value and the fix. Cohort-level errors (a broken header, an unreadable clinical table, a path
that leads outside the manifest's folder and the data roots) stop the whole run; case-level errors make only
that patient fail (:meth:`CohortCheck.failingCases`), into ``failures.csv`` (:meth:`CohortCheck.writeCsv`).
A path that leads outside is refused before anything at it is opened.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import pathlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Literal

from VirtualBiopsy.cohort.imageHeaders import ImageHeader, readDicomSeriesHeader, readImageHeader
from VirtualBiopsy.data.manifest import (
    KNOWN_SEQUENCES,
    LABEL_COLUMN,
    MASK_COLUMN,
    PATIENT_COLUMN,
    manifestConfinement,
    readManifestRows,
)
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import PathConfinement, TableFormat, writeTextAtomically
from VirtualBiopsy.imageGeometry import gridDifferences

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CohortCheck", "CohortProblem", "checkCohort"]

Severity = Literal["error", "warning"]
Scope = Literal["cohort", "case"]


@dataclass(frozen=True)
class CohortProblem:
    """One problem found by :func:`checkCohort`.

    :ivar row: 1-based data row of the manifest (the header is not counted), ``None`` for file-level problems.
    :ivar patient: the row's patient identifier, or ``None``.
    :ivar column: the manifest column concerned, or ``None``.
    :ivar value: the cell (or file) as written, or ``None``.
    :ivar message: what is wrong and the fix.
    :ivar severity: ``"error"`` or ``"warning"``.
    :ivar scope: ``"cohort"`` (the run cannot start) or ``"case"`` (only this patient fails).
    """

    row: int | None
    patient: str | None
    column: str | None
    value: str | None
    message: str
    severity: Severity = "error"
    scope: Scope = "case"

    def line(self) -> str:
        """The problem for people, e.g. ``row 7, column FLAIR (VB0007): file not found: …; check the path``."""
        where = ", ".join(
            part
            for part in (f"row {self.row}" if self.row else "", f"column {self.column}" if self.column else "")
            if part
        )
        where = (where or "manifest") + (f" ({self.patient})" if self.patient else "")
        return f"{where}: {'warning: ' if self.severity == 'warning' else ''}{self.message}"


@dataclass
class CohortCheck:
    """Every problem of a cohort.

    :ivar manifestPath: the manifest checked.
    :ivar problems: the problems, in the order found (file-level first, then row by row).
    :ivar confinement: where the manifest's paths may lead (the run's readers use the same).
    :ivar tableFormat: how the clinical table writes its numbers (the run's readers use the same).
    """

    manifestPath: pathlib.Path
    problems: list[CohortProblem] = field(default_factory=list)
    confinement: PathConfinement | None = None
    tableFormat: TableFormat | None = None

    @property
    def ok(self) -> bool:
        """Whether the run can start (no cohort-level error; failing cases fail alone)."""
        return not any(p.severity == "error" and p.scope == "cohort" for p in self.problems)

    @property
    def errors(self) -> list[CohortProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[CohortProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    def failingCases(self) -> list[str]:
        """Patients with a case-level error, in manifest order (each fails alone)."""
        failing = [p.patient for p in self.problems if p.severity == "error" and p.scope == "case" and p.patient]
        return list(dict.fromkeys(failing))

    def lines(self) -> list[str]:
        """One line per problem, for people."""
        return [problem.line() for problem in self.problems]

    def toFrame(self) -> pd.DataFrame:
        """The problems as a table with one column per :class:`CohortProblem` field."""
        import pandas as pd

        return pd.DataFrame([asdict(p) for p in self.problems], columns=[f.name for f in fields(CohortProblem)])

    def writeCsv(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the problems as CSV (``failures.csv`` style), atomically; returns the path."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([f.name for f in fields(CohortProblem)])
        for problem in self.problems:
            writer.writerow(["" if value is None else value for value in asdict(problem).values()])
        return writeTextAtomically(buffer.getvalue(), pathlib.Path(path))


def checkCohort(
    manifestPath: str | os.PathLike,
    clinicalPath: str | os.PathLike | None = None,
    allowOutsidePaths: bool = False,
    readHeaders: bool = True,
    dataRoots: Iterable[str | os.PathLike] = (),
    tableFormat: TableFormat | None = None,
) -> CohortCheck:
    """Check a manifest, every file it names and the clinical table, listing every problem.

    :param manifestPath: the cohort manifest (CSV: ``patient``, ``site``, one column per sequence, ``mask``).
    :param clinicalPath: the clinical table to match against the manifest, if any.
    :param allowOutsidePaths: accept paths that leave the manifest's folder (after resolving ``..`` and symlinks).
    :param readHeaders: open image headers (never voxels) and DICOM folders; if false, check paths only.
    :param dataRoots: folders besides the manifest's that its paths may lead into.
    :param tableFormat: how the clinical table writes its numbers (``--decimal``, ``--text-columns``).
    :returns: the problems found (none means the cohort is ready).
    """
    check = CohortCheck(manifestPath=pathlib.Path(manifestPath).expanduser().resolve(), tableFormat=tableFormat)
    add = check.problems.append

    def fileError(message: str) -> CohortCheck:
        add(CohortProblem(None, None, None, str(manifestPath), message, "error", "cohort"))
        return check

    try:
        manifest = readManifestRows(check.manifestPath)
        confinement = check.confinement = manifestConfinement(manifest, dataRoots, allowOutsidePaths)
    except InputError as error:
        return fileError(str(error))
    header = manifest.header
    sequences = manifest.sequences
    _checkHeader(header, sequences, add)
    if PATIENT_COLUMN not in header or not sequences:
        return check

    firstRow: dict[str, int] = {}
    manifestPatients: dict[str, int] = {}
    for line, cellsList, cells in manifest.rows:
        row = line - 1
        patient = cells[PATIENT_COLUMN] or None

        def caseError(column: str | None, value: str | None, message: str) -> None:
            add(CohortProblem(row, patient, column, value, message))

        if len(cellsList) > len(header):
            caseError(None, None, f"{len(cellsList)} cells but {len(header)} columns; remove the extra cells.")
        if patient is None:
            caseError(PATIENT_COLUMN, "", "no patient identifier; fill in the 'patient' cell.")
        elif patient in firstRow:
            caseError(
                PATIENT_COLUMN,
                patient,
                f"patient listed twice (rows {firstRow[patient]} and {row}); give every patient one row.",
            )
        else:
            firstRow[patient] = manifestPatients[patient] = row
        headers: dict[str, ImageHeader] = {}
        for column in [*sequences, MASK_COLUMN]:
            value = cells.get(column, "")
            if value:
                report = functools.partial(caseError, column, value)
                where = f"{check.manifestPath.name} line {line}"
                outside = functools.partial(_outsideError, add, row, patient, column, value, where)
                found = _checkCell(confinement, value, readHeaders, report, outside)
                if found is not None:
                    headers[column] = found
        if not any(cells.get(name) for name in sequences):
            caseError(None, None, f"no image in any sequence column ({', '.join(sequences)}); fill in one path.")
        labelCell = cells.get(LABEL_COLUMN, "")
        if labelCell and not (labelCell.isdigit() and int(labelCell) >= 1):
            caseError(LABEL_COLUMN, labelCell, "label is not a positive whole number; fix the cell (e.g. 1).")
        _checkRowConsistency(headers, sequences, caseError)

    if clinicalPath is not None:
        _checkClinical(pathlib.Path(clinicalPath), manifestPatients, add, tableFormat)
    return check


def _outsideError(
    add: Callable[[CohortProblem], None],
    row: int,
    patient: str | None,
    column: str,
    value: str,
    where: str,
    message: str,
) -> None:
    """A path that leads outside: the run cannot start (the fix is the run's options, not one patient's data)."""
    add(CohortProblem(row, patient, column, value, f"{where}: {message}", "error", "cohort"))


def _checkHeader(header: list[str], sequences: list[str], add: Callable[[CohortProblem], None]) -> None:
    def cohortError(column: str | None, message: str) -> None:
        add(CohortProblem(None, None, column, column, message, "error", "cohort"))

    for name in sorted({name for name in header if name and header.count(name) > 1}):
        cohortError(name, "column named more than once; name every column once.")
    if "" in header:
        cohortError(None, f"column {header.index('') + 1} has no name; name it or remove it.")
    for required in (PATIENT_COLUMN, MASK_COLUMN):
        if required not in header:
            cohortError(required, f"no '{required}' column (columns: {', '.join(header)}); add it.")
    if not sequences:
        cohortError(
            None, f"no sequence column; add one column per image sequence, e.g. {', '.join(KNOWN_SEQUENCES[:4])}."
        )
    for name in sequences:
        if name not in KNOWN_SEQUENCES:
            add(
                CohortProblem(
                    None,
                    None,
                    name,
                    name,
                    f"unknown sequence '{name}' (known: {', '.join(KNOWN_SEQUENCES)}); rename the column if it is one "
                    "of them, otherwise the pipeline uses it as it is.",
                    "warning",
                    "cohort",
                )
            )


def _checkCell(
    confinement: PathConfinement,
    value: str,
    readHeaders: bool,
    report: Callable[[str], None],
    outside: Callable[[str], None],
) -> ImageHeader | None:
    """Check one path cell; report each problem; return the image's header when it could be read."""
    root = confinement.folder
    try:
        resolved = confinement.resolve(value)
    except InputError as error:
        report(str(error))
        return None
    if not confinement.allows(resolved):
        outside(
            f"path leaves the manifest's folder: '{value}' resolves to {resolved}, outside {confinement.places()}; "
            f"it was not opened. {confinement.fix()}"
        )
        return None
    if not resolved.exists():
        report(f"file not found: {resolved}; check the path (relative to {root}).")
        return None
    if not readHeaders:
        return None
    try:
        from VirtualBiopsy.cohort.manifestMasks import isDicomMask

        if resolved.is_dir():
            return readDicomSeriesHeader(resolved)
        if isDicomMask(resolved):  # its grid is its series': checked when the case rasterises it
            return ImageHeader()
        return readImageHeader(resolved)
    except InputError as error:
        report(str(error))
        return None
    except RuntimeError:
        report(
            f"file unreadable as an image: {resolved} (SimpleITK cannot read its header); check that it is a "
            "complete NIfTI, NRRD, MHA or DICOM file."
        )
        return None


def _checkRowConsistency(
    headers: dict[str, ImageHeader], sequences: list[str], caseError: Callable[[str | None, str | None, str], None]
) -> None:
    """Images of one row: same DICOM PatientID, mask on the grid of the first sequence."""
    byPatient: dict[str, list[str]] = {}
    for column, found in headers.items():
        if found.patientId is not None:
            byPatient.setdefault(found.patientId, []).append(column)
    if len(byPatient) > 1:
        groups = " vs ".join(" and ".join(columns) for columns in byPatient.values())
        caseError(
            None,
            None,
            f"images of different patients mixed: the DICOM PatientIDs of {groups} differ; "
            "check that every path of this row belongs to this patient.",
        )
    reference = next((name for name in sequences if name in headers and headers[name].grid is not None), None)
    mask = headers.get(MASK_COLUMN)
    if reference is not None and mask is not None and mask.grid is not None:
        grid = headers[reference].grid
        assert grid is not None
        differences = gridDifferences(grid, mask.grid, what="mask")
        if differences:
            caseError(
                MASK_COLUMN,
                None,
                f"mask not on the grid of {reference}: {'; '.join(differences)}; resample the mask onto {reference} "
                "or use the mask that belongs to this image.",
            )


def _checkClinical(
    path: pathlib.Path,
    manifestPatients: dict[str, int],
    add: Callable[[CohortProblem], None],
    tableFormat: TableFormat | None,
) -> None:
    from VirtualBiopsy.data.clinical import readClinical

    try:
        table = readClinical(path, tableFormat)
    except InputError as error:
        add(CohortProblem(None, None, None, str(path), str(error), "error", "cohort"))
        return
    clinical = [str(patient) for patient in table["patient"]]
    for line, patient in zip(table.attrs["lines"], clinical):
        if patient not in manifestPatients:
            add(
                CohortProblem(
                    None,
                    patient,
                    PATIENT_COLUMN,
                    patient,
                    f"clinical table {path.name} line {line} has no images: the patient is not in the manifest; "
                    "add a manifest row or remove the clinical row.",
                    "warning",
                    "case",
                )
            )
    known = set(clinical)
    for patient, row in manifestPatients.items():
        if patient not in known:
            add(
                CohortProblem(
                    row,
                    patient,
                    PATIENT_COLUMN,
                    patient,
                    f"no clinical row in {path.name}; add one (patient, time, event) or leave the patient out of "
                    "outcome models.",
                    "warning",
                    "case",
                )
            )
