"""Feature extraction from volume and segmentation nodes into table nodes."""

from __future__ import annotations

import logging

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.radiomicsFeatures import computeRadiomicsFeatures
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentMaskImage
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


class ExtractionLogic:
    """Extract radiomics features of segments on volumes of one scene.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def computeFeatures(
        self, volume, segmentation, config: ExtractionConfig | None = None, segmentId: str | None = None
    ) -> dict[str, float]:
        """Compute the features of one segment of ``segmentation`` on ``volume``.

        :param segmentId: the segment to use; ``None`` takes the only segment.
        :returns: ``{feature name: value}`` in pyradiomics' order.
        """
        config = config or ExtractionConfig()
        segmentId = segmentId or _onlySegmentId(segmentation)
        image = volumeNodeToImage(volume)
        mask = segmentMaskImage(segmentation, segmentId, volume)
        return computeRadiomicsFeatures(image, mask, config)

    def run(
        self,
        volume,
        segmentation,
        config: ExtractionConfig | None = None,
        segmentId: str | None = None,
        outputTable=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Extract features into ``outputTable`` (created when ``None``): one row per
        feature, columns ``Feature`` and ``Value``, as SlicerRadiomics shows them.

        :returns: the table node.
        """
        progress = progress or noProgress
        progress(0.0, f"Extracting features of {segmentation.GetName()} on {volume.GetName()}")
        features = self.computeFeatures(volume, segmentation, config, segmentId)
        if cancel:
            cancel.raiseIfCancelled()
        frame = pd.DataFrame({"Feature": list(features), "Value": list(features.values())})
        name = outputTable.GetName() if outputTable else f"{volume.GetName()}_features"
        table = dataFrameToTableNode(frame, self.scene, name, tableNode=outputTable)
        progress(1.0, f"{len(features)} features extracted")
        return table


def _onlySegmentId(segmentation) -> str:
    segments = segmentation.GetSegmentation()
    count = segments.GetNumberOfSegments()
    if count != 1:
        names = [segments.GetNthSegment(i).GetName() for i in range(count)]
        raise InputError(
            f"Segmentation '{segmentation.GetName()}' has {count} segments ({', '.join(names) or 'none'}); "
            "choose the segment to extract features from."
        )
    return segments.GetNthSegmentID(0)
