"""Post-processing of label maps, per label: keep the largest connected component, fill enclosed holes."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import requireScalar3D


def keepLargestComponent(labelMap: sitk.Image, labels: Iterable[int] | None = None) -> sitk.Image:
    """Keep, for each label, only its largest face-connected component (the rest becomes background 0).

    :param labels: the labels to process; all non-zero labels by default.
    :returns: a new label map on the same grid; the input is not changed.
    """
    voxels = _labelVoxels(labelMap)
    result = voxels.copy()
    for label in _labels(voxels, labels):
        mask = sitk.GetImageFromArray((voxels == label).astype(np.uint8))
        components = sitk.GetArrayFromImage(
            sitk.RelabelComponent(sitk.ConnectedComponent(mask, False), sortByObjectSize=True)
        )
        result[(voxels == label) & (components != 1)] = 0
    return _like(result, labelMap)


def fillHoles(labelMap: sitk.Image, labels: Iterable[int] | None = None) -> sitk.Image:
    """Fill, for each label, the background voxels it encloses (face-connected holes); other labels are kept.

    :param labels: the labels to process, in this order; all non-zero labels by default.
    :returns: a new label map on the same grid; the input is not changed.
    """
    voxels = _labelVoxels(labelMap)
    result = voxels.copy()
    for label in _labels(voxels, labels):
        mask = sitk.GetImageFromArray((result == label).astype(np.uint8))
        filled = sitk.GetArrayFromImage(sitk.BinaryFillhole(mask, fullyConnected=False, foregroundValue=1)) != 0
        result[filled & (result == 0)] = label
    return _like(result, labelMap)


def _labelVoxels(labelMap: sitk.Image) -> np.ndarray:
    requireScalar3D(labelMap, "label map")
    voxels = sitk.GetArrayFromImage(labelMap)
    if not np.issubdtype(voxels.dtype, np.integer):
        raise InputError(
            f"Post-processing needs an integer label map, got {labelMap.GetPixelIDTypeAsString()}; cast it first."
        )
    return voxels


def _labels(voxels: np.ndarray, labels: Iterable[int] | None) -> list[int]:
    return [int(v) for v in np.unique(voxels) if v != 0] if labels is None else [int(v) for v in labels if v != 0]


def _like(voxels: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(reference)
    return image
