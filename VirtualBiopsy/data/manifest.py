"""Cohort manifests and clinical tables.

A manifest is a CSV file with one row per patient: ``patient``, an optional
``site``, one column per sequence (any other column: ``T1c``, ``T2``, ``FLAIR``,
``DWI``, ``DCE``, ``ADC``, ``T1``, ...) and ``mask`` (the ground-truth label map).
Paths are relative to the manifest's folder (absolute paths are kept as they
are). An empty sequence cell means the patient has no such image; an empty
``mask`` cell, no ground truth.

Every path must lead (after ``..`` and symbolic links are resolved) into the
manifest's folder or a data root the user names (``dataRoots``, ``--data-root``),
unless the user allows any path (``allowOutsidePaths``, ``--allow-outside-paths``);
a path that leads elsewhere is refused before anything is opened
(:class:`~VirtualBiopsy.files.paths.PathConfinement`). Code that reads again a
manifest it wrote itself from checked cases says so (``allowOutsidePaths=True``).

Structural problems (missing file or columns, duplicate patients, paths outside)
raise :class:`~VirtualBiopsy.errors.InputError`. Files that a row names but that do
not exist are recorded on the case (:attr:`CohortCase.problems`) so that a batch
can skip that patient; :meth:`Cohort.validate` lists them all with the fix.
:func:`readClinical` (from :mod:`.clinical`) reads the matching clinical table.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import pathlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.data.clinical import readClinical
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import PathConfinement, writeTextAtomically

__all__ = ["Cohort", "CohortCase", "ManifestRows", "readClinical", "readManifest", "readManifestRows", "writeManifest"]

logger = logging.getLogger(__name__)

#: Columns that are not sequences.
PATIENT_COLUMN, SITE_COLUMN, MASK_COLUMN, LABEL_COLUMN = "patient", "site", "mask", "label"
RESERVED_COLUMNS = (PATIENT_COLUMN, SITE_COLUMN, MASK_COLUMN, LABEL_COLUMN)
#: Sequence names the pipeline knows; other sequence columns are accepted with a log message.
KNOWN_SEQUENCES = ("T1c", "T1", "T2", "FLAIR", "DWI", "ADC", "DCE")


@dataclass
class CohortCase:
    """One patient of a manifest.

    :ivar patient: patient identifier.
    :ivar site: acquisition site, or ``None`` when the manifest has no ``site`` column or the cell is empty.
    :ivar sequences: absolute image paths by sequence name (only the non-empty cells).
    :ivar mask: absolute path of the ground-truth label map, or ``None``.
    :ivar label: the tumour's value in the mask from the optional ``label`` column, or ``None``.
    :ivar line: line of the manifest this case comes from (the header is line 1).
    :ivar problems: what is wrong with this case (e.g. a file that does not exist); empty when usable.
    """

    patient: str
    site: str | None
    sequences: dict[str, pathlib.Path]
    mask: pathlib.Path | None
    label: int | None = None
    line: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file the case names exists."""
        return not self.problems


@dataclass
class Cohort:
    """A manifest's patients.

    :ivar path: the manifest file (absolute).
    :ivar sequences: the sequence columns, in file order.
    :ivar cases: one :class:`CohortCase` per row, in file order.
    """

    path: pathlib.Path
    sequences: list[str]
    cases: list[CohortCase]

    @property
    def root(self) -> pathlib.Path:
        """The folder that relative paths are resolved against."""
        return self.path.parent

    @property
    def patients(self) -> list[str]:
        return [case.patient for case in self.cases]

    @property
    def validCases(self) -> list[CohortCase]:
        """The cases without problems."""
        return [case for case in self.cases if case.ok]

    def case(self, patient: str) -> CohortCase:
        """The case of ``patient``.

        :raises InputError: if the manifest has no such patient.
        """
        for case in self.cases:
            if case.patient == patient:
                return case
        raise InputError(f"Patient '{patient}' is not in manifest {self.path}; it lists: {', '.join(self.patients)}.")

    def validate(self) -> list[str]:
        """Every problem of every case, each with the fix (empty when the cohort is usable)."""
        return [
            f"{self.path.name} line {case.line}, patient {case.patient}: {problem}"
            for case in self.cases
            for problem in case.problems
        ]

    def requireValid(self) -> None:
        """Raise :class:`InputError` listing every problem, if there is any."""
        problems = self.validate()
        if problems:
            raise InputError(f"Manifest {self.path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class ManifestRows:
    """A manifest's cells, before any check of what they say (shared by every manifest reader).

    :ivar path: the manifest (absolute, resolved).
    :ivar header: the column names, stripped.
    :ivar rows: ``(line, cells, byColumn)`` per non-blank row: the line (the header is line 1), the raw cells, and
        the stripped cell of every column (empty for missing trailing cells).
    :ivar content: the file's bytes (what was read is what was checked).
    """

    path: pathlib.Path
    header: list[str]
    rows: list[tuple[int, list[str], dict[str, str]]]
    content: bytes

    @property
    def sequences(self) -> list[str]:
        """The sequence columns, in file order (named once, not reserved)."""
        return [name for name in dict.fromkeys(self.header) if name and name not in RESERVED_COLUMNS]


def readManifestRows(path: str | os.PathLike) -> ManifestRows:
    """Read a manifest's header and non-blank rows.

    :raises InputError: for a missing file, one that is not UTF-8 CSV text, or an empty first line.
    """
    path = pathlib.Path(path).expanduser().resolve()
    if not path.is_file():
        raise InputError(
            f"Cohort manifest not found: {path}. Give the path of an existing CSV file "
            "(columns: patient, site, one per sequence, mask)."
        )
    try:
        content = path.read_bytes()
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(
            f"Cohort manifest {path} could not be read as UTF-8 CSV text ({error}); save it as 'CSV UTF-8'."
        ) from error
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError(
            f"Cohort manifest {path} is empty; its first line must name the columns "
            "(patient, site, one per sequence, mask)."
        )
    header = [cell.strip() for cell in rows[0]]
    cells = [
        (line, row, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)})
        for line, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]
    return ManifestRows(path, header, cells, content)


