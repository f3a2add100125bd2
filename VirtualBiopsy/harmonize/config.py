"""Settings of the harmonization stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.whiteStripe import CONTRASTS
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Intensity normalizations, by the name the config, the module and ``virtual-biopsy harmonize --method`` use.
NORMALIZATION_METHODS = ("zscore", "whitestripe", "nyul", "histmatch", "percentile", "histeq", "clahe")
MASK_MODES = ("foreground", "none", "mask")
WHITE_STRIPE_CONTRASTS = tuple(CONTRASTS)


@dataclass
class HarmonizationConfig(StageConfig):
    """How one volume is harmonized.

    :ivar normalization: intensity normalization, with statistics from the voxels in the mask:
        ``"zscore"`` (mean 0, SD 1), ``"whitestripe"`` (z-score on the normal white matter),
        ``"nyul"`` (piecewise-linear onto a cohort's standard scale, ``nyulModelFile``),
        ``"histmatch"`` (histogram of a reference volume), ``"percentile"`` (percentiles onto
        [0, 1]), ``"histeq"`` (global histogram equalization) or ``"clahe"`` (contrast-limited
        adaptive histogram equalization).
    :ivar maskMode: which voxels the statistics come from: ``"foreground"`` (the head, found by
        Otsu's threshold and kept as its largest component), ``"mask"`` (a segmentation or labelmap
        node given to the logic) or ``"none"`` (every voxel).
    :ivar backgroundValue: value written outside the mask.
    :ivar normalizeOutsideMask: map the voxels outside the mask too, instead of writing ``backgroundValue``.
    :ivar whiteStripeContrast: contrast of the volume, which decides the white-matter mode: ``T1``/``T1c``
        the brightest, ``T2``/``FLAIR`` the largest, ``PD`` the first.
    :ivar whiteStripeWidth: half-width of the white stripe, in quantiles.
    :ivar nyulModelFile: the standard scale (JSON) written by ``virtual-biopsy nyul fit``.
    :ivar histogramLevels: histogram bins of histogram matching.
    :ivar histogramMatchPoints: quantiles matched between minimum and maximum in histogram matching.
    :ivar percentileLow: percentile mapped to 0 by percentile rescaling.
    :ivar percentileHigh: percentile mapped to 1 by percentile rescaling.
    :ivar percentileClip: clip the rescaled intensities to [0, 1].
    :ivar equalizationBins: grey levels of histogram equalization and CLAHE.
    :ivar claheClipLimit: CLAHE's clip limit (higher: more contrast).
    :ivar claheKernelSizeMm: side of CLAHE's regions in mm; 0 uses one eighth of the image per axis.
    """

    normalization: str = "zscore"
    maskMode: str = "foreground"
    backgroundValue: float = 0.0
    normalizeOutsideMask: bool = False
    whiteStripeContrast: str = "T1"
    whiteStripeWidth: float = 0.05
    nyulModelFile: str = ""
    histogramLevels: int = 1024
    histogramMatchPoints: int = 7
    percentileLow: float = 1.0
    percentileHigh: float = 99.0
    percentileClip: bool = True
    equalizationBins: int = 256
    claheClipLimit: float = 0.01
    claheKernelSizeMm: float = 0.0

    def validate(self) -> None:
        requireChoice(self, "normalization", NORMALIZATION_METHODS)
        requireChoice(self, "maskMode", MASK_MODES)
        requireChoice(self, "whiteStripeContrast", WHITE_STRIPE_CONTRASTS)
        requireRange(self, "backgroundValue", -1e6, 1e6)
        requireRange(self, "whiteStripeWidth", 0.001, 0.49)
        requireRange(self, "histogramLevels", 2, 65536)
        requireRange(self, "histogramMatchPoints", 1, 1000)
        requireRange(self, "percentileLow", 0.0, 100.0)
        requireRange(self, "percentileHigh", 0.0, 100.0)
        requireRange(self, "equalizationBins", 2, 65536)
        requireRange(self, "claheClipLimit", 0.0001, 1.0)
        requireRange(self, "claheKernelSizeMm", 0.0, 1000.0)
        if self.percentileLow >= self.percentileHigh:
            raise InputError(
                f"HarmonizationConfig.percentileLow ({self.percentileLow}) must be below percentileHigh "
                f"({self.percentileHigh})."
            )
        if self.normalization == "nyul" and not self.nyulModelFile.strip():
            raise InputError(
                "HarmonizationConfig.nyulModelFile is empty, but normalization 'nyul' needs the standard "
                "scale: fit one with 'virtual-biopsy nyul fit' and give its JSON file."
            )
