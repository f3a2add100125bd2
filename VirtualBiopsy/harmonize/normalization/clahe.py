"""Contrast-limited adaptive histogram equalization (CLAHE), with scikit-image's ``exposure.equalize_adapthist``.

The intensities are first rescaled to [0, 1] between the minimum and maximum of
the voxels in the mask (values outside that range are clipped), then equalized
in 3D contextual regions of about ``kernelSizeMm`` per side.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    MaskedImage,
    maskedImage,
    requireFraction,
    requireSpread,
)

METHOD = "CLAHE"


def clahe(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    clipLimit: float = 0.01,
    kernelSizeMm: float | None = None,
    bins: int = 256,
    backgroundValue: float | None = 0.0,
) -> sitk.Image:
    """Equalize ``image`` locally, limiting each region's contrast gain by ``clipLimit``.

    :param clipLimit: scikit-image's clip limit, in (0, 1]; higher gives more contrast.
    :param kernelSizeMm: side of the contextual regions in mm (converted to voxels per axis);
        ``None``: one eighth of the image along each axis (scikit-image's default).
    :param bins: grey levels of the histograms.
    :param backgroundValue: written outside the mask; ``None`` keeps the equalized value everywhere.
    :returns: a Float32 image in [0, 1] on the same grid.
    :raises InputError: for a bad clip limit, kernel size or bins, or any check of the masked voxels.
    :raises GeometryError: for a mask on another grid.
    :raises DependencyError: when scikit-image is missing.
    """
    clipLimit = requireFraction(clipLimit, "clipLimit", METHOD, 0.0, 1.0 + 1e-12)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 65536:
        raise InputError(f"{METHOD}: bins is {bins!r}; give a whole number from 2 to 65536.")
    kernelSize = None if kernelSizeMm is None else kernelVoxels(image, kernelSizeMm)
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    requireSpread(masked.values, METHOD)
    low, high = float(masked.values.min()), float(masked.values.max())
    exposure = requirePackage("skimage.exposure", "scikit-image")
    unit = np.clip((masked.voxels.astype(np.float64) - low) / (high - low), 0.0, 1.0)
    unit[np.isnan(unit)] = 0.0  # outside the mask only (inside is checked); they get the background value
    equalized = exposure.equalize_adapthist(unit, kernel_size=kernelSize, clip_limit=clipLimit, nbins=int(bins))
    return _withBackground(masked, equalized, backgroundValue)


def kernelVoxels(image: sitk.Image, kernelSizeMm: float) -> tuple[int, int, int]:
    """``kernelSizeMm`` as voxels along (k, j, i), at least 2 and at most the image's size on each axis.

    :raises InputError: for a size that is not a positive finite number.
    """
    if isinstance(kernelSizeMm, bool) or not isinstance(kernelSizeMm, (int, float)) or not 0 < kernelSizeMm < np.inf:
        raise InputError(f"{METHOD}: kernelSizeMm is {kernelSizeMm!r}; give a positive size in mm (e.g. 30).")
    sizes = image.GetSize()[::-1]
    spacings = image.GetSpacing()[::-1]
    k, j, i = (int(min(size, max(2, round(kernelSizeMm / spacing)))) for size, spacing in zip(sizes, spacings))
    return k, j, i


def _withBackground(masked: MaskedImage, equalized: np.ndarray, backgroundValue: float | None) -> sitk.Image:
    output = equalized.astype(np.float32)
    if backgroundValue is not None and masked.inside is not None:
        output[~masked.inside] = backgroundValue
    result = sitk.GetImageFromArray(output)
    result.CopyInformation(masked.image)
    return result
