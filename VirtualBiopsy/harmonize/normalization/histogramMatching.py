"""Histogram matching to a reference volume, with SimpleITK's ``HistogramMatchingImageFilter``.

The filter matches quantiles of the two histograms and maps intensities
piecewise-linearly between them. It has no masks, so with masks the filter runs
on the voxels inside them only (as one-row images): its map is exactly the one
SimpleITK computes from those voxels. Voxels outside the mask get the
background value, or, when every voxel is mapped, the same map, sampled at the
masked intensities and extended linearly beyond them.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    mappedImage,
    maskedImage,
    requireSpread,
)
from VirtualBiopsy.harmonize.normalization.nyul import piecewiseLinear

METHOD = "Histogram matching"


def histogramMatching(
    image: sitk.Image,
    mask: sitk.Image | None,
    reference: sitk.Image,
    referenceMask: sitk.Image | None = None,
    histogramLevels: int = 1024,
    matchPoints: int = 7,
    thresholdAtMeanIntensity: bool | None = None,
    backgroundValue: float | None = 0.0,
) -> sitk.Image:
    """Map ``image``'s intensities inside ``mask`` so that their histogram matches ``reference``'s inside
    ``referenceMask``.

    :param reference: the volume to match (any grid).
    :param referenceMask: its mask, on its grid (``None``: every voxel).
    :param histogramLevels: histogram bins (SimpleITK's ``NumberOfHistogramLevels``).
    :param matchPoints: quantiles matched between the minimum and maximum (``NumberOfMatchPoints``).
    :param thresholdAtMeanIntensity: leave out the voxels below the mean (SimpleITK's background
        heuristic); ``None``: only when neither image has a mask.
    :param backgroundValue: written outside the mask; ``None`` maps every voxel.
    :returns: a Float32 image on ``image``'s grid.
    :raises InputError: for bad levels or points, or any check of the masked voxels of either image.
    :raises GeometryError: for a mask on another grid than its image.
    """
    for name, value, low in (("histogramLevels", histogramLevels, 2), ("matchPoints", matchPoints, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= 65536:
            raise InputError(f"{METHOD}: {name} is {value!r}; give a whole number from {low} to 65536.")
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    referenceVoxels = maskedImage(reference, referenceMask, 0.0, f"{METHOD} (reference)")
    requireSpread(masked.values, METHOD)
    requireSpread(referenceVoxels.values, METHOD, "the intensities of the reference inside its mask")
    if thresholdAtMeanIntensity is None:
        thresholdAtMeanIntensity = mask is None and referenceMask is None
    matcher = sitk.HistogramMatchingImageFilter()
    matcher.SetNumberOfHistogramLevels(int(histogramLevels))
    matcher.SetNumberOfMatchPoints(int(matchPoints))
    matcher.SetThresholdAtMeanIntensity(bool(thresholdAtMeanIntensity))
    if mask is None and referenceMask is None:
        matched = matcher.Execute(sitk.Cast(image, sitk.sitkFloat64), sitk.Cast(reference, sitk.sitkFloat64))
        return sitk.Cast(matched, sitk.sitkFloat32)
    matched = _row(matcher.Execute(_rowImage(masked.values), _rowImage(referenceVoxels.values)))
    source, first = np.unique(masked.values, return_index=True)
    mapped = matched[first]
    source = source.astype(np.float64)
    return mappedImage(masked, lambda x: piecewiseLinear(x, source, mapped), backgroundValue)


def _rowImage(values: np.ndarray) -> sitk.Image:
    return sitk.GetImageFromArray(np.asarray(values, dtype=np.float64).reshape(1, 1, -1))


def _row(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image).ravel()
