"""Orthogonal grids, voxel volumes and non-finite voxels (``VirtualBiopsy.imageGeometry``): known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError
from VirtualBiopsy.imageGeometry import gridShear, nonFiniteVoxels, requireOrthogonalGrid, voxelVolume


def grid(direction, spacing=(1.0, 2.0, 3.0)) -> sitk.Image:
    image = sitk.Image([2, 2, 2], sitk.sitkFloat32)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    return image


def rotation(angle: float) -> tuple[float, ...]:
    c, s = math.cos(angle), math.sin(angle)
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    "direction",
    [(1, 0, 0, 0, 1, 0, 0, 0, 1), rotation(0.3), (1, 0, 0, 0, 1, 0, 0, 0, -1), (0, 1, 0, 1, 0, 0, 0, 0, -1)],
    ids=["identity", "oblique", "left-handed", "swapped axes"],
)
def test_rotations_and_reflections_are_orthogonal(direction):
    assert gridShear(grid(direction)) is None
    requireOrthogonalGrid(grid(direction), "image")
    assert voxelVolume(grid(direction)) == pytest.approx(6.0, rel=1e-15)


@pytest.mark.parametrize("degrees", [45.0, 60.0, 89.0])
def test_a_shear_is_measured_and_refused(degrees):
    angle = math.radians(degrees)
    direction = (1.0, 0.0, math.cos(angle), 0.0, 1.0, 0.0, 0.0, 0.0, math.sin(angle))
    shear = gridShear(grid(direction))
    assert shear.axes == ("i", "k") and shear.angle == pytest.approx(degrees, abs=1e-9)
    assert shear.volumeRatio == pytest.approx(math.sin(angle), rel=1e-12)
    assert voxelVolume(grid(direction)) == pytest.approx(6.0 * math.sin(angle), rel=1e-12)
    with pytest.raises(GeometryError, match=rf"file x.nrrd lies on a sheared .*axes i and k meet at {degrees:.4g}°"):
        requireOrthogonalGrid(grid(direction), "file x.nrrd")


def test_rounding_in_headers_is_not_a_shear():
    direction = np.array(rotation(0.7)) + np.array([2e-7, 0, -3e-7, 0, 1e-7, 0, 0, 0, 0])
    assert gridShear(grid(tuple(direction))) is None


def test_non_finite_voxels_are_counted_and_located_in_index_order():
    voxels = np.zeros((3, 4, 5), np.float32)
    voxels[2, 1, 3] = np.nan
    voxels[2, 3, 4] = np.inf
    image = sitk.GetImageFromArray(voxels)
    found = nonFiniteVoxels(image)
    assert (found.nans, found.infinities, found.firstIndex) == (1, 1, (3, 1, 2))
    assert found.describe("in the image") == (
        "2 NaN or infinite voxel(s) (1 NaN, 1 infinite) in the image, the first at index (i, j, k) = (3, 1, 2)"
    )
    region = np.zeros(voxels.shape, bool)
    region[2, 3, 4] = True
    assert nonFiniteVoxels(image, region).firstIndex == (4, 3, 2)
    assert nonFiniteVoxels(image, ~np.isnan(voxels) & ~np.isinf(voxels)) is None
    assert nonFiniteVoxels(sitk.Cast(sitk.GetImageFromArray(np.zeros((2, 2, 2))), sitk.sitkInt8)) is None