def manifestConfinement(
    manifest: ManifestRows,
    dataRoots: Iterable[str | os.PathLike] | None = None,
    allowOutsidePaths: bool | None = None,
) -> PathConfinement:
    """Where ``manifest``'s paths may lead: its own folder, the ``dataRoots``, or anywhere with ``allowOutsidePaths``.

    :raises InputError: for a data root that is not a folder.
    """
    return PathConfinement.of(manifest.path.parent, dataRoots or (), bool(allowOutsidePaths))


def readManifest(
    path: str | os.PathLike,
    dataRoots: Iterable[str | os.PathLike] | None = None,
    allowOutsidePaths: bool | None = None,
) -> Cohort:
    """Read and check a cohort manifest.

    :param dataRoots: folders besides the manifest's that its paths may lead into.
    :param allowOutsidePaths: accept paths that lead anywhere (the user trusts the manifest).
        With neither option given, only the manifest's folder.
    :raises InputError: if the file is missing or unreadable, lacks the ``patient`` or
        ``mask`` column or any sequence column, repeats a column or a patient, has
        a row without a patient or with more cells than columns, or names a path that
        leads outside (every such cell listed, none opened).
    """
    manifest = readManifestRows(path)
    path, header = manifest.path, manifest.header
    _checkHeader(path, header)
    sequences = [name for name in header if name not in RESERVED_COLUMNS]
    unknown = [name for name in sequences if name not in KNOWN_SEQUENCES]
    if unknown:
        logger.info("Manifest %s has sequence columns the pipeline does not know: %s", path, ", ".join(unknown))
    confinement = manifestConfinement(manifest, dataRoots, allowOutsidePaths)

    seen: dict[str, int] = {}
    for line, row, cells in manifest.rows:
        if len(row) > len(header):
            raise InputError(
                f"Cohort manifest {path} line {line} has {len(row)} cells but the header names "
                f"{len(header)} columns; remove the extra cells or name their column."
            )
        patient = cells[PATIENT_COLUMN]
        if not patient:
            raise InputError(
                f"Cohort manifest {path} line {line} has no patient identifier; fill in its 'patient' cell."
            )
        if patient in seen:
            raise InputError(
                f"Cohort manifest {path} lists patient '{patient}' twice (lines {seen[patient]} and "
                f"{line}); give every patient one row with a unique identifier."
            )
        seen[patient] = line
    if not manifest.rows:
        raise InputError(f"Cohort manifest {path} has a header but no patients; add one row per patient.")
    _refuseOutsidePaths(manifest, [*sequences, MASK_COLUMN], confinement)
    cases = [_readCase(confinement, line, cells, sequences) for line, _, cells in manifest.rows]
    return Cohort(path=path, sequences=sequences, cases=cases)


def _refuseOutsidePaths(manifest: ManifestRows, columns: list[str], confinement: PathConfinement) -> None:
    """Raise :class:`InputError` listing every cell whose path leads outside, before any file is opened."""
    refused = []
    for line, _, cells in manifest.rows:
        for column in columns:
            if cells.get(column):
                resolved = confinement.resolve(cells[column])
                if not confinement.allows(resolved):
                    refused.append(f"line {line}, column {column}: '{cells[column]}' resolves to {resolved}")
    if refused:
        listed = refused[:5] + ([f"... and {len(refused) - 5} more"] if len(refused) > 5 else [])
        raise InputError(
            f"Cohort manifest {manifest.path} names {len(refused)} path(s) outside {confinement.places()}, so "
            f"none was opened: {'; '.join(listed)}. {confinement.fix()}"
        )


