"""Hand-built masks for the segmentation QA tests: boxes, slabs and smooth random blobs."""

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

#: Anisotropic spacing (i, j, k) in mm used by most QA tests.
SPACING = (0.5, 1.0, 3.0)


def maskImage(voxels: np.ndarray, spacing=SPACING, origin=(1.0, -2.0, 3.0), direction=None) -> sitk.Image:
    """A UInt8 image of ``voxels`` (array order k, j, i) on the given grid."""
    image = sitk.GetImageFromArray(np.asarray(voxels).astype(np.uint8))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def box(shape, start, size) -> np.ndarray:
    """Boolean array of ``shape`` (k, j, i) with a box of ``size`` voxels at ``start``."""
    voxels = np.zeros(shape, bool)
    voxels[tuple(slice(s, s + n) for s, n in zip(start, size))] = True
    return voxels


def blob(shape=(18, 26, 30), seed=0, sigma=2.0, threshold=0.52) -> np.ndarray:
    """A smooth random mask: thresholded Gaussian-filtered noise (several irregular islands)."""
    noise = np.random.default_rng(seed).random(shape)
    return ndimage.gaussian_filter(noise, sigma) > threshold
