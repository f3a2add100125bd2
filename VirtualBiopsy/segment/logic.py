"""Automatic tumour segmentation into segmentation nodes."""

from __future__ import annotations

import logging

from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.thresholdSegmentation import segmentBrightLesion

logger = logging.getLogger(__name__)

#: Colour of the automatic tumour segment (Slicer's "tumor" green-yellow).
TUMOUR_COLOR = (0.78, 0.82, 0.25)


class SegmentationLogic:
    """Segment tumours of one scene, ready for review in the Segment Editor.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

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

        :returns: the segmentation node with one segment named ``config.segmentName``.
        """
        config = config or SegmentationConfig()
        progress = progress or noProgress
        progress(0.0, f"Segmenting {inputVolume.GetName()}")
        image = volumeNodeToImage(inputVolume)
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
