"""Tumour-centred crops of named sequences on a grid aligned with the patient's image, and maps back.

A crop is a cube of ``size`` voxels at isotropic ``spacing`` mm, centred on the tumour mask's centroid, with the
direction of the patient's image (so its axes follow the patient's voxel axes). Each channel is z-scored inside the
head (:func:`~VirtualBiopsy.harmonize.foreground.foregroundMask`; 0 outside it) on the patient's grid, then resampled
linearly onto the crop grid (0 outside the image). The crop grid is kept with the crop, so a map computed on it goes
back onto the patient's grid exactly (:func:`cropMapToImage`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.zscore import zScoreNormalize
from VirtualBiopsy.imageGeometry import requireScalar3D
from VirtualBiopsy.segment.qa.masks import requireSameGrid


@dataclass(frozen=True)
class CropGrid:
    """The grid of a crop, in LPS like SimpleITK.

    :ivar size: voxels per axis (i, j, k).
    :ivar spacing: mm per voxel per axis.
    :ivar origin: physical position of voxel (0, 0, 0).
    :ivar direction: row-major 3×3 direction cosines (those of the patient's image).
    """

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]

    def referenceImage(self) -> sitk.Image:
        """An empty Float32 image on this grid."""
        image = sitk.Image([int(v) for v in self.size], sitk.sitkFloat32)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def toDict(self) -> dict:
        """Plain JSON form."""
        return {
            "size": list(self.size),
            "spacing": list(self.spacing),
            "origin": list(self.origin),
            "direction": list(self.direction),
        }


@dataclass(frozen=True)
class Crop:
    """A multi-channel crop.

    :ivar array: float32 ``(channels, k, j, i)`` (NumPy order of SimpleITK images).
    :ivar channels: sequence name of each channel, in order.
    :ivar grid: where the crop lies.
    """

    array: np.ndarray
    channels: tuple[str, ...]
    grid: CropGrid


def tumourCentre(mask: sitk.Image) -> tuple[float, float, float]:
    """Physical centroid (LPS, mm) of the mask's non-zero voxels.

    :raises InputError: for an empty mask.
    """
    requireScalar3D(mask, "tumour mask")
    voxels = sitk.GetArrayViewFromImage(mask)
    inside = np.argwhere(voxels != 0)
    if inside.size == 0:
        raise InputError(
            "The tumour mask is empty (no non-zero voxel); the crop needs the tumour's position. "
            "Give the mask of this patient's tumour (ground truth or a reviewed segmentation)."
        )
    index = inside.mean(axis=0)[::-1]  # (k, j, i) → (i, j, k)
    x, y, z = mask.TransformContinuousIndexToPhysicalPoint([float(v) for v in index])
    return float(x), float(y), float(z)


def cropGrid(image: sitk.Image, centre: Sequence[float], size: int, spacing: float) -> CropGrid:
    """The ``size``³ grid at ``spacing`` mm with ``image``'s direction, centred on ``centre``.

    :raises InputError: for a size below 4 or a non-positive spacing.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
        raise InputError(f"Crop size {size!r} is not valid; give a whole number of voxels per side, at least 4.")
    if not (isinstance(spacing, (int, float)) and math.isfinite(spacing) and spacing > 0):
        raise InputError(f"Crop spacing {spacing!r} is not valid; give a positive number of mm.")
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    halfExtent = np.full(3, spacing * (size - 1) / 2.0)
    origin = np.asarray(centre, dtype=float) - direction @ halfExtent
    x, y, z = (float(v) for v in origin)
    return CropGrid((int(size),) * 3, (float(spacing),) * 3, (x, y, z), tuple(float(v) for v in image.GetDirection()))


def normalizeInHead(image: sitk.Image) -> sitk.Image:
    """Float32 z-score of ``image`` with the mean and SD of its head voxels; 0 outside the head."""
    return zScoreNormalize(image, foregroundMask(image), backgroundValue=0.0)


def makeCrop(
    images: Mapping[str, sitk.Image], mask: sitk.Image, channels: Sequence[str], size: int, spacing: float
) -> Crop:
    """The tumour-centred crop of ``channels`` (looked up by name, case-insensitively, in ``images``).

    :param images: the patient's sequences by name, all on one grid.
    :param mask: the tumour mask on that grid (non-zero = tumour).
    :param channels: the sequences to stack, in channel order.
    :raises InputError: for a missing sequence or an empty mask.
    :raises GeometryError: for images or a mask that are not on one grid.
    """
    if not channels:
        raise InputError("No sequences were chosen for the crop; name at least one, e.g. T1c.")
    selected = [selectSequence(images, name) for name in channels]
    reference = selected[0]
    for name, image in zip(channels, selected):
        requireScalar3D(image, f"image '{name}'")
        requireSameGrid(reference, image, f"image '{channels[0]}'", f"image '{name}'")
    requireScalar3D(mask, "tumour mask")
    requireSameGrid(reference, mask, f"image '{channels[0]}'", "tumour mask")
    grid = cropGrid(reference, tumourCentre(mask), size, spacing)
    target = grid.referenceImage()
    arrays = []
    for name, image in zip(channels, selected):
        try:
            normalized = normalizeInHead(image)
        except InputError as error:
            raise InputError(f"Sequence '{name}': {error}") from error
        resampled = sitk.Resample(normalized, target, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        arrays.append(sitk.GetArrayFromImage(resampled))
    return Crop(np.stack(arrays).astype(np.float32, copy=False), tuple(channels), grid)


def selectSequence(images: Mapping[str, sitk.Image], name: str) -> sitk.Image:
    """``images[name]``, matching the name case-insensitively.

    :raises InputError: naming the sequences there are.
    """
    matches = [key for key in images if key is not None and str(key).lower() == name.lower()]
    if not matches:
        given = ", ".join(str(key) for key in images) or "none"
        raise InputError(
            f"Sequence '{name}' is needed but not given (given: {given}); add it, e.g. "
            f"--image {name}=PATH, or choose the model's sequences."
        )
    return images[matches[0]]


def cropMapToImage(cropMap: np.ndarray, grid: CropGrid, reference: sitk.Image) -> sitk.Image:
    """Resample a map on the crop grid onto ``reference``'s grid (linear; 0 outside the crop).

    :param cropMap: ``(k, j, i)`` values on ``grid``.
    :returns: a Float32 image with ``reference``'s size, spacing, origin and direction.
    :raises GeometryError: when the map's shape is not the grid's.
    """
    cropMap = np.asarray(cropMap, dtype=np.float32)
    if cropMap.shape != tuple(grid.size[::-1]):
        raise GeometryError(
            f"The map has shape {cropMap.shape} but the crop grid has {tuple(grid.size[::-1])} "
            "voxels (k, j, i); compute the map on the crop it belongs to."
        )
    source = sitk.GetImageFromArray(cropMap)
    source.SetSpacing(grid.spacing)
    source.SetOrigin(grid.origin)
    source.SetDirection(grid.direction)
    return sitk.Resample(source, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)


def insideCrop(grid: CropGrid, reference: sitk.Image) -> np.ndarray:
    """Boolean ``(k, j, i)`` array on ``reference``: voxels whose centre lies in the crop's voxel box.

    The box spans continuous crop indices [-0.5, size - 0.5) per axis, the region SimpleITK's linear
    interpolation covers.
    """
    size = reference.GetSize()
    k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in size[::-1]), indexing="ij")
    indices = np.stack([i.ravel(), j.ravel(), k.ravel()])
    refDirection = np.array(reference.GetDirection()).reshape(3, 3)
    points = (
        refDirection @ (indices * np.array(reference.GetSpacing())[:, None]) + np.array(reference.GetOrigin())[:, None]
    )
    cropDirection = np.array(grid.direction).reshape(3, 3)
    continuous = (
        np.linalg.solve(cropDirection, points - np.array(grid.origin)[:, None]) / np.array(grid.spacing)[:, None]
    )
    inside = np.all((continuous >= -0.5) & (continuous < np.array(grid.size)[:, None] - 0.5), axis=0)
    return inside.reshape(size[::-1])
