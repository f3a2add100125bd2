"""The checks and the voxel bookkeeping every intensity normalization shares.

A normalization takes its statistics from the voxels inside a mask and maps
either those voxels only (the others get a background value) or every voxel.
The checks here give each method the same clear errors: non-finite voxels, a
mask on another grid or with non-finite values, an empty mask, a constant image
inside the mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, requireScalar3D


@dataclass(frozen=True)
class MaskedImage:
    """An image's voxels and the mask's voxels, as read-only numpy views (k, j, i order).

    :ivar image: the input image (never modified).
    :ivar voxels: its voxels, in their own type.
    :ivar inside: ``True`` where the mask is non-zero; ``None`` without a mask (every voxel).
    :ivar values: the voxels inside the mask, in their own type (all of them, flat, without a mask).
    """

    image: sitk.Image
    voxels: np.ndarray
    inside: np.ndarray | None
    values: np.ndarray


def maskedImage(image: sitk.Image, mask: sitk.Image | None, backgroundValue: float | None, method: str) -> MaskedImage:
    """Check ``image`` and ``mask`` for a normalization and return their voxels.

    :param backgroundValue: the value written outside the mask, or ``None`` when every voxel is mapped
        (then non-finite voxels outside the mask are refused too).
    :param method: the method's name, for messages.
    :raises InputError: for non-finite voxels, a mask with non-finite values, an empty mask, or a
        non-finite background value.
    :raises GeometryError: for a 2D/4D/vector image or a mask on another grid.
    """
    requireScalar3D(image, f"image to normalize ({method})")
    if backgroundValue is not None and not np.isfinite(backgroundValue):
        raise InputError(f"{method}: the background value is {backgroundValue}; give a finite number (e.g. 0).")
    voxels = sitk.GetArrayViewFromImage(image)
    if mask is None:
        inside = None
    else:
        requireScalar3D(mask, f"mask ({method})")
        differences = gridDifferences(image, mask)
        if differences:
            raise GeometryError(
                f"{method}: the mask does not lie on the image grid: {'; '.join(differences)}. Resample the mask onto "
                "the image grid (nearest neighbour) or use the mask made for this image."
            )
        maskVoxels = sitk.GetArrayViewFromImage(mask)
        if np.issubdtype(maskVoxels.dtype, np.floating) and not np.isfinite(maskVoxels.sum(dtype=np.float64)):
            raise InputError(
                f"{method}: the mask has {int(np.count_nonzero(~np.isfinite(maskVoxels)))} NaN or Inf voxels; a mask "
                "holds labels (0 outside). Threshold it first, e.g. SimpleITK.BinaryThreshold(mask, 0.5, 1e9)."
            )
        inside = maskVoxels != 0
        if not inside.any():
            raise InputError(
                f"{method}: the mask is empty (every voxel is 0); choose a mask that covers the tissue to normalize."
            )
    values = voxels.ravel() if inside is None else voxels[inside]
    if np.issubdtype(voxels.dtype, np.floating):
        # A sum is finite exactly when every term is (float32 sums cannot overflow float64).
        insideFinite = np.isfinite(values.sum(dtype=np.float64)) or bool(np.isfinite(values).all())
        outsideFinite = backgroundValue is not None or inside is None or bool(np.isfinite(voxels[~inside]).all())
        if not (insideFinite and outsideFinite):
            badInside = int(values.size - np.count_nonzero(np.isfinite(values)))
            badOutside = int(voxels.size - np.count_nonzero(np.isfinite(voxels))) - badInside
            raise InputError(
                f"{method}: the image has {badInside} NaN or Inf voxels inside the mask and {badOutside} outside; "
                "normalization needs finite intensities. Replace them first (e.g. numpy.nan_to_num), or, when they "
                "lie outside the mask only, write a background value there instead of normalizing every voxel."
            )
    return MaskedImage(image=image, voxels=voxels, inside=inside, values=values)


def requireSpread(values: np.ndarray, method: str, what: str = "the intensities inside the mask") -> None:
    """Raise :class:`InputError` when ``values`` are all equal (a normalization would divide by zero)."""
    low, high = float(np.min(values)), float(np.max(values))
    if low == high:
        raise InputError(
            f"{method}: {what} are constant (every one is {low}); there is no scale to normalize. Check that the "
            "right volume and mask were selected."
        )


def mappedImage(
    masked: MaskedImage,
    mapping: Callable[[np.ndarray], np.ndarray],
    backgroundValue: float | None,
    dtype: type = np.float64,
) -> sitk.Image:
    """A Float32 image on the input's grid: ``mapping`` of the voxels inside the mask and ``backgroundValue``
    outside, or ``mapping`` of every voxel when ``backgroundValue`` is ``None``.

    :param mapping: maps an array of intensities (of ``dtype``) to the normalized intensities.
    """
    if backgroundValue is None or masked.inside is None:
        output = np.asarray(mapping(masked.voxels.astype(dtype, copy=False)), dtype=np.float32)
    else:
        output = np.full(masked.voxels.shape, backgroundValue, dtype=np.float32)
        output[masked.inside] = mapping(masked.values.astype(dtype, copy=False))
    result = sitk.GetImageFromArray(output)
    result.CopyInformation(masked.image)
    return result


def requireFraction(value: float, name: str, method: str, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` as a float if ``low < value < high``, else :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not low < float(value) < high:
        raise InputError(f"{method}: {name} is {value!r}; give a number strictly between {low} and {high}.")
    return float(value)
