"""A cohort's crops (from a manifest) and a binary target (from a clinical CSV), for training and deep features."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.manifest import readManifest
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.deep.crops import Crop, makeCrop
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


def cohortSequences(
    manifestPath: str | os.PathLike,
    dataRoots: Iterable[str | os.PathLike] | None = None,
    allowOutsidePaths: bool | None = None,
) -> list[str]:
    """The manifest's sequence columns, in file order (its paths confined as :func:`readManifest` does)."""
    return list(readManifest(manifestPath, dataRoots, allowOutsidePaths).sequences)


def cohortCrops(
    manifestPath: str | os.PathLike,
    channels: Sequence[str],
    size: int,
    spacing: float,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    dataRoots: Iterable[str | os.PathLike] | None = None,
    allowOutsidePaths: bool | None = None,
) -> dict[str, Crop]:
    """The tumour-centred crop of every patient of a cohort manifest, by patient, in manifest order.

    :param dataRoots: folders besides the manifest's that its paths may lead into; :param allowOutsidePaths:
        accept any path.
    :raises InputError: for an invalid manifest or a path outside, a case without mask or a missing sequence
        (naming the patient).
    """
    progress = progress or noProgress
    cohort = readManifest(manifestPath, dataRoots, allowOutsidePaths)
    cohort.requireValid()
    missing = [name for name in channels if name.lower() not in {s.lower() for s in cohort.sequences}]
    if missing:
        raise InputError(
            f"Manifest {cohort.path} has no column for sequence(s) {', '.join(missing)} (it has "
            f"{', '.join(cohort.sequences)}); choose sequences it lists, e.g. --sequences "
            f"{','.join(cohort.sequences[:2])}."
        )
    crops = {}
    for index, case in enumerate(cohort.cases):
        if cancel is not None:
            cancel.raiseIfCancelled()
        progress(index / len(cohort.cases), f"crop of {case.patient} ({index + 1}/{len(cohort.cases)})")
        if case.mask is None:
            raise InputError(
                f"Patient {case.patient} has no mask in {cohort.path}; the crop is centred on the "
                "tumour, so give every case a mask (ground truth or a reviewed segmentation)."
            )
        images = {name: _read(path, case.patient, name) for name, path in case.sequences.items()}
        mask = _read(case.mask, case.patient, "mask")
        if case.label is not None:
            mask = sitk.Cast(mask == case.label, sitk.sitkUInt8)
        try:
            crops[case.patient] = makeCrop(images, mask, channels, size, spacing)
        except InputError as error:
            raise type(error)(f"Patient {case.patient}: {error}") from error
    progress(1.0, f"{len(crops)} crops")
    return crops


def readTargets(clinicalPath: str | os.PathLike, column: str, patients: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The class index of each patient for a binary column of a clinical CSV, and the class names (sorted).

    The target is read as text (``1`` and ``1.0`` are two classes); empty cells and NA tokens are missing.

    :raises InputError: for a missing file, column or patient, missing values, or not exactly two classes.
    """
    from VirtualBiopsy.files.tables import TEXT, readTable

    path = pathlib.Path(clinicalPath)
    if not path.is_file():
        raise InputError(f"Clinical table {path} not found; check the path (the virtual cohort writes clinical.csv).")
    # Only the patient and the target are used: both are read as text, the other columns are not interpreted.
    table = readTable(path, "Clinical", {"patient": TEXT, column: TEXT}, others=TEXT)
    if "patient" not in table.columns:
        raise InputError(f"Clinical table {path} has no 'patient' column; add one with the manifest's patient ids.")
    if column not in table.columns:
        raise InputError(
            f"Clinical table {path} has no column '{column}' (it has {', '.join(table.columns)}); "
            "choose one of them with --target."
        )
    if table["patient"].duplicated().any():
        repeated = sorted(set(table["patient"][table["patient"].duplicated()]))
        raise InputError(
            f"Clinical table {path} lists patient(s) {', '.join(repeated[:5])} more than once; "
            "keep one row per patient."
        )
    values = {patient: value or "" for patient, value in zip(table["patient"], table[column])}
    absent = [patient for patient in patients if patient not in values]
    if absent:
        raise InputError(f"Patient(s) {', '.join(absent[:5])} of the manifest are not in {path}; add their rows.")
    empty = [patient for patient in patients if values[patient] == ""]
    if empty:
        raise InputError(
            f"Column '{column}' of {path} is empty for patient(s) {', '.join(empty[:5])}; fill it in "
            "or leave those patients out of the manifest."
        )
    classes = sorted({values[patient] for patient in patients})
    if len(classes) != 2:
        raise InputError(
            f"Column '{column}' of {path} has {len(classes)} class(es) ({', '.join(classes)}) among the "
            "manifest's patients; the CNN classifier needs exactly two (a binary target)."
        )
    return np.array([classes.index(values[patient]) for patient in patients], dtype=np.int64), classes


def _read(path: pathlib.Path, patient: str, what: str) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(
            f"Patient {patient}: cannot read the {what} file {path} ({str(error).strip()[-200:]}); "
            "give a volume SimpleITK reads (NRRD, NIfTI, MHA)."
        ) from error
