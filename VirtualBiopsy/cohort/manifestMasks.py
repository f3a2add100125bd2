"""A manifest mask given as a DICOM RTSTRUCT or DICOM SEG, read once per case on the series it was drawn on.

The case's other stages read the result (``cases/<patient>/reference-mask.nrrd``, 1 inside any ROI or segment)
like any labelmap mask. The series is found among the case's DICOM image folders by the object's referenced
SeriesInstanceUID.
"""

from __future__ import annotations

import pathlib

from VirtualBiopsy.files import writeImageAtomically
from VirtualBiopsy.mrml.maskFiles import isDicomSegFile, isRtstructFile, readMaskFile

#: The DICOM mask on its series' grid, in a case's folder.
RASTERISED_MASK = "reference-mask.nrrd"


def isDicomMask(mask: str | pathlib.Path | None) -> bool:
    """Whether a manifest mask cell names an RTSTRUCT or a DICOM SEG file."""
    return mask is not None and pathlib.Path(mask).is_file() and (isRtstructFile(mask) or isDicomSegFile(mask))


def rasteriseDicomMask(mask: pathlib.Path, images: dict[str, pathlib.Path], target: pathlib.Path) -> None:
    """Every ROI (RTSTRUCT) or segment (SEG) of ``mask`` together as a 0/1 labelmap on the grid of the case's
    series it references.

    :raises InputError: when no image of the case is the referenced series, or the file cannot be read.
    """
    from VirtualBiopsy.dicom import rtstruct, segImport

    folders = [pathlib.Path(path) for path in images.values() if pathlib.Path(path).is_dir()]
    finder = rtstruct.findReferenceFolder if isRtstructFile(mask) else segImport.findReferenceFolder
    writeImageAtomically(readMaskFile(mask, "mask", reference=finder(mask, folders)), target)
