"""Checks of an extraction's images and mask, done before any computation.

Each problem has its own error that names the value and the fix: a 4D or vector
input, a soft (non-integer) mask, a mask on another grid, an absent label, an
empty or too small ROI, NaN or Inf voxels in the ROI. A constant ROI is not an
error: :func:`constantRoiImages` reports it so that texture features are
reported as undefined.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences


def integerMask(mask: sitk.Image, what: str = "mask") -> sitk.Image:
    """The mask as an integer image; a real-typed mask is accepted only when every value is an integer.

    :raises InputError: for a soft mask (fractional values, e.g. probabilities), naming a value.
    """
    voxels = sitk.GetArrayViewFromImage(mask)
    if np.issubdtype(voxels.dtype, np.integer):
        return mask
    finite = np.isfinite(voxels)
    fractional = ~finite | (voxels != np.round(voxels))
    if fractional.any():
        example = voxels[fractional].flat[0]
        raise InputError(
            f"The {what} is a soft (non-integer) mask: it holds {example!r} among {int(fractional.sum())} "
            "non-integer voxels. Threshold it into labels first (e.g. SimpleITK.BinaryThreshold(mask, 0.5, 1e9) "
            "for a probability map) or pass the labelmap."
        )
    if voxels.size and (voxels.min() < 0 or voxels.max() > np.iinfo(np.uint32).max):
        raise InputError(f"The {what} has labels outside [0, 2^32): {voxels.min()}..{voxels.max()}; use labels 1..n.")
    return sitk.Cast(mask, sitk.sitkUInt32)


def maskOnImageGrid(image: sitk.Image, mask: sitk.Image, what: str, resample: bool) -> tuple[sitk.Image, bool]:
    """The mask on the grid of ``image``.

    :param resample: resample a mask on another grid with nearest neighbour instead of refusing it.
    :returns: the mask and whether it was resampled.
    :raises GeometryError: listing the differences, when the grids differ and ``resample`` is false.
    """
    differences = gridDifferences(image, mask)
    if not differences:
        return mask, False
    if not resample:
        raise GeometryError(
            f"The mask does not lie on the grid of the {what}: {'; '.join(differences)}. Use the mask made for "
            "this image, or allow resampling it (nearest neighbour): resampleMaskToImage=True / --resample-mask."
        )
    resampled = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
    return resampled, True


def requireLabel(mask: sitk.Image, label: int, minimumRoiVoxels: int, what: str = "mask") -> int:
    """Raise unless ``label`` covers at least ``minimumRoiVoxels`` voxels of ``mask``.

    :returns: the number of ROI voxels.
    :raises InputError: for an empty mask, an absent label (listing the labels present)
        or too few voxels.
    """
    voxels = sitk.GetArrayViewFromImage(mask)
    count = int(np.count_nonzero(voxels == label))
    if count == 0:
        present = [int(value) for value in np.unique(voxels) if value != 0]
        if not present:
            raise InputError(
                f"The {what} is empty (every voxel is 0). Segment the region of interest first, or check that "
                "the right mask file was given."
            )
        shown = ", ".join(str(value) for value in present[:20]) + (" ..." if len(present) > 20 else "")
        raise InputError(f"Label {label} is not in the {what}; labels present: {shown}. Pick one of them (--label N).")
    if count < minimumRoiVoxels:
        raise InputError(
            f"Label {label} of the {what} covers {count} voxels, fewer than the minimum of {minimumRoiVoxels}: "
            "too few for meaningful features. Check the segmentation, or lower minimumRoiVoxels (--min-voxels)."
        )
    return count


def requireFiniteRoi(image: sitk.Image, roi: np.ndarray, what: str) -> None:
    """Raise :class:`InputError` if a voxel of the ROI (boolean array, KJI) is NaN or infinite."""
    values = sitk.GetArrayViewFromImage(image)
    if not np.issubdtype(values.dtype, np.floating):
        return
    bad = ~np.isfinite(values[roi])
    if bad.any():
        nans = int(np.isnan(values[roi]).sum())
        raise InputError(
            f"The {what} has {int(bad.sum())} voxels inside the ROI that are NaN ({nans}) or infinite "
            f"({int(bad.sum()) - nans}). Fix the image (e.g. replace them, or exclude them from the mask) first."
        )


def isConstantRoi(image: sitk.Image, roi: np.ndarray) -> bool:
    """Whether every ROI voxel of ``image`` has the same value (texture features are then undefined)."""
    values = sitk.GetArrayViewFromImage(image)[roi]
    return bool(values.size) and bool(values.min() == values.max())
