"""Image geometry shared by the MRML bridge and the algorithms: 3D scalar checks, grid comparison, orthogonal
(unsheared) grids, voxel volumes and non-finite voxels.

A sheared grid (direction columns that are not perpendicular, which NRRD ``space directions`` and MHA
``TransformMatrix`` can hold) is refused wherever an image is read for computation
(:func:`requireOrthogonalGrid`): every tool downstream (pyradiomics' shape features, resampling, the
models) takes a voxel's volume as the product of its spacings, which on a grid sheared by 45° is 41%
too large. Rotated (oblique) and left-handed grids are orthogonal and stay accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError

#: Size, spacing, origin and direction of an image (LPS), as plain tuples.
Grid = tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...]]
#: Largest difference in spacing and origin (mm) and direction cosines of "the same grid".
GRID_TOLERANCE = 1e-4
#: Largest deviation of ``DᵀD`` from the identity (D: the direction matrix) of an orthogonal grid. Axes that
#: miss 90° by this much (0.057°) change a voxel's volume by less than 1e-6 of it; rounding in NIfTI (float32)
#: and DICOM headers stays far below it.
ORTHOGONALITY_TOLERANCE = 1e-3
#: Index axis names, in SimpleITK order.
AXES = ("i", "j", "k")


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


@dataclass(frozen=True)
class Shear:
    """How far a grid is from orthogonal: the pair of index axes furthest from perpendicular.

    :ivar axes: the two axes (``"i"``, ``"j"``, ``"k"``).
    :ivar angle: the angle between them in degrees (90 on an orthogonal grid).
    :ivar volumeRatio: the voxel's true volume over the product of its spacings (1 on an orthogonal grid).
    """

    axes: tuple[str, str]
    angle: float
    volumeRatio: float


def gridShear(grid: Grid | sitk.Image) -> Shear | None:
    """The shear of a 3D grid, or ``None`` when its direction matrix is orthonormal within
    :data:`ORTHOGONALITY_TOLERANCE` (rotations and reflections included)."""
    direction = np.asarray((gridOf(grid) if isinstance(grid, sitk.Image) else grid)[3], dtype=float)
    dimension = math.isqrt(direction.size)
    matrix = direction.reshape(dimension, dimension)
    gram = matrix.T @ matrix
    if np.max(np.abs(gram - np.eye(dimension))) <= ORTHOGONALITY_TOLERANCE:
        return None
    norms = np.sqrt(np.diag(gram))
    cosines = gram / np.outer(norms, norms)
    pairs = [(a, b) for a in range(dimension) for b in range(a + 1, dimension)]
    a, b = max(pairs, key=lambda pair: abs(cosines[pair]))
    angle = math.degrees(math.acos(float(np.clip(cosines[a, b], -1.0, 1.0))))
    return Shear((AXES[a], AXES[b]), angle, float(abs(np.linalg.det(matrix))))


def requireOrthogonalGrid(image: Grid | sitk.Image, what: str) -> None:
    """Raise :class:`GeometryError` if the grid of ``image`` is sheared (see :func:`gridShear`).

    :param what: what the image is, for the message: name the file (``"image file /data/t1.nrrd"``).
    :raises GeometryError: naming the axes, their angle, the voxel-volume error and the fix.
    """
    shear = gridShear(image)
    if shear is None:
        return
    first, second = shear.axes
    raise GeometryError(
        f"The {what} lies on a sheared (non-orthogonal) grid: its index axes {first} and {second} meet at "
        f"{shear.angle:.4g}° instead of 90°, so every voxel volume, distance and shape feature computed on it would "
        f"be wrong (a voxel holds {shear.volumeRatio:.4g} times the product of its spacings). Resample it onto an "
        "orthogonal grid first (SimpleITK.Resample onto a reference image whose direction is orthonormal, or 3D "
        "Slicer's 'Resample Scalar/Vector/DWI Volume' with such a reference), or convert the scanner's images again "
        "without shear (e.g. dcm2niix, which resamples gantry-tilted series)."
    )


def voxelVolume(image: Grid | sitk.Image) -> float:
    """A voxel's volume in mm³: the product of the spacings times ``|det(direction)|`` (exact on sheared grids)."""
    _size, spacing, _origin, direction = gridOf(image) if isinstance(image, sitk.Image) else image
    dimension = len(spacing)
    matrix = np.asarray(direction, dtype=float).reshape(dimension, dimension)
    return float(np.prod(spacing) * abs(np.linalg.det(matrix)))


@dataclass(frozen=True)
class NonFiniteVoxels:
    """The NaN and infinite voxels of an image (or of a region of it).

    :ivar nans: how many are NaN.
    :ivar infinities: how many are +inf or -inf.
    :ivar firstIndex: the (i, j, k) index of the first one in memory order.
    """

    nans: int
    infinities: int
    firstIndex: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.nans + self.infinities

    def describe(self, where: str = "") -> str:
        """``"4 NaN or infinite voxel(s) (3 NaN, 1 infinite) <where>, the first at index (i, j, k) = (4, 5, 6)"``."""
        index = ", ".join(str(value) for value in self.firstIndex)
        return (
            f"{self.count} NaN or infinite voxel(s) ({self.nans} NaN, {self.infinities} infinite)"
            f"{' ' + where if where else ''}, the first at index ({', '.join(AXES[: len(self.firstIndex)])}) = ({index})"
        )


def nonFiniteVoxels(image: sitk.Image, region: np.ndarray | None = None) -> NonFiniteVoxels | None:
    """The NaN/infinite voxels of ``image`` (within the boolean KJI array ``region`` when given), or ``None``.

    Integer images hold none.
    """
    values = sitk.GetArrayViewFromImage(image)
    if not np.issubdtype(values.dtype, np.floating):
        return None
    bad = ~np.isfinite(values)
    if region is not None:
        bad &= region
    if not bad.any():
        return None
    nans = int(np.count_nonzero(bad & np.isnan(values)))
    first = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return NonFiniteVoxels(nans, int(np.count_nonzero(bad)) - nans, tuple(int(value) for value in first[::-1]))


def _format(values: tuple) -> str:
    return "(" + ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values) + ")"
