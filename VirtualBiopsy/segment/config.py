"""Settings of the segmentation stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

SEGMENTATION_METHODS = ("thresholdLargestIsland",)


@dataclass
class SegmentationConfig(StageConfig):
    """How the tumour is segmented automatically.

    ``thresholdLargestIsland`` works on a z-score normalized T1c volume whose
    background is 0 (the output of the harmonization stage; raw volumes are
    normalized on the fly). It keeps voxels above ``threshold`` that lie deeper
    than ``headMarginMm`` inside the head (which leaves out bright scalp fat),
    closes gaps of ``closingRadiusMm``, fills enclosed holes (the necrotic core)
    and keeps the largest connected island.

    :ivar segmentName: name of the segment created in the segmentation node.
    :ivar minimumSizeMm3: islands smaller than this are an error (nothing found).
    """

    method: str = "thresholdLargestIsland"
    threshold: float = 1.5
    headMarginMm: float = 10.0
    closingRadiusMm: float = 2.0
    fillHoles: bool = True
    minimumSizeMm3: float = 100.0
    segmentName: str = "Tumor"

    def validate(self) -> None:
        requireChoice(self, "method", SEGMENTATION_METHODS)
        requireRange(self, "threshold", -10.0, 10.0)
        requireRange(self, "headMarginMm", 0.0, 100.0)
        requireRange(self, "closingRadiusMm", 0.0, 50.0)
        requireRange(self, "minimumSizeMm3", 0.0)
