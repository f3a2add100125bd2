"""The source series an exported object refers to: its headers, sorted along the slice normal, and its grid.

A SEG, an SR and a parametric map name the images they were made from by SOP instance UID, so export needs
the source series' headers (read with pydicom, ``stop_before_pixels``) in the order of the grid's ``k`` axis,
and the grid itself (a SimpleITK image of zeros with the series' geometry, LPS). The slices are sorted along
the normal ``row × column``, so a series written from a left-handed volume comes back right-handed (the same
voxels in space, flipped along ``k``). A folder that is not exactly one single-frame series on one regular
grid is refused.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError, requirePackage

#: Largest disagreement (mm) of slice positions with one regular grid.
POSITION_TOLERANCE = 1e-3


@dataclasses.dataclass
class ReferenceSeries:
    """One source series: headers in ``k`` order and the grid they make.

    :ivar folder: the series' folder (for a list of files: the folder that holds them all).
    :ivar datasets: the headers (no pixel data), sorted along the slice normal.
    :ivar grid: a zero image (UInt8) on the series' grid, LPS.
    """

    folder: pathlib.Path
    datasets: list[Any]
    grid: sitk.Image

    @property
    def seriesUid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)

    @property
    def frameOfReferenceUid(self) -> str:
        return str(self.datasets[0].FrameOfReferenceUID)

    @property
    def sopInstanceUids(self) -> list[str]:
        return [str(dataset.SOPInstanceUID) for dataset in self.datasets]


def readReferenceSeries(folder: str | pathlib.Path | Sequence[str | pathlib.Path]) -> ReferenceSeries:
    """Read the headers of the one series in ``folder`` (files directly in it), or in a list of files, and its grid.

    :param folder: the series' folder, or the paths of its files (every one must exist).
    :raises InputError: for a missing folder or file, an empty list, no DICOM image, several series, or
        multi-frame files.
    :raises GeometryError: for slices that do not make one regular grid (missing position or orientation,
        mixed orientations or sizes, uneven spacing, two slices at one position).
    """
    pydicom = requirePackage("pydicom")
    if isinstance(folder, (str, pathlib.Path)):
        folder = pathlib.Path(folder)
        if not folder.is_dir():
            raise InputError(
                f"Reference series folder {folder} does not exist or is not a folder; give the source series' folder."
            )
        paths = sorted(p for p in folder.iterdir() if p.is_file())
        where, holds, kind = f"Reference series folder {folder}", "holds", "folder"
    else:
        paths, folder = _listedFiles(folder)
        where, holds, kind = f"The {len(paths)} reference series file(s) under {folder}", "hold", "files"
    datasets, skipped = [], []
    for path in paths:
        try:
            dataset = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # not DICOM or unreadable: counted, the message names how many
            skipped.append(path.name)
            continue
        if "SeriesInstanceUID" in dataset and "Rows" in dataset:
            dataset.filename = str(path)
            datasets.append(dataset)
        else:
            skipped.append(path.name)
    if not datasets:
        raise InputError(
            f"{where} {holds} no DICOM image ({len(skipped)} other file(s), e.g. "
            f"{', '.join(skipped[:3]) or 'none'}); give the {kind} of the source image series."
        )
    series = sorted({str(dataset.SeriesInstanceUID) for dataset in datasets})
    if len(series) > 1:
        numbers = sorted({str(dataset.get("SeriesNumber", "?")) for dataset in datasets})
        raise InputError(
            f"{where} {holds} {len(series)} series (series numbers {', '.join(numbers)}; UIDs "
            f"{', '.join(series)}); give {'a folder with' if kind == 'folder' else 'the files of'} exactly one series "
            "(e.g. from 'virtual-biopsy dicom index')."
        )
    if any(int(dataset.get("NumberOfFrames", 1) or 1) > 1 for dataset in datasets):
        raise InputError(
            f"{where} {holds} multi-frame images; export refers to single-frame series only. "
            "Give a classic (one file per slice) series."
        )
    datasets, grid = _sortedGrid(datasets, folder)
    return ReferenceSeries(folder=folder, datasets=datasets, grid=grid)


def _listedFiles(files: Sequence[str | pathlib.Path]) -> tuple[list[pathlib.Path], pathlib.Path]:
    """The listed paths (sorted, without repeats) and the folder that holds them all.

    :raises InputError: for an empty list or a path that is not a file.
    """
    paths = sorted({pathlib.Path(path) for path in files})
    if not paths:
        raise InputError("The list of reference series files is empty; give the files of the source image series.")
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(paths)} reference series file(s) do not exist or are not files (e.g. "
            f"{', '.join(missing[:3])}); give the existing files of the source image series."
        )
    return paths, pathlib.Path(os.path.commonpath([path.resolve().parent for path in paths]))


def _sortedGrid(datasets: list[Any], folder: pathlib.Path) -> tuple[list[Any], sitk.Image]:
    for dataset in datasets:
        missing = [
            key for key in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing") if key not in dataset
        ]
        if missing:
            raise GeometryError(
                f"Reference series in {folder}: file {pathlib.Path(dataset.filename).name} has no {', '.join(missing)}; "
                "a series without slice geometry cannot be referenced. Give a series with complete geometry."
            )
    orientations = {tuple(np.round(np.array(d.ImageOrientationPatient, float), 5)) for d in datasets}
    sizes = {(int(d.Rows), int(d.Columns)) for d in datasets}
    pixelSpacings = {tuple(np.round(np.array(d.PixelSpacing, float), 6)) for d in datasets}
    if len(orientations) > 1 or len(sizes) > 1 or len(pixelSpacings) > 1:
        raise GeometryError(
            f"Reference series in {folder} mixes orientations {sorted(orientations)}, sizes {sorted(sizes)} or pixel "
            f"spacings {sorted(pixelSpacings)}; give a series on one grid."
        )
    orientation = np.array(datasets[0].ImageOrientationPatient, float)
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    datasets = sorted(datasets, key=lambda d: float(np.dot(np.array(d.ImagePositionPatient, float), normal)))
    positions = np.array([d.ImagePositionPatient for d in datasets], float)
    ySpacing, xSpacing = (float(value) for value in datasets[0].PixelSpacing)  # between rows, between columns
    sliceSpacing = 1.0
    if len(datasets) > 1:
        steps = np.diff(positions @ normal)
        sliceSpacing = float(np.mean(steps))
        expected = positions[0] + np.outer(np.arange(len(datasets)), normal * sliceSpacing)
        deviation = float(np.max(np.abs(positions - expected)))
        if sliceSpacing <= POSITION_TOLERANCE or deviation > POSITION_TOLERANCE:
            raise GeometryError(
                f"Reference series in {folder}: its {len(datasets)} slices are not evenly spaced along the normal "
                f"(steps {np.round(steps, 4).tolist()} mm, largest deviation from a regular grid {deviation:.4g} mm); "
                "a missing or duplicated slice cannot be referenced. Give a complete series."
            )
    rows, columns = sizes.pop()
    grid = sitk.Image(columns, rows, len(datasets), sitk.sitkUInt8)
    grid.SetSpacing((xSpacing, ySpacing, sliceSpacing))
    grid.SetOrigin(tuple(float(value) for value in positions[0]))
    grid.SetDirection(tuple(float(value) for value in np.column_stack([row, column, normal]).ravel()))
    return datasets, grid


def findSeriesFolder(wanted: set[str], folders: Sequence[pathlib.Path], shown: str) -> pathlib.Path:
    """The one of ``folders`` (DICOM series folders) whose first file belongs to one of the ``wanted`` series.

    :param shown: the referencing object, for messages (e.g. ``"RTSTRUCT rs.dcm"``).
    :raises InputError: when none does, or nothing is wanted and there is not exactly one folder.
    """
    pydicom = requirePackage("pydicom")
    if not wanted and len(folders) == 1:
        return pathlib.Path(folders[0])
    for folder in folders:
        first = next((member for member in sorted(pathlib.Path(folder).iterdir()) if member.is_file()), None)
        if first is None:
            continue
        try:
            header = pydicom.dcmread(first, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
        except Exception:  # not DICOM: not the referenced series
            continue
        if str(header.get("SeriesInstanceUID", "")) in wanted:
            return pathlib.Path(folder)
    raise InputError(
        f"{shown} references series {', '.join(sorted(wanted)) or '(none named)'}, which is none of the case's "
        f"DICOM series ({len(folders)} folder(s)); give the series it was drawn on as one of the case's images."
    )
