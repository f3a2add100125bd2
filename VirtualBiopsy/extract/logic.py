"""Feature extraction from volume and segmentation nodes into table nodes.

The output table is long ("tidy"): one row per (segment, feature) with the columns
``Segment`` (the segment's name), ``Feature`` and ``Value``, as SlicerRadiomics shows
features. Several volumes (sequences) prefix the feature names with the sequence name
(``T1c_original_glcm_Contrast``); shape features come once. Diagnostics, undefined
features and provenance stay out of the values: they are JSON in the table node's
attributes :data:`PROVENANCE_ATTRIBUTE` and :data:`UNDEFINED_ATTRIBUTE` (per segment).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.extraction import ExtractionResult, extractFeatures
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentIdOf, segmentMaskImage
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Table node attribute: ``{segment name: {"provenance": ..., "diagnostics": ...}}`` as JSON.
PROVENANCE_ATTRIBUTE = "VirtualBiopsy.extraction.provenance"

#: Table node attribute: ``{segment name: {feature: reason}}`` as JSON.
UNDEFINED_ATTRIBUTE = "VirtualBiopsy.extraction.undefined"

#: Table columns, in order.
COLUMNS = ("Segment", "Feature", "Value")


class ExtractionLogic:
    """Extract radiomics features of segments on volumes of one scene.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def computeFeatures(
        self,
        volumes,
        segmentation,
        config: ExtractionConfig | None = None,
        segmentIds: Sequence[str] | str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, ExtractionResult]:
        """Compute the features of segments of ``segmentation`` on ``volumes``.

        :param volumes: a scalar volume node (pyradiomics' feature names) or ``{sequence: node}``.
        :param segmentIds: segment IDs or unique names; ``None`` takes every segment.
        :returns: ``{segment ID: ExtractionResult}`` in segment order.
        :raises InputError: for no segments, an unknown or empty segment, or a check that fails.
        :raises CancelledError: when ``cancel`` is set between segments.
        """
        config = config or ExtractionConfig()
        progress = progress or noProgress
        settings = config.settings()
        named = _namedVolumes(volumes)
        ids = _segmentIds(segmentation, segmentIds)
        images = {name: volumeNodeToImage(node) for name, node in named.items()}
        results: dict[str, ExtractionResult] = {}
        for index, segmentId in enumerate(ids):
            if cancel:
                cancel.raiseIfCancelled()
            segmentName = segmentation.GetSegmentation().GetSegment(segmentId).GetName()
            progress(index / len(ids), f"Extracting features of {segmentName} ({index + 1}/{len(ids)})")
            masks = {name: segmentMaskImage(segmentation, segmentId, node) for name, node in named.items()}
            results[segmentId] = extractFeatures(
                images,
                masks,
                settings,
                label=1,
                minimumRoiVoxels=config.minimumRoiVoxels,
                resampleMaskToImage=config.resampleMaskToImage,
                crop=config.cropToRoi,
            )
        if cancel:
            cancel.raiseIfCancelled()
        return results

    def run(
        self,
        volumes,
        segmentation,
        config: ExtractionConfig | None = None,
        segmentIds: Sequence[str] | str | None = None,
        outputTable=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Extract features into ``outputTable`` (created when ``None``; see the module for its layout).

        :returns: the table node.
        """
        progress = progress or noProgress
        results = self.computeFeatures(
            volumes,
            segmentation,
            config,
            segmentIds,
            progress=lambda fraction, message: progress(0.95 * fraction, message),
            cancel=cancel,
        )
        segments = segmentation.GetSegmentation()
        rows: list[tuple[str, str, float]] = []
        provenance, undefined = {}, {}
        for segmentId, result in results.items():
            segmentName = segments.GetSegment(segmentId).GetName()
            rows.extend((segmentName, feature, value) for feature, value in result.features.items())
            provenance[segmentName] = {
                "segmentId": segmentId,
                "provenance": result.provenance,
                "diagnostics": result.diagnostics,
            }
            undefined[segmentName] = result.reasons
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        name = outputTable.GetName() if outputTable else f"{_firstVolume(volumes).GetName()}_features"
        table = dataFrameToTableNode(frame, self.scene, name, tableNode=outputTable)
        table.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps(provenance, default=str))
        table.SetAttribute(UNDEFINED_ATTRIBUTE, json.dumps(undefined))
        count = sum(len(result.features) for result in results.values())
        missing = sum(len(result.undefined) for result in results.values())
        progress(1.0, f"{count} features extracted" + (f", {missing} undefined" if missing else ""))
        return table


def _namedVolumes(volumes) -> dict[str | None, object]:
    if isinstance(volumes, Mapping):
        if not volumes:
            raise InputError("No volume was given; pass a volume node or {sequence: volume node}.")
        if len(volumes) == 1:
            return dict(volumes)
        return {str(name): node for name, node in volumes.items()}
    if volumes is None:
        raise InputError("No volume was given; select the volume to extract features from.")
    return {None: volumes}


def _firstVolume(volumes):
    return next(iter(volumes.values())) if isinstance(volumes, Mapping) else volumes


def _segmentIds(segmentation, segmentIds: Sequence[str] | str | None) -> list[str]:
    if segmentation is None or not hasattr(segmentation, "GetSegmentation"):
        kind = type(segmentation).__name__ if segmentation is not None else "nothing"
        raise InputError(
            f"Expected a segmentation node, got {kind}; select the segmentation that holds the region of interest."
        )
    if isinstance(segmentIds, str):
        segmentIds = [segmentIds]
    if segmentIds:
        return [segmentIdOf(segmentation, name) for name in segmentIds]
    segments = segmentation.GetSegmentation()
    ids = [segments.GetNthSegmentID(index) for index in range(segments.GetNumberOfSegments())]
    if not ids:
        raise InputError(f"Segmentation '{segmentation.GetName()}' has no segments; draw the region of interest first.")
    return ids
