"""Image geometry shared by the MRML bridge and the algorithms: 3D scalar checks and grid comparison."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError

#: Size, spacing, origin and direction of an image (LPS), as plain tuples.
Grid = tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...]]
#: Largest difference in spacing and origin (mm) and direction cosines of "the same grid".
GRID_TOLERANCE = 1e-4


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


def gridOf(image: sitk.Image) -> Grid:
    """The size, spacing, origin and direction of a SimpleITK image (LPS)."""
    return (tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()), tuple(image.GetDirection()))


def gridDifferences(
    grid: Grid | sitk.Image, other: Grid | sitk.Image, tolerance: float = GRID_TOLERANCE, what: str = "mask"
) -> list[str]:
    """Human-readable differences between two grids (or the grids of two images); empty when they match within
    ``tolerance`` (mm for spacing and origin, direction cosines).

    :param what: what ``other`` is, for the messages (``grid`` is "the image").
    """
    grid = gridOf(grid) if isinstance(grid, sitk.Image) else grid
    other = gridOf(other) if isinstance(other, sitk.Image) else other
    differences = []
    for index, label in enumerate(("size", "spacing", "origin", "direction")):
        mine, theirs = grid[index], other[index]
        if index == 0:
            same = tuple(mine) == tuple(theirs)
        else:
            same = len(mine) == len(theirs) and np.allclose(mine, theirs, rtol=0.0, atol=tolerance)
        if not same:
            differences.append(f"{label} {_format(mine)} (image) vs {_format(theirs)} ({what})")
    return differences


def requireSameGrid(
    image: sitk.Image, other: sitk.Image, what: str = "mask", tolerance: float = GRID_TOLERANCE
) -> None:
    """Raise :class:`GeometryError` unless ``other`` lies on the grid of ``image``.

    :param image: the reference image.
    :param other: the image (a mask, usually) that must share its grid.
    :param what: what ``other`` is, for the message.
    :param tolerance: largest difference allowed in spacing and origin (mm) and in direction cosines.
    :raises GeometryError: listing every difference in size, spacing, origin and direction, and the fix.
    """
    differences = gridDifferences(gridOf(image), gridOf(other), tolerance, what)
    if differences:
        raise GeometryError(
            f"The {what} does not lie on the image grid: {'; '.join(differences)}. "
            f"Resample the {what} onto the image grid (e.g. SimpleITK.Resample({what}, image, "
            f"SimpleITK.Transform(), SimpleITK.sitkNearestNeighbor)) or use the {what} that belongs to this image."
        )


def _format(values: tuple) -> str:
    return "(" + ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + ")"
