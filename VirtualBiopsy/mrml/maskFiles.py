"""Mask files for segmentation QA: labelmaps (any format SimpleITK reads), Slicer ``.seg.nrrd`` files or
DICOM RTSTRUCT files, read as binary masks (UInt8, 0/1).

A labelmap keeps its file's voxel order and grid; ``label`` picks one value
(default: every non-zero voxel). A ``.seg.nrrd`` is read through Slicer's
segmentation storage node and exported on its own reference geometry;
``segment`` picks a segment by name (default: all segments together). An
RTSTRUCT is rasterised on the grid of its reference series (``reference``, a
DICOM series folder: the manifest row's image); ``segment`` picks an ROI by name.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import extensionOf, readImageFile
from VirtualBiopsy.imageGeometry import requireOrthogonalGrid, requireScalar3D
from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName
from VirtualBiopsy.mrml.storage import SEGMENTATION_EXTENSIONS, loadSegmentation

_READ_FIX = "give a labelmap SimpleITK reads (NRRD, NIfTI, MHA/MHD) or a Slicer .seg.nrrd file"

if TYPE_CHECKING:
    import slicer


def readMaskFile(
    path: str | os.PathLike,
    what: str,
    label: int | None = None,
    segment: str | None = None,
    scene: "slicer.vtkMRMLScene | None" = None,
    reference: str | os.PathLike | None = None,
) -> sitk.Image:
    """Read a mask file as a 0/1 UInt8 image.

    :param what: what the file is, for messages (e.g. ``"reference 'rater2'"``).
    :param label: labelmaps only: the value to keep. A file that has other labels but not this
        one is refused (an all-zero file is an empty mask).
    :param segment: ``.seg.nrrd``, RTSTRUCT and DICOM SEG only: the segment (ROI) name to keep.
    :param scene: scene to read ``.seg.nrrd`` files in (needed for those; nodes are removed afterwards).
    :param reference: RTSTRUCT and DICOM SEG only: the folder of the DICOM series it references (its grid is the
        mask's; a DICOM SEG without it lies on the grid its frames span).
    :raises InputError: for a missing or unreadable file, a non-integer labelmap, an absent label or segment.
    :raises GeometryError: for a file that is not 3D scalar, or on a sheared grid.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"The {what} file {path} was not found; check the path.")
    if extensionOf(path) in SEGMENTATION_EXTENSIONS:
        return _readSegmentationFile(path, what, segment, scene)
    if isRtstructFile(path):
        return _readRtstructFile(path, what, segment, reference)
    if isDicomSegFile(path):
        return _readDicomSegFile(path, what, segment, reference)
    image = readImageFile(path, what, _READ_FIX)
    requireScalar3D(image, f"{what} file {path.name}")
    requireOrthogonalGrid(image, f"{what} file {path}")
    voxels = sitk.GetArrayViewFromImage(image)
    if not np.issubdtype(voxels.dtype, np.integer):
        fractional = voxels[~np.isfinite(voxels) | (voxels != np.round(voxels))]
        if fractional.size:
            raise InputError(
                f"The {what} file {path} is not a labelmap: it has non-integer values such as {fractional.flat[0]:g}. "
                "Threshold a probability map first (give it as --probabilities), or give the labelmap file."
            )
    if label is None:
        inside = voxels != 0
    else:
        inside = voxels == label
        if not inside.any() and voxels.any():
            present = [int(value) for value in np.unique(voxels) if value != 0]
            shown = ", ".join(map(str, present[:10])) + (", ..." if len(present) > 10 else "")
            raise InputError(
                f"Label {label} is not in the {what} file {path} (its labels: {shown}); "
                "give the tumour's label with --label, or leave --label out to use every non-zero voxel."
            )
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def _readSegmentationFile(path: pathlib.Path, what: str, segment: str | None, scene) -> sitk.Image:
    if scene is None:
        raise InputError(f"The {what} file {path} is a Slicer segmentation; reading it needs a scene (createScene()).")
    node = loadSegmentation(path, scene)
    try:
        masks = segmentMasksByName(node)
    finally:
        for helper in (node.GetDisplayNode(), node.GetStorageNode()):
            if helper is not None:
                scene.RemoveNode(helper)
        scene.RemoveNode(node)
    if not masks:
        raise InputError(
            f"The {what} file {path} has no segments, so it has no geometry to compare on; "
            "save the empty mask as a labelmap instead, or add a segment."
        )
    return _chosenOrUnion(masks, path, what, segment, "segment")


def isRtstructFile(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a DICOM file (``DICM`` at byte 128, or a ``.dcm`` name) whose modality is RTSTRUCT."""
    from VirtualBiopsy.dicom.rtstruct import isRtstruct

    return _looksLikeDicom(pathlib.Path(path)) and isRtstruct(path)


def isDicomSegFile(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a DICOM file (``DICM`` at byte 128, or a ``.dcm`` name) of SOP class Segmentation."""
    from VirtualBiopsy.dicom.segImport import isDicomSeg

    return _looksLikeDicom(pathlib.Path(path)) and isDicomSeg(pathlib.Path(path))


def _looksLikeDicom(path: pathlib.Path) -> bool:
    """``DICM`` at byte 128, or a ``.dcm`` name (cheap: labelmap files are never opened by pydicom)."""
    with open(path, "rb") as stream:
        preamble = stream.read(132)
    return preamble[128:132] == b"DICM" or extensionOf(path) == ".dcm"


def _readDicomSegFile(path: pathlib.Path, what: str, segment: str | None, reference) -> sitk.Image:
    from VirtualBiopsy.dicom.segImport import readSegmentation
    from VirtualBiopsy.mrml.dicomNodes import binaryMask

    segments = readSegmentation(path, reference)
    masks = {item.name: binaryMask(item.mask) for item in segments}
    return _chosenOrUnion(masks, path, what, segment, "segment")


def _readRtstructFile(path: pathlib.Path, what: str, segment: str | None, reference) -> sitk.Image:
    from VirtualBiopsy.dicom.rtstruct import readRtstruct

    if reference is None or not pathlib.Path(reference).is_dir():
        raise InputError(
            f"The {what} file {path} is a DICOM RTSTRUCT; reading it needs the folder of the DICOM series it was "
            f"drawn on (got {reference or 'none'}): give the case's image as that DICOM series folder."
        )
    rois = readRtstruct(path, reference)
    if not rois:
        raise InputError(f"The {what} file {path} has no ROIs; give an RTSTRUCT with the tumour's ROI.")
    return _chosenOrUnion(dict(rois), path, what, segment, "ROI")


def _chosenOrUnion(
    masks: dict[str, sitk.Image], path: pathlib.Path, what: str, segment: str | None, kind: str
) -> sitk.Image:
    """The mask named ``segment``, or every mask together; ``kind`` names them in messages (ROI, segment)."""
    if not masks:
        raise InputError(f"The {what} file {path} has no {kind}s; give a file with the tumour's {kind}.")
    if segment is not None:
        if segment not in masks:
            raise InputError(
                f"The {what} file {path} has no {kind} named '{segment}' (its {kind}s: {', '.join(masks)}); "
                "give one of these with --segment."
            )
        return masks[segment]
    first = next(iter(masks.values()))
    union = np.zeros_like(sitk.GetArrayViewFromImage(first))
    for mask in masks.values():
        union |= sitk.GetArrayViewFromImage(mask)
    image = sitk.GetImageFromArray(union)
    image.CopyInformation(first)
    return image
