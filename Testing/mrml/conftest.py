"""Fixtures of the MRML bridge tests: small synthetic images with awkward geometry
(non-uniform spacing, oblique and left-handed directions).  The pyradiomics
sample cases come from the shared ``sampleCases`` fixture in ``Testing/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import SimpleITK as sitk


def obliqueDirection(leftHanded: bool) -> tuple[float, ...]:
    """A rotation about a skew axis, mirrored along k when ``leftHanded`` (determinant -1)."""
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3)
    if leftHanded:
        rotation = rotation @ np.diag([1.0, 1.0, -1.0])
    return tuple(rotation.ravel())


@pytest.fixture
def makeImage() -> Callable[..., sitk.Image]:
    """Factory of small 3D images with non-uniform spacing and an oblique (optionally left-handed) direction."""

    def make(
        dtype: type = np.int16,
        leftHanded: bool = True,
        size: tuple[int, int, int] = (5, 6, 7),
        seed: int = 0,
    ) -> sitk.Image:
        generator = np.random.default_rng(seed)
        shape = size[::-1]
        if np.issubdtype(dtype, np.floating):
            voxels = generator.normal(0.0, 100.0, shape).astype(dtype)
        else:
            info = np.iinfo(dtype)
            voxels = generator.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        image = sitk.GetImageFromArray(voxels)
        image.SetSpacing((0.7, 1.3, 2.9))
        image.SetOrigin((-12.3, 45.6, 7.89))
        image.SetDirection(obliqueDirection(leftHanded))
        return image

    return make


@pytest.fixture
def labelmapImage(makeImage) -> sitk.Image:
    """Three non-overlapping boxes labelled 1, 2, 3 (UInt8) on a left-handed oblique grid."""
    voxels = np.zeros((12, 11, 10), np.uint8)
    voxels[2:5, 2:6, 3:7] = 1
    voxels[6:9, 4:8, 2:5] = 2
    voxels[9:11, 1:3, 6:9] = 3
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(makeImage(size=(10, 11, 12)))
    return image
