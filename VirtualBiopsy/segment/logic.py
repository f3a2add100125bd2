"""Automatic tumour segmentation into segmentation nodes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.thresholdSegmentation import segmentBrightLesion

if TYPE_CHECKING:
    from VirtualBiopsy.segment.modelLogic import ModelSegmentation

logger = logging.getLogger(__name__)

#: Colour of the automatic tumour segment (Slicer's "tumor" green-yellow).
TUMOUR_COLOR = (0.78, 0.82, 0.25)


class SegmentationLogic:
    """Segment tumours of one scene, ready for review in the Segment Editor.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    :param runner: where AI models run (a :class:`~VirtualBiopsy.workers.runner.WorkerRunner`; default: a
        child process, see :class:`~VirtualBiopsy.segment.modelLogic.ModelSegmentationLogic`).
    :param registry: where model ids are looked up (default: the shipped and the user's models).
    """

    def __init__(self, scene, runner=None, registry=None) -> None:
        self.scene = scene
        self.runner = runner
        self.registry = registry

    def run(
        self,
        inputVolume,
        config: SegmentationConfig | None = None,
        outputSegmentation=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Segment the tumour of ``inputVolume`` into ``outputSegmentation`` (created when ``None``).

        The segmentation's reference geometry is the input volume's, so the
        Segment Editor edits it on the volume's grid.

        With ``config.method == "model"``, ``inputVolume`` may be ``{sequence: volume node}`` (T1c, FLAIR, …)
        and the segmentation gets one segment per model label; probability and uncertainty volumes, when
        asked for, are referenced from it (see :meth:`runModel`).

        :returns: the segmentation node (threshold method: one segment named ``config.segmentName``).
        """
        config = config or SegmentationConfig()
        if config.method == "model":
            return self.runModel(inputVolume, config, outputSegmentation, progress, cancel).segmentation
        progress = progress or noProgress
        image = volumeNodeToImage(inputVolume)
        progress(0.0, f"Segmenting {inputVolume.GetName()}")
        if cancel:
            cancel.raiseIfCancelled()
        mask = segmentBrightLesion(
            image,
            threshold=config.threshold,
            headMarginMm=config.headMarginMm,
            closingRadiusMm=config.closingRadiusMm,
            fillHoles=config.fillHoles,
            minimumSizeMm3=config.minimumSizeMm3,
        )
        if cancel:
            cancel.raiseIfCancelled()
        name = outputSegmentation.GetName() if outputSegmentation else f"{inputVolume.GetName()}_segmentation"
        outputSegmentation = labelmapImageToSegmentation(
            mask,
            self.scene,
            name,
            referenceVolume=inputVolume,
            segmentNames=[config.segmentName],
            segmentColors=[TUMOUR_COLOR],
            segmentationNode=outputSegmentation,
        )
        progress(1.0, "Segmentation done")
        return outputSegmentation

    def runModel(
        self,
        inputVolumes,
        config: SegmentationConfig,
        outputSegmentation=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> "ModelSegmentation":
        """Segment with the AI model ``config.modelId``: the segmentation and the probability / uncertainty
        volumes (see :meth:`VirtualBiopsy.segment.modelLogic.ModelSegmentationLogic.run`)."""
        from VirtualBiopsy.segment.modelLogic import ModelSegmentationLogic

        logic = ModelSegmentationLogic(self.scene, self.runner, self.registry)
        return logic.run(inputVolumes, config, outputSegmentation, progress, cancel)
