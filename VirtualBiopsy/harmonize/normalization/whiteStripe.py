"""WhiteStripe normalization (Shinohara et al., NeuroImage Clin. 2014).

The normal-appearing white matter is found as a mode of the smoothed histogram
of the voxels in the (brain or head) mask: the largest-intensity mode on T1, the
largest mode on T2 and FLAIR, the first mode on PD. The voxels whose quantile
lies within ``width`` of the mode's quantile form the "white stripe"; the image
is then z-scored with the stripe's mean and standard deviation.

The histogram is smoothed by a Gaussian kernel density estimate with Scott's
bandwidth (as intensity-normalization does), computed on a fine binned grid so
that it stays fast on whole volumes. For T1 the brightest 4% of the voxels
(vessels, fat, enhancement) are left out of the mode search, as in
intensity-normalization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    mappedImage,
    maskedImage,
    requireFraction,
    requireSpread,
)

METHOD = "WhiteStripe normalization"
#: Contrast → which mode of the smoothed histogram is the white matter.
CONTRASTS = {"T1": "last", "T1c": "last", "T2": "largest", "FLAIR": "largest", "PD": "first"}
#: Upper percentile kept when looking for the last (T1) or first (PD) mode.
TAIL_PERCENTILE = {"last": 96.0, "first": 99.0, "largest": 100.0}
#: Bins of the grid on which the kernel density estimate is evaluated.
GRID_BINS = 2048


@dataclass(frozen=True)
class WhiteStripe:
    """What WhiteStripe found: the white-matter mode, the stripe's bounds and statistics."""

    mode: float
    lower: float
    upper: float
    mean: float
    standardDeviation: float
    voxelCount: int


def whiteStripeNormalize(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    contrast: str = "T1",
    width: float = 0.05,
    backgroundValue: float | None = 0.0,
) -> sitk.Image:
    """Z-score ``image`` with the mean and standard deviation of its white stripe.

    :param mask: brain or head mask on the image grid (non-zero inside); ``None`` uses every voxel.
    :param contrast: ``T1``/``T1c`` (last mode), ``T2``/``FLAIR`` (largest mode) or ``PD`` (first mode).
    :param width: half-width of the stripe in quantiles (0.05: ±5%).
    :param backgroundValue: written outside the mask; ``None`` normalizes every voxel.
    :returns: a Float32 image on the same grid.
    :raises InputError: for an unknown contrast, a bad width, an empty mask, constant or non-finite
        intensities, or an empty or constant stripe.
    :raises GeometryError: when the mask lies on another grid.
    """
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    stripe = findWhiteStripe(masked.values, contrast, width)
    mean, standardDeviation = stripe.mean, stripe.standardDeviation
    return mappedImage(masked, lambda x: (x - mean) / standardDeviation, backgroundValue)


def findWhiteStripe(values: np.ndarray, contrast: str = "T1", width: float = 0.05) -> WhiteStripe:
    """The white stripe of the intensities ``values`` (the voxels in the mask).

    :raises InputError: as :func:`whiteStripeNormalize`.
    """
    if contrast not in CONTRASTS:
        raise InputError(f"{METHOD}: contrast is {contrast!r}; choose one of: {', '.join(CONTRASTS)}.")
    width = requireFraction(width, "width", METHOD, 0.0, 0.5)
    values = np.asarray(values, dtype=np.float64).ravel()
    requireSpread(values, METHOD)
    return stripeAroundMode(values, tissueMode(values, CONTRASTS[contrast]), width)


def stripeAroundMode(values: np.ndarray, mode: float, width: float) -> WhiteStripe:
    """The voxels whose quantile lies strictly within ``width`` of the quantile of ``mode``, and their statistics."""
    modeQuantile = float(np.mean(values < mode))
    lower, upper = np.quantile(values, (max(modeQuantile - width, 0.0), min(modeQuantile + width, 1.0)))
    inStripe = values[(values > lower) & (values < upper)]
    if inStripe.size < 2 or float(inStripe.min()) == float(inStripe.max()):
        raise InputError(
            f"{METHOD}: the white stripe around the mode {mode:.6g} ({lower:.6g} to {upper:.6g}) holds "
            f"{inStripe.size} voxel(s) of {'one intensity' if inStripe.size else 'any intensity'}; the image has too "
            "few distinct intensities there. Widen the stripe (width) or check the contrast and the mask."
        )
    return WhiteStripe(
        mode=mode,
        lower=float(lower),
        upper=float(upper),
        mean=float(inStripe.mean()),
        standardDeviation=float(inStripe.std()),
        voxelCount=int(inStripe.size),
    )


def tissueMode(values: np.ndarray, which: str) -> float:
    """The ``"last"``, ``"largest"`` or ``"first"`` mode of the smoothed histogram of ``values``."""
    kept = values
    if TAIL_PERCENTILE[which] < 100.0:
        kept = values[values <= np.percentile(values, TAIL_PERCENTILE[which])]
    grid, density = smoothedHistogram(kept)
    if which == "largest":
        return float(grid[np.argmax(density)])
    interior = np.flatnonzero((density[1:-1] > density[:-2]) & (density[1:-1] > density[2:])) + 1
    if interior.size == 0:
        return float(grid[np.argmax(density)])
    return float(grid[interior[-1] if which == "last" else interior[0]])


def smoothedHistogram(values: np.ndarray, bins: int = GRID_BINS) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian kernel density estimate (Scott's bandwidth) of ``values`` on ``bins`` points from min to max.

    The samples are binned on the grid first (linear binning), then convolved with the kernel.
    """
    low, high = float(values.min()), float(values.max())
    grid = np.linspace(low, high, bins)
    step = grid[1] - grid[0]
    position = (values - low) / step
    left = np.minimum(np.floor(position).astype(np.int64), bins - 2)
    fraction = position - left
    counts = np.bincount(left, weights=1.0 - fraction, minlength=bins) + np.bincount(
        left + 1, weights=fraction, minlength=bins
    )
    bandwidth = float(values.std(ddof=1)) * values.size ** (-1.0 / 5.0)
    sigma = max(bandwidth / step, 1e-3)
    radius = int(np.ceil(5.0 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    padded = np.pad(counts, radius)
    density = np.convolve(padded, kernel / kernel.sum(), mode="valid")
    return grid, density / (values.size * step)
