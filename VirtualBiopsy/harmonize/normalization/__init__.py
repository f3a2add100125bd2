"""Intensity normalization inside a mask: pure SimpleITK/numpy, one file per method.

Every method takes ``(image, mask, ...)``, takes its statistics from the voxels
where the mask is non-zero, and returns a Float32 image on the input's grid
(the input is never modified); outside the mask it writes ``backgroundValue``,
or maps every voxel when that is ``None``.
"""

from VirtualBiopsy.harmonize.normalization.clahe import clahe
from VirtualBiopsy.harmonize.normalization.histogramEqualization import (
    histogramEqualization,
)
from VirtualBiopsy.harmonize.normalization.histogramMatching import histogramMatching
from VirtualBiopsy.harmonize.normalization.nyul import (
    DEFAULT_PERCENTILES,
    applyNyul,
    fitNyulLandmarks,
)
from VirtualBiopsy.harmonize.normalization.nyulModel import NyulModel
from VirtualBiopsy.harmonize.normalization.percentileRescale import percentileRescale
from VirtualBiopsy.harmonize.normalization.whiteStripe import whiteStripeNormalize
from VirtualBiopsy.harmonize.normalization.zscore import zScoreNormalize

__all__ = [
    "DEFAULT_PERCENTILES",
    "NyulModel",
    "applyNyul",
    "clahe",
    "fitNyulLandmarks",
    "histogramEqualization",
    "histogramMatching",
    "percentileRescale",
    "whiteStripeNormalize",
    "zScoreNormalize",
]
