"""How far a set of images' head intensities lie from a reference domain's: the measured effect of style transfer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.styleTransfer.slices import requireFiniteVolume

#: Histogram bins across the reference's intensity range.
BINS = 64


def headIntensities(images: Sequence[sitk.Image], masks: Sequence[sitk.Image] | None = None) -> np.ndarray:
    """The head voxels of all ``images``, pooled (float64); ``masks`` default to each image's foreground."""
    masks = masks if masks is not None else [foregroundMask(image) for image in images]
    values = [
        requireFiniteVolume(image, "image")[sitk.GetArrayViewFromImage(mask) > 0]
        for image, mask in zip(images, masks, strict=True)
    ]
    pooled = np.concatenate(values).astype(np.float64) if values else np.empty(0)
    if pooled.size == 0:
        raise InputError("No head voxels to compare; give images that contain a head.")
    return pooled


def intensityDistances(values: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Distances between two samples of intensities, in units of the reference's 0.5–99.5 percentile range.

    :returns: ``wasserstein`` (1-D earth mover's distance) and ``histogramL1`` (half the L1 distance of the two
        normalised histograms over the reference's range with :data:`BINS` bins, values outside clipped into the
        end bins; 0 = same histogram, 1 = disjoint).
    """
    from scipy.stats import wasserstein_distance

    lower, upper = np.percentile(reference, [0.5, 99.5])
    if not upper > lower:
        raise InputError("The reference intensities are constant; there is no range to compare against.")
    edges = np.linspace(lower, upper, BINS + 1)
    histograms = [np.histogram(np.clip(sample, lower, upper), edges)[0] / sample.size for sample in (values, reference)]
    return {
        "wasserstein": float(wasserstein_distance(values, reference) / (upper - lower)),
        "histogramL1": float(0.5 * np.abs(histograms[0] - histograms[1]).sum()),
    }
