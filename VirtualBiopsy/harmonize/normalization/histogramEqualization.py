"""Global histogram equalization inside a mask: intensities mapped through the masked voxels' cumulative histogram."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    mappedImage,
    maskedImage,
    requireSpread,
)

METHOD = "Histogram equalization"


def histogramEqualization(
    image: sitk.Image, mask: sitk.Image | None = None, bins: int = 256, backgroundValue: float | None = 0.0
) -> sitk.Image:
    """Map each intensity to the cumulative fraction of the masked voxels up to its histogram bin (in [0, 1]).

    The histogram has ``bins`` equal bins from the masked minimum to maximum; the map is interpolated
    between bin centres, as scikit-image's ``exposure.equalize_hist`` does.

    :param backgroundValue: written outside the mask; ``None`` maps every voxel (clipped at the ends).
    :returns: a Float32 image on the same grid.
    :raises InputError: for fewer than 2 bins or any check of the masked voxels.
    :raises GeometryError: for a mask on another grid.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 1 << 20:
        raise InputError(f"{METHOD}: bins is {bins!r}; give a whole number from 2 to {1 << 20}.")
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    requireSpread(masked.values, METHOD)
    counts, edges = np.histogram(masked.values, bins=int(bins))
    centres = (edges[:-1] + edges[1:]) / 2.0
    cumulative = np.cumsum(counts) / masked.values.size
    return mappedImage(masked, lambda values: np.interp(values, centres, cumulative), backgroundValue)
