"""Settings of the segmentation stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

SEGMENTATION_METHODS = ("thresholdLargestIsland",)


@dataclass
class SegmentationConfig(StageConfig):
    """How the tumour is segmented automatically.

    ``thresholdLargestIsland`` segments the largest bright lesion: the whole
    tumour on FLAIR, or the enhancing tumour on T1c. The volume is z-scored
    inside the head (a no-op on the harmonization stage's output, whose
    background is 0); voxels above ``threshold`` that lie deeper than
    ``headMarginMm`` inside the head (which leaves out bright scalp fat) are
    kept, gaps of ``closingRadiusMm`` closed, enclosed holes (a necrotic core)
    filled, and the largest connected island kept.

    :ivar segmentName: name of the segment created in the segmentation node.
    :ivar minimumSizeMm3: islands smaller than this are an error (nothing found).
    """

    method: str = "thresholdLargestIsland"
    threshold: float = 2.0
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
