"""Settings of the segmentation stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

SEGMENTATION_METHODS = ("thresholdLargestIsland",)


@dataclass
class SegmentationConfig(StageConfig):
    """How the tumour is segmented automatically.

    ``thresholdLargestIsland`` keeps voxels brighter than ``threshold`` standard
    deviations above the mean of the head (the input should be z-score
    normalized), closes gaps of ``closingRadiusMm``, fills enclosed holes (the
    necrotic core) and keeps the largest connected island.

    :ivar segmentName: name of the segment created in the segmentation node.
    :ivar minimumSizeMm3: islands smaller than this are an error (nothing found).
    """

    method: str = "thresholdLargestIsland"
    threshold: float = 1.5
    closingRadiusMm: float = 2.0
    fillHoles: bool = True
    minimumSizeMm3: float = 100.0
    segmentName: str = "Tumor"

    def validate(self) -> None:
        requireChoice(self, "method", SEGMENTATION_METHODS)
        requireRange(self, "threshold", -10.0, 10.0)
        requireRange(self, "closingRadiusMm", 0.0, 50.0)
        requireRange(self, "minimumSizeMm3", 0.0)
