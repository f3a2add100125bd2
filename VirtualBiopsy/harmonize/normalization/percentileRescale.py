"""Linear rescaling of the intensities between two percentiles of the voxels in a mask."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    mappedImage,
    maskedImage,
    requireSpread,
)

METHOD = "Percentile rescaling"


def percentileRescale(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    lowPercentile: float = 1.0,
    highPercentile: float = 99.0,
    outputRange: tuple[float, float] = (0.0, 1.0),
    clip: bool = True,
    backgroundValue: float | None = 0.0,
) -> sitk.Image:
    """Map the ``lowPercentile`` and ``highPercentile`` intensities of the voxels in ``mask`` linearly onto
    ``outputRange``.

    :param clip: clip the result to ``outputRange`` (else the line extends beyond it).
    :param backgroundValue: written outside the mask; ``None`` maps every voxel.
    :returns: a Float32 image on the same grid.
    :raises InputError: for percentiles outside [0, 100] or not increasing, an output range that is
        not increasing, equal intensities at both percentiles, or any check of the masked voxels.
    :raises GeometryError: for a mask on another grid.
    """
    low, high = float(lowPercentile), float(highPercentile)
    if not 0.0 <= low < high <= 100.0:
        raise InputError(
            f"{METHOD}: percentiles {lowPercentile!r} and {highPercentile!r}; give 0 <= low < high <= 100 "
            "(e.g. 1 and 99)."
        )
    outLow, outHigh = (float(value) for value in outputRange)
    if not (np.isfinite(outLow) and np.isfinite(outHigh) and outLow < outHigh):
        raise InputError(f"{METHOD}: output range {list(outputRange)}; give two finite numbers, low < high.")
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    requireSpread(masked.values, METHOD)
    inLow, inHigh = np.percentile(masked.values, (low, high))
    if inLow == inHigh:
        raise InputError(
            f"{METHOD}: the {low:g}th and {high:g}th percentiles inside the mask are both {inLow:g}; most voxels "
            "share one intensity. Widen the percentiles or use a mask of the tissue only."
        )
    scale = (outHigh - outLow) / (inHigh - inLow)

    def rescale(values: np.ndarray) -> np.ndarray:
        result = outLow + (values - inLow) * scale
        return np.clip(result, outLow, outHigh) if clip else result

    return mappedImage(masked, rescale, backgroundValue)
