"""Feature robustness: perturb images and masks, re-extract, keep features whose ICC is high.

Follows Zwanenburg et al. (2019), "Assessing robustness of radiomic features by
image perturbation", Sci Rep 9:614; ICC bands after Koo & Li (2016).
"""

from VirtualBiopsy.extract.robustness.assess import (
    RobustnessResult,
    assessRobustness,
    caseSeed,
)
from VirtualBiopsy.extract.robustness.icc import (
    IccResult,
    IccUndefinedError,
    icc11,
    icc11Interval,
    iccBand,
)
from VirtualBiopsy.extract.robustness.perturbations import (
    DEFAULT_PERTURBATIONS,
    PERTURBATIONS,
    PerturbationRanges,
    adaptVolume,
    estimateNoiseSigma,
    perturbCase,
)
from VirtualBiopsy.extract.robustness.stability import (
    featureStability,
    filterStableFeatures,
    stableFeatures,
)

__all__ = [
    "DEFAULT_PERTURBATIONS",
    "PERTURBATIONS",
    "IccResult",
    "IccUndefinedError",
    "PerturbationRanges",
    "RobustnessResult",
    "adaptVolume",
    "assessRobustness",
    "caseSeed",
    "estimateNoiseSigma",
    "featureStability",
    "filterStableFeatures",
    "icc11",
    "icc11Interval",
    "iccBand",
    "perturbCase",
    "stableFeatures",
]