def _checkHeader(path: pathlib.Path, header: list[str]) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(f"Cohort manifest {path} repeats column(s) {', '.join(duplicates)}; name every column once.")
    if "" in header:
        raise InputError(
            f"Cohort manifest {path} has a column without a name (column {header.index('') + 1}); name it or remove it."
        )
    for required in (PATIENT_COLUMN, MASK_COLUMN):
        if required not in header:
            raise InputError(
                f"Cohort manifest {path} has no '{required}' column (columns: {', '.join(header)}); "
                f"add it: the header must name patient, one column per sequence and mask."
            )
    if not [name for name in header if name not in RESERVED_COLUMNS]:
        raise InputError(
            f"Cohort manifest {path} has no sequence column (columns: {', '.join(header)}); add one "
            f"column per image sequence, e.g. {', '.join(KNOWN_SEQUENCES[:4])}."
        )


def _readCase(confinement: PathConfinement, line: int, cells: dict[str, str], sequences: list[str]) -> CohortCase:
    """One row's case; its paths were checked by :func:`_refuseOutsidePaths`."""
    root = confinement.folder
    problems = []
    images = {}
    for name in sequences:
        if cells[name]:
            images[name] = confinement.resolve(cells[name])
            if not images[name].is_file():
                problems.append(
                    f"{name} image not found: {images[name]}; fix the path (relative to {root}) or add the file."
                )
    if not images:
        problems.append(f"no image in any sequence column ({', '.join(sequences)}); fill in at least one path.")
    mask = confinement.resolve(cells[MASK_COLUMN]) if cells[MASK_COLUMN] else None
    if mask is not None and not mask.is_file():
        problems.append(f"mask not found: {mask}; fix the path (relative to {root}) or add the file.")
    label = None
    labelCell = cells.get(LABEL_COLUMN) or ""
    if labelCell.isdigit() and int(labelCell) >= 1:
        label = int(labelCell)
    elif labelCell:
        problems.append(f"label '{labelCell}' is not a positive whole number; fix the 'label' cell (e.g. 1).")
    return CohortCase(
        patient=cells[PATIENT_COLUMN],
        site=cells.get(SITE_COLUMN) or None,
        sequences=images,
        mask=mask,
        label=label,
        line=line,
        problems=problems,
    )


def writeManifest(
    cohort: Cohort | Iterable[Mapping[str, object]],
    path: str | os.PathLike,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write a manifest, with paths relative to its folder where possible.

    :param cohort: a :class:`Cohort`, or rows with ``patient``, optionally ``site``,
        one key per sequence (path or empty) and ``mask`` (path, empty or ``None``).
    :param overwrite: replace an existing file (otherwise refuse).
    :returns: the manifest path. This process reads it back with any path allowed while it is unchanged.
    :raises InputError: if the file exists (and ``overwrite`` is false), or for rows
        without a patient, with duplicate patients or without any sequence.
    """
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"Manifest {path} already exists; choose another path or pass overwrite=True.")
    rows: list[dict[str, Any]]  # cells: text, paths or None
    if isinstance(cohort, Cohort):
        rows = [
            {PATIENT_COLUMN: case.patient, SITE_COLUMN: case.site, **case.sequences, MASK_COLUMN: case.mask}
            for case in cohort.cases
        ]
    else:
        rows = [dict(row) for row in cohort]
    columns = [PATIENT_COLUMN]
    if any(row.get(SITE_COLUMN) for row in rows):
        columns.append(SITE_COLUMN)
    for row in rows:
        columns += [key for key in row if key not in RESERVED_COLUMNS and key not in columns]
    columns.append(MASK_COLUMN)
    if not [column for column in columns if column not in RESERVED_COLUMNS]:
        raise InputError(f"Manifest rows for {path} have no sequence column; give each row at least one image path.")
    seen = set()
    for number, row in enumerate(rows, start=1):
        patient = str(row.get(PATIENT_COLUMN) or "").strip()
        if not patient:
            raise InputError(f"Manifest row {number} has no 'patient'; give every row a patient identifier.")
        if patient in seen:
            raise InputError(f"Manifest rows repeat patient '{patient}'; give every patient one row.")
        seen.add(patient)

    root = path.resolve().parent
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(root, column, row.get(column)) for column in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    return writeTextAtomically(buffer.getvalue(), path)


def _cell(root: pathlib.Path, column: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if column in (PATIENT_COLUMN, SITE_COLUMN):
        return str(value).strip()
    target = pathlib.Path(value)
    if target.is_absolute():
        try:
            target = pathlib.Path(os.path.relpath(target, root))
        except ValueError:
            return target.as_posix()
    return target.as_posix()
