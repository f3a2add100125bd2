"""Settings of the harmonization stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

NORMALIZATION_METHODS = ("zscore",)
MASK_MODES = ("foreground", "none")


@dataclass
class HarmonizationConfig(StageConfig):
    """How one volume is harmonized.

    :ivar normalization: intensity normalization; ``"zscore"`` subtracts the mean
        and divides by the standard deviation of the voxels in the mask.
    :ivar maskMode: which voxels the statistics come from: ``"foreground"`` (the
        head, found by Otsu's threshold and kept as its largest component) or
        ``"none"`` (every voxel).
    :ivar backgroundValue: value written outside the foreground mask when
        ``maskMode`` is ``"foreground"``.
    """

    normalization: str = "zscore"
    maskMode: str = "foreground"
    backgroundValue: float = 0.0

    def validate(self) -> None:
        requireChoice(self, "normalization", NORMALIZATION_METHODS)
        requireChoice(self, "maskMode", MASK_MODES)
        requireRange(self, "backgroundValue", -1e6, 1e6)
