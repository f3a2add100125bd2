"""Checks of SimpleITK images shared by the MRML bridge and the algorithms."""

from __future__ import annotations

import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError


def requireScalar3D(image: object, what: str) -> sitk.Image:
    """Return ``image`` if it is a 3D single-component SimpleITK image.

    :param what: what the image is, for messages (e.g. ``"mask"``).
    :raises InputError: for something that is not a SimpleITK image.
    :raises GeometryError: for a 2D/4D image or a vector (multi-component) image.
    """
    if not isinstance(image, sitk.Image):
        raise InputError(f"The {what} must be a SimpleITK.Image, got {type(image).__name__}.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(
            f"The {what} has {image.GetNumberOfComponentsPerPixel()} components per voxel (a vector image); "
            "a 3D scalar volume is needed. Select one component first, e.g. SimpleITK.VectorIndexSelectionCast(image, 0)."
        )
    if image.GetDimension() != 3:
        raise GeometryError(
            f"The {what} is {image.GetDimension()}D (size {image.GetSize()}); a 3D scalar volume is needed. "
            "Extract one 3D volume first (e.g. image[:, :, :, 0] of a 4D series) or stack 2D slices with "
            "SimpleITK.JoinSeries."
        )
    return image
