"""Settings of the segmentation stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

SEGMENTATION_METHODS = ("thresholdLargestIsland", "model")
#: Where a model runs: ``auto`` is the GPU when torch sees one, else the CPU.
INFERENCE_DEVICES = ("auto", "cpu", "cuda")


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

    ``model`` runs the AI model ``modelId`` of the model registry (nnU-Net or MONAI) on
    the named input sequences: one segment per model label. ``fillHoles`` and
    ``keepLargestComponent`` then post-process each label.

    :ivar segmentName: name of the segment created in the segmentation node (threshold method).
    :ivar minimumSizeMm3: islands smaller than this are an error (nothing found; threshold method).
    :ivar modelId: the model's id in the registry (``virtual-biopsy models list``).
    :ivar device: ``auto``, ``cpu`` or ``cuda``; a GPU out of memory falls back to the CPU once.
    :ivar testTimeAugmentation: average predictions over mirrored copies (nnU-Net's mirroring).
    :ivar folds: nnU-Net folds to ensemble, comma-separated (``"0,1,2"``, ``"all"``); empty: the model's folds.
    :ivar keepLargestComponent: keep only the largest connected component of each label.
    :ivar probabilities: also make one probability volume per label.
    :ivar uncertainty: also make the normalised entropy volume (and the variance across folds with 2+ folds).
    """

    method: str = "thresholdLargestIsland"
    threshold: float = 2.0
    headMarginMm: float = 10.0
    closingRadiusMm: float = 2.0
    fillHoles: bool = True
    minimumSizeMm3: float = 100.0
    segmentName: str = "Tumor"
    modelId: str = ""
    device: str = "auto"
    testTimeAugmentation: bool = True
    folds: str = ""
    keepLargestComponent: bool = False
    probabilities: bool = False
    uncertainty: bool = False

    def validate(self) -> None:
        requireChoice(self, "method", SEGMENTATION_METHODS)
        requireRange(self, "threshold", -10.0, 10.0)
        requireRange(self, "headMarginMm", 0.0, 100.0)
        requireRange(self, "closingRadiusMm", 0.0, 50.0)
        requireRange(self, "minimumSizeMm3", 0.0)
        requireChoice(self, "device", INFERENCE_DEVICES)
        self.foldList()
        if self.method == "model" and not self.modelId.strip():
            raise InputError(
                "SegmentationConfig.modelId is empty but method is 'model'; give a model id "
                "(see 'virtual-biopsy models list')."
            )

    def foldList(self) -> list[int | str] | None:
        """``folds`` as a list (``None`` when empty: the model's own folds).

        :raises InputError: for anything but whole numbers ≥ 0 and ``all``, comma-separated.
        """
        parts = [part.strip() for part in self.folds.replace(" ", ",").split(",") if part.strip()]
        if not parts:
            return None
        bad = [part for part in parts if not (part.isdigit() or part == "all")]
        if bad or len(set(parts)) != len(parts):
            raise InputError(
                f"SegmentationConfig.folds is '{self.folds}'; give distinct fold numbers and/or 'all', "
                "comma-separated (e.g. '0,1,2'), or leave it empty for every fold of the model."
            )
        return [int(part) if part.isdigit() else part for part in parts]
