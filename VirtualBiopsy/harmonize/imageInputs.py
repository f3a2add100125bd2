"""Checks of the images and masks that harmonization preprocessing accepts (pure SimpleITK)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, nonFiniteVoxels, requireOrthogonalGrid, requireScalar3D


def requireUsableImage(image: object, what: str = "image") -> sitk.Image:
    """Return ``image`` as Float32 after checking it is a 3D scalar image on an orthogonal grid with finite,
    varying voxels.

    :param what: what the image is, for messages (e.g. ``"moving image"``).
    :raises InputError: for non-finite (NaN/Inf) voxels or a constant image.
    :raises GeometryError: for a 2D/4D or vector image, or a sheared grid.
    """
    image = requireScalar3D(image, what)
    requireOrthogonalGrid(image, what)
    voxels = sitk.GetArrayViewFromImage(image)
    nonFinite = nonFiniteVoxels(image)
    if nonFinite is not None:
        raise InputError(
            f"The {what} has {nonFinite.describe(f'of {voxels.size}')}; preprocessing needs finite values. "
            "Replace them first (e.g. numpy.nan_to_num on the array) or fix the step that produced them."
        )
    low, high = float(voxels.min()), float(voxels.max())
    if low == high:
        raise InputError(
            f"The {what} is constant (every voxel is {low}); there is no contrast to correct, denoise or register. "
            "Check that the right volume was selected."
        )
    return sitk.Cast(image, sitk.sitkFloat32)


def requireMaskOnGrid(mask: object, image: sitk.Image, what: str = "mask") -> sitk.Image:
    """Return ``mask`` as a UInt8 0/1 image after checking it lies on ``image``'s grid and is not empty.

    :raises GeometryError: when size, spacing, origin or direction differ (each difference is listed).
    :raises InputError: for an empty mask or one with non-finite values.
    """
    mask = requireScalar3D(mask, what)
    differences = gridDifferences(image, mask, what=what)
    if differences:
        raise GeometryError(
            f"The {what} does not lie on the image grid ({'; '.join(differences)}). Resample the "
            f"{what} onto the image (SimpleITK.Resample({what}, image, SimpleITK.Transform(), "
            "SimpleITK.sitkNearestNeighbor)) or use the one drawn on this image."
        )
    voxels = sitk.GetArrayViewFromImage(mask)
    if np.issubdtype(voxels.dtype, np.floating) and not np.all(np.isfinite(voxels)):
        raise InputError(f"The {what} has NaN or infinite values; give a 0/1 (or label) mask.")
    if not np.any(voxels):
        raise InputError(f"The {what} is empty (no non-zero voxel); give a mask that covers the region of interest.")
    binary = sitk.Cast(mask != 0, sitk.sitkUInt8)
    binary.CopyInformation(image)
    return binary


def requirePositiveInt(value: object, what: str, minimum: int = 1) -> int:
    """Return ``value`` if it is a whole number ≥ ``minimum``.

    :raises InputError: otherwise, naming the setting and its value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{what} is {value!r}; give a whole number of at least {minimum}.")
    return int(value)


def requirePositiveReal(value: object, what: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0.

    :raises InputError: otherwise, naming the setting and its value.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise InputError(f"{what} is {value!r}; give a finite number greater than 0.")
    return float(value)
