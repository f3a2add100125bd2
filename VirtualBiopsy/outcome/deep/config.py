"""Settings of the Outcome module's Deep learning panel (Grad-CAM of a trained 3D CNN)."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Grad-CAM variants (``gradcam.METHODS``; repeated here so the config loads without torch).
GRADCAM_METHODS = ("gradcam", "gradcampp")
#: Attribute of a Grad-CAM map node naming the node it was computed on (here, not in ``deep.logic``, so that
#: the patient summary reads it without importing the network code).
SOURCE_ATTRIBUTE = "VirtualBiopsy.GradCAM.SourceVolumeID"


@dataclass
class DeepOutcomeConfig(StageConfig):
    """Which network explains the patient and how its Grad-CAM map is shown.

    :ivar deepModel: a model id of the registry or a model folder (``virtual-biopsy outcome cnn train``).
    :ivar gradCamMethod: ``gradcam`` or ``gradcampp``.
    :ivar gradCamClass: the class explained (name or index); empty: the predicted class.
    :ivar gradCamLayer: the network layer; empty: the model's default.
    :ivar overlayOpacity: opacity of the map over the image in the slice views.
    """

    deepModel: str = ""
    gradCamMethod: str = "gradcam"
    gradCamClass: str = ""
    gradCamLayer: str = ""
    overlayOpacity: float = 0.5

    def validate(self) -> None:
        requireChoice(self, "gradCamMethod", GRADCAM_METHODS)
        requireRange(self, "overlayOpacity", 0.0, 1.0)

    def classIndex(self) -> int | str | None:
        """:attr:`gradCamClass` as :func:`~VirtualBiopsy.outcome.deep.gradcam.gradCam` takes it."""
        text = self.gradCamClass.strip()
        return None if not text else int(text) if text.isdigit() else text
