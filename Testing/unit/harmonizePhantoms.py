"""Synthetic images for the preprocessing tests: a two-contrast head phantom, a smooth
multiplicative bias field and a known rigid transform."""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

#: A rigid transform (fixed → moving, LPS): rotations of 4°, -3°, 5° about x, y, z and a 5.6 mm shift.
KNOWN_ROTATION_DEG = (4.0, -3.0, 5.0)
KNOWN_TRANSLATION_MM = (4.0, -3.0, 2.5)


def knownRigidTransform(centre=(0.0, 0.0, 0.0)) -> sitk.Euler3DTransform:
    """The rigid transform the registration tests must recover."""
    return sitk.Euler3DTransform(tuple(centre), *(math.radians(a) for a in KNOWN_ROTATION_DEG), KNOWN_TRANSLATION_MM)


def twoContrastHead(size: int = 48, spacing: float = 2.5, seed: int = 0, oblique: bool = False):
    """A head (scalp, brain, two ventricles, an off-centre lesion) in a T1-like and a T2-like contrast.

    Tissues: background 0; scalp, brain, ventricles and lesion with contrasts that differ (ventricles dark in
    the first image, bright in the second). Edges blurred by 1 mm, Gaussian noise of SD 2% of the brain.

    :returns: ``(t1Like, t2Like, lesionMask)`` on one grid (Float32, Float32, UInt8), centred on the origin.
    """
    rng = np.random.default_rng(seed)
    index = (np.mgrid[:size, :size, :size].astype(float) - (size - 1) / 2) * spacing
    z, y, x = index
    head = (x / 50) ** 2 + (y / 56) ** 2 + (z / 46) ** 2 <= 1
    brain = (x / 43) ** 2 + (y / 49) ** 2 + (z / 39) ** 2 <= 1
    left = ((x + 9) / 6) ** 2 + ((y - 5) / 16) ** 2 + ((z - 4) / 8) ** 2 <= 1
    right = ((x - 10) / 5) ** 2 + ((y - 8) / 12) ** 2 + ((z - 2) / 8) ** 2 <= 1
    lesion = (x + 18) ** 2 + (y + 20) ** 2 + (z - 12) ** 2 <= 9.0**2
    images = []
    for values in ((300.0, 500.0, 150.0, 800.0), (200.0, 350.0, 900.0, 600.0)):
        voxels = np.zeros(x.shape)
        voxels[head] = values[0]
        voxels[brain] = values[1]
        voxels[left | right] = values[2]
        voxels[lesion] = values[3]
        image = sitk.SmoothingRecursiveGaussian(_image(voxels, spacing, oblique), 1.0)
        noisy = sitk.GetArrayFromImage(image) + rng.normal(0, 0.02 * values[1], x.shape) * head
        images.append(_image(np.clip(noisy, 0, None), spacing, oblique))
    mask = sitk.Cast(_image(lesion.astype(np.uint8), spacing, oblique), sitk.sitkUInt8)
    return images[0], images[1], mask


def smoothBias(image: sitk.Image, strength: float = 0.3) -> sitk.Image:
    """A smooth multiplicative field ``exp(strength × (linear gradient + centred bump))`` on ``image``'s grid (Float32)."""
    size = np.array(image.GetSize()[::-1], dtype=float)
    z, y, x = (np.mgrid[: int(size[0]), : int(size[1]), : int(size[2])] / (size[:, None, None, None] - 1)) - 0.5
    logField = strength * (0.8 * x - 0.5 * y + 0.3 * z + 0.6 * np.exp(-(x**2 + y**2 + z**2) / 0.08))
    field = sitk.GetImageFromArray(np.exp(logField).astype(np.float32))
    field.CopyInformation(image)
    return field


def _image(voxels: np.ndarray, spacing: float, oblique: bool) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels.astype(np.float32) if voxels.dtype != np.uint8 else voxels)
    size = voxels.shape[0]
    image.SetSpacing((spacing,) * 3)
    direction = np.eye(3)
    if oblique:
        direction = np.array(sitk.VersorTransform((0.2, 0.4, -0.3), 0.5).GetMatrix()).reshape(3, 3)
    image.SetDirection(tuple(direction.ravel()))
    origin = -direction @ np.full(3, (size - 1) / 2 * spacing)
    image.SetOrigin(tuple(origin))
    return image
