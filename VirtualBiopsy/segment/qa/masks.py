"""Binary masks for the QA metrics: one grid for both, non-zero = inside.

Masks arrive as SimpleITK images (labelmaps or 0/1 masks) and leave as boolean
numpy arrays in SimpleITK's array order (k, j, i) with the matching spacing,
so that distances come out in millimetres on anisotropic grids.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, requireScalar3D


def describeGrid(image: sitk.Image) -> str:
    """``size (..), spacing (..), origin (..), direction (..)`` of an image, for messages."""

    def numbers(values) -> str:
        return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"

    return (
        f"size {tuple(image.GetSize())}, spacing {numbers(image.GetSpacing())}, "
        f"origin {numbers(image.GetOrigin())}, direction {numbers(image.GetDirection())}"
    )


def requireSameGrid(image: sitk.Image, other: sitk.Image, imageName: str, otherName: str) -> None:
    """Raise :class:`GeometryError`, naming both grids, unless the two images share size, spacing, origin and direction.

    :param imageName: what ``image`` is, for the message (e.g. ``"reference mask"``).
    :param otherName: what ``other`` is.
    """
    if gridDifferences(image, other):
        raise GeometryError(
            f"The {otherName} and the {imageName} are not on one grid: {otherName}: {describeGrid(other)}; "
            f"{imageName}: {describeGrid(image)}. Resample the {otherName} onto the {imageName}'s grid "
            "(nearest neighbour for masks, e.g. SimpleITK.Resample(mask, reference, SimpleITK.Transform(), "
            "SimpleITK.sitkNearestNeighbor)) or use the file that belongs to this case."
        )


def maskArray(image: sitk.Image, what: str, label: int | None = None) -> np.ndarray:
    """The inside of a mask as a boolean array (k, j, i): non-zero voxels, or the voxels equal to ``label``.

    :param what: what the mask is, for messages.
    :param label: keep only this value (a labelmap's segment); ``None`` keeps every non-zero voxel.
    :raises InputError: for non-finite voxels (NaN would silently count as inside).
    :raises GeometryError: for an image that is not 3D scalar.
    """
    requireScalar3D(image, what)
    voxels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(voxels.dtype, np.floating) and not np.isfinite(voxels).all():
        bad = int(np.count_nonzero(~np.isfinite(voxels)))
        raise InputError(
            f"The {what} has {bad} NaN or infinite voxel(s); a mask needs finite values (0 = outside). "
            "Replace them, e.g. with SimpleITK.Mask or numpy.nan_to_num, before computing metrics."
        )
    return voxels == label if label is not None else voxels != 0


def arraySpacing(image: sitk.Image) -> np.ndarray:
    """Voxel spacing (mm) in array order (k, j, i)."""
    return np.asarray(image.GetSpacing(), dtype=float)[::-1]


def voxelVolumeMl(image: sitk.Image) -> float:
    """Volume of one voxel in millilitres (cm³)."""
    return float(np.prod(image.GetSpacing())) / 1000.0
