"""A manifest mask given as a DICOM RTSTRUCT, rasterised once per case on the series it was drawn on.

The case's other stages read the result (``cases/<patient>/reference-mask.nrrd``, 1 inside any ROI) like any
labelmap mask. The series is found among the case's DICOM image folders by the RTSTRUCT's referenced
SeriesInstanceUID.
"""

from __future__ import annotations

import pathlib

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.files import writeImageAtomically
from VirtualBiopsy.mrml.maskFiles import isRtstructFile, readMaskFile

#: The rasterised RTSTRUCT in a case's folder.
RASTERISED_MASK = "reference-mask.nrrd"


def isRtstructMask(mask: str | pathlib.Path | None) -> bool:
    """Whether a manifest mask cell names an RTSTRUCT file."""
    return mask is not None and pathlib.Path(mask).is_file() and isRtstructFile(mask)


def rasteriseRtstruct(rtstruct: pathlib.Path, images: dict[str, pathlib.Path], target: pathlib.Path) -> None:
    """Every ROI of ``rtstruct`` together as a 0/1 labelmap on the grid of the case's series it references.

    :raises InputError: when no image of the case is the referenced series, or the RTSTRUCT cannot be read.
    """
    from VirtualBiopsy.dicom.rtstruct import findReferenceFolder

    folders = [pathlib.Path(path) for path in images.values() if pathlib.Path(path).is_dir()]
    reference = findReferenceFolder(rtstruct, folders)
    mask = readMaskFile(rtstruct, "mask", reference=reference)
    binary = sitk.GetImageFromArray((sitk.GetArrayViewFromImage(mask) > 0).astype(np.uint8))
    binary.CopyInformation(mask)
    writeImageAtomically(binary, target)
