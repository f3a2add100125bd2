"""Z-score intensity normalization inside a mask."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.harmonize.normalization.maskedImage import maskedImage, mappedImage, requireSpread

METHOD = "Z-score normalization"


def zScoreNormalize(image: sitk.Image, mask: sitk.Image | None = None, backgroundValue: float | None = 0.0) -> sitk.Image:
    """Subtract the mean and divide by the (population) standard deviation of the voxels in ``mask``.

    :param image: a 3D scalar image.
    :param mask: image on the same grid, non-zero inside; ``None`` uses every voxel.
    :param backgroundValue: written outside the mask; ``None`` normalizes every voxel.
    :returns: a Float32 image on the same grid (the input is not modified).
    :raises InputError: for an empty mask, constant intensities in it or NaN/Inf voxels.
    :raises GeometryError: when the mask lies on another grid.
    """
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    requireSpread(masked.values, METHOD)
    mean = float(masked.values.mean())
    standardDeviation = float(masked.values.std())
    return mappedImage(masked, lambda x: (x - mean) / standardDeviation, backgroundValue, np.float32)
