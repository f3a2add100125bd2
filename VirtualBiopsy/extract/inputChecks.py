"""Checks of an extraction's images and mask, done before any computation.

Each problem has its own error that names the value and the fix: a 4D or vector
input, a soft (non-integer) mask, a mask on another grid (or one that resampling
would cut or shrink), an absent label, an empty or too small ROI, NaN or Inf voxels.
A constant ROI is not an error: :func:`isConstantRoi` reports it so that texture
features are reported as undefined.

NaN or infinite voxels inside the ROI are always refused. Outside it they are
accepted only when no computation reads them: features of the Original image,
without pyradiomics' resampling or normalisation and without the preprocessing's
resampling (maps such as ADC often hold NaN in the background). A filter (LoG,
wavelet, ...), resampling or normalisation would carry them into the ROI's values,
so with those they are refused too, with their count, the first one's index and the fix.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, nonFiniteVoxels, voxelVolume

logger = logging.getLogger(__name__)

#: Largest relative change of the ROI's volume that resampling a mask onto the image grid may make
#: (nearest neighbour between grids of different spacing moves the ROI's border by up to half a voxel).
MASK_RESAMPLING_VOLUME_TOLERANCE = 0.10


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


def maskOnImageGrid(
    image: sitk.Image, mask: sitk.Image, what: str, resample: bool, label: int | None = None
) -> tuple[sitk.Image, dict[str, Any] | None]:
    """The mask on the grid of ``image``.

    :param resample: resample a mask on another grid with nearest neighbour instead of refusing it. The ROI
        (``label``, or every non-zero voxel) must then lie inside the image and keep its physical volume within
        :data:`MASK_RESAMPLING_VOLUME_TOLERANCE`; what was done is logged.
    :returns: the mask and, when it was resampled, a record of the ROI's volume before and after.
    :raises GeometryError: listing the differences, when the grids differ and ``resample`` is false; with the
        numbers, when resampling would cut the ROI or change its volume too much.
    """
    differences = gridDifferences(image, mask)
    if not differences:
        return mask, None
    if not resample:
        raise GeometryError(
            f"The mask does not lie on the grid of the {what}: {'; '.join(differences)}. Use the mask made for "
            "this image, or allow resampling it (nearest neighbour): resampleMaskToImage=True / --resample-mask."
        )
    resampled = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
    record = _resamplingRecord(image, mask, resampled, label)
    if record is None:
        return resampled, None  # the label is absent: requireLabel says so
    before, after = record["volumeBeforeMm3"], record["volumeAfterMm3"]
    roi = f"the ROI (label {label})" if label is not None else "the ROI"
    problems = []
    if record["voxelsOutsideImage"]:
        problems.append(
            f"{record['voxelsOutsideImage']} of its {record['voxelsBefore']} voxels "
            f"({record['voxelsOutsideImage'] / record['voxelsBefore']:.1%}) lie outside the {what}"
        )
    if abs(record["volumeChange"]) > MASK_RESAMPLING_VOLUME_TOLERANCE:
        problems.append(
            f"its volume would go from {before:.6g} mm³ to {after:.6g} mm³ ({record['volumeChange']:+.1%}, more than "
            f"the {MASK_RESAMPLING_VOLUME_TOLERANCE:.0%} allowed)"
        )
    if problems:
        raise GeometryError(
            f"Resampling the mask onto the grid of the {what} (resampleMaskToImage / --resample-mask) would not keep "
            f"{roi}: {'; and '.join(problems)}. Features would describe what is left, not the region drawn. Use the "
            "mask drawn on this image, or an image that covers the whole ROI (the same scan, uncropped); or resample "
            "the mask yourself onto the image grid and check the result (3D Slicer's Resample Image (BRAINS) with "
            "nearest neighbour)."
        )
    logger.warning(
        "Resampled the mask onto the grid of the %s (nearest neighbour; %s): %s went from %d voxels, %.6g mm³ "
        "to %d voxels, %.6g mm³ (%+.1f%%).",
        what,
        "; ".join(differences),
        roi,
        record["voxelsBefore"],
        before,
        record["voxelsAfter"],
        after,
        100 * record["volumeChange"],
    )
    return resampled, record


def _resamplingRecord(
    image: sitk.Image, mask: sitk.Image, resampled: sitk.Image, label: int | None
) -> dict[str, Any] | None:
    """The ROI's voxel counts and physical volumes before and after resampling, and how many of its voxel
    centres lie outside ``image``; ``None`` when the ROI is empty before."""
    original = sitk.GetArrayViewFromImage(mask)
    inside = original == label if label is not None else original != 0
    count = int(np.count_nonzero(inside))
    if not count:
        return None
    after = sitk.GetArrayViewFromImage(resampled)
    countAfter = int(np.count_nonzero(after == label if label is not None else after != 0))
    # Physical position of every ROI voxel centre, as a continuous index of the image grid.
    indices = np.argwhere(inside)[:, ::-1].astype(np.float64)  # i, j, k
    maskMatrix = np.asarray(mask.GetDirection(), dtype=float).reshape(3, 3) * np.asarray(mask.GetSpacing())
    points = indices @ maskMatrix.T + np.asarray(mask.GetOrigin())
    imageMatrix = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3) * np.asarray(image.GetSpacing())
    continuous = np.linalg.solve(imageMatrix, (points - np.asarray(image.GetOrigin())).T).T
    size = np.asarray(image.GetSize())
    outside = np.any((continuous < -0.5) | (continuous > size - 0.5), axis=1)
    before, afterVolume = count * voxelVolume(mask), countAfter * voxelVolume(image)
    return {
        "label": label,
        "voxelsBefore": count,
        "voxelsAfter": countAfter,
        "voxelsOutsideImage": int(np.count_nonzero(outside)),
        "volumeBeforeMm3": before,
        "volumeAfterMm3": afterVolume,
        "volumeChange": afterVolume / before - 1.0,
    }


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


def requireFiniteVoxels(image: sitk.Image, roi: np.ndarray, what: str, readsOutside: str | None) -> None:
    """Raise :class:`InputError` for NaN or infinite voxels inside the ROI (boolean array, KJI), and outside it
    when the extraction reads them (see the module).

    :param readsOutside: why the extraction reads voxels outside the ROI (``"a LoG filter"``), or ``None``.
    """
    inside = nonFiniteVoxels(image, roi)
    if inside is not None:
        raise InputError(
            f"The {what} has {inside.describe('inside the ROI')}: their features would be NaN, silently. Fix the "
            "image (replace them, e.g. numpy.nan_to_num, or fix the step that produced them), or exclude those "
            "voxels from the mask."
        )
    if readsOutside is None:
        return
    outside = nonFiniteVoxels(image, ~roi)
    if outside is not None:
        raise InputError(
            f"The {what} has {outside.describe('outside the ROI')}, and the settings apply {readsOutside}, which "
            "would carry them into the ROI's values. Replace them first (e.g. with 0 or the image's minimum: "
            "numpy.nan_to_num), or compute features of the Original image only, without resampling or normalisation."
        )


def isConstantRoi(image: sitk.Image, roi: np.ndarray) -> bool:
    """Whether every ROI voxel of ``image`` has the same value (texture features are then undefined)."""
    values = sitk.GetArrayViewFromImage(image)[roi]
    return bool(values.size) and bool(values.min() == values.max())
