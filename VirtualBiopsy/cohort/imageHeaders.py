"""Image headers without voxels: the grid and DICOM PatientID of an image file or a DICOM series folder."""

from __future__ import annotations

import os
from dataclasses import dataclass

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import Grid

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
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    patientId = reader.GetMetaData(PATIENT_ID_TAG).strip() if reader.HasMetaDataKey(PATIENT_ID_TAG) else ""
    grid = (reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())
    return ImageHeader(grid, patientId or None)


def readDicomSeriesHeader(folder: str | os.PathLike) -> ImageHeader:
    """The header of the one DICOM series in ``folder``: grid from its first and last file, PatientID from its first.

    The grid follows SimpleITK's series reader: the first file's origin and direction, the files' count
    as depth and the mean distance between slice positions as slice spacing.

    :raises InputError: when the folder holds no DICOM series or several (naming their count and UIDs).
    :raises RuntimeError: when SimpleITK cannot read a header.
    """
    seriesIds = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if len(seriesIds) != 1:
        listed = f" (series UIDs: {', '.join(seriesIds)})" if seriesIds else ""
        fix = "put each series in its own folder and name one" if seriesIds else "name a DICOM series folder or a file"
        raise InputError(f"folder {folder} holds {len(seriesIds)} DICOM series{listed}; {fix}.")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), seriesIds[0])
    first = readImageHeader(files[0])
    last = readImageHeader(files[-1]) if len(files) > 1 else first
    if first.grid is None or last.grid is None or len(first.grid[0]) != 3:
        return ImageHeader(None, first.patientId)
    size, spacing, origin, direction = first.grid
    if len(files) > 1:
        distance = sum((b - a) ** 2 for a, b in zip(origin, last.grid[2])) ** 0.5
        spacing = (spacing[0], spacing[1], distance / (len(files) - 1))
    return ImageHeader(((size[0], size[1], len(files)), spacing, origin, direction), first.patientId)
