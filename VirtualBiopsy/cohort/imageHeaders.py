"""Image headers without voxels: the grid and DICOM PatientID of an image file or a DICOM series folder.

A sheared grid and an incomplete or irregular DICOM series are refused here already (``run --check``), with
the messages :func:`~VirtualBiopsy.imageGeometry.requireOrthogonalGrid` and
:func:`~VirtualBiopsy.mrml.dicomSeries.checkDicomSeries` give when the image is loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import Grid, requireOrthogonalGrid

__all__ = ["PATIENT_ID_TAG", "ImageHeader", "readDicomSeriesHeader", "readImageHeader"]

#: DICOM tag of the PatientID.
PATIENT_ID_TAG = "0010|0020"


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says.

    :ivar grid: size, spacing, origin and direction (LPS), or ``None`` when unknown.
    :ivar patientId: the DICOM PatientID, or ``None`` when the file carries none.
    """

    grid: Grid | None = None
    patientId: str | None = None


def readImageHeader(path: str | os.PathLike) -> ImageHeader:
    """Read one image file's header (SimpleITK's ``ReadImageInformation``: no voxels).

    :raises RuntimeError: when SimpleITK cannot read the header (not an image, truncated, unsupported).
    :raises GeometryError: for a 3D image on a sheared (non-orthogonal) grid.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    patientId = reader.GetMetaData(PATIENT_ID_TAG).strip() if reader.HasMetaDataKey(PATIENT_ID_TAG) else ""
    grid = (reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())
    if reader.GetDimension() == 3:
        requireOrthogonalGrid(grid, f"image file {path}")
    return ImageHeader(grid, patientId or None)


def readDicomSeriesHeader(folder: str | os.PathLike) -> ImageHeader:
    """The header of the one DICOM series in ``folder``: grid from its first file and its slice positions,
    PatientID from its first file.

    Every file of the folder is read first (:func:`~VirtualBiopsy.mrml.dicomSeries.checkDicomSeries`); the
    slice spacing is the typical distance between slice positions.

    :raises InputError: when the folder holds no DICOM series or several (naming their count and UIDs), or a
        series with unreadable files, missing, duplicated or unevenly spaced slices, or mixed orientations or sizes.
    :raises RuntimeError: when SimpleITK cannot read a header.
    """
    from VirtualBiopsy.mrml.dicomSeries import checkDicomSeries

    seriesIds = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if len(seriesIds) != 1:
        listed = f" (series UIDs: {', '.join(seriesIds)})" if seriesIds else ""
        fix = "put each series in its own folder and name one" if seriesIds else "name a DICOM series folder or a file"
        raise InputError(f"folder {folder} holds {len(seriesIds)} DICOM series{listed}; {fix}.")
    check = checkDicomSeries(folder)
    check.require()
    files = check.files
    first = readImageHeader(files[0])
    if first.grid is None or len(first.grid[0]) != 3:
        return ImageHeader(None, first.patientId)
    size, spacing, origin, direction = first.grid
    if check.sliceSpacing is not None:
        spacing = (spacing[0], spacing[1], check.sliceSpacing)
    return ImageHeader(((size[0], size[1], len(files)), spacing, origin, direction), first.patientId)
