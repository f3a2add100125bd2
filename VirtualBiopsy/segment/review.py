"""Clinician review of an AI segmentation: keep the AI result as a hidden reference, then report what changed.

:meth:`ReviewLogic.startReview` copies the segmentation into a hidden
segmentation node linked to it (node reference :data:`REFERENCE_ROLE`; the copy
carries :data:`REFERENCE_OF_ATTRIBUTE`). After the clinician has edited the
segmentation (Segment Editor), :meth:`ReviewLogic.compare` matches segments by
name and reports, per segment, the DSC and HD95 against the AI result and the
added and removed volume, in a table node (:meth:`ReviewLogic.showChanges` shows one
segment's edit as agreement / false-positive / false-negative segments); it records the outcome under
``"review"`` in the segmentation's provenance (JSON in :data:`PROVENANCE_ATTRIBUTE`,
other keys kept), with ``"edited": true`` when anything changed.
"""

from __future__ import annotations

import datetime
import json
import logging

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName, segmentNames
from VirtualBiopsy.mrml.tables import COLUMN_PROPERTIES, dataFrameToTableNode
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.qa.agreement import agreementMap
from VirtualBiopsy.segment.qa.agreementSegmentation import agreementMapToSegmentation
from VirtualBiopsy.segment.qa.metrics import computeMetrics

logger = logging.getLogger(__name__)

#: Node reference role from the reviewed segmentation to its hidden AI reference.
REFERENCE_ROLE = "VirtualBiopsyReviewReference"
#: Attribute of the hidden reference: the ID of the segmentation it is the reference of.
REFERENCE_OF_ATTRIBUTE = "VirtualBiopsy.review.referenceOf"
#: Segmentation node attribute holding the segmentation's provenance as JSON.
PROVENANCE_ATTRIBUTE = "VirtualBiopsy.segmentation.provenance"

#: Columns of the comparison table, in order.
COLUMNS = ("Segment", "Change", "DSC", "HD95 (mm)", "Added (ml)", "Removed (ml)", "AI (ml)", "Reviewed (ml)")
_UNITS = {"HD95 (mm)": "mm", "Added (ml)": "ml", "Removed (ml)": "ml", "AI (ml)": "ml", "Reviewed (ml)": "ml"}
#: Values of the ``Change`` column.
UNCHANGED, EDITED, ADDED, REMOVED = "unchanged", "edited", "added", "removed"


class ReviewLogic:
    """Hand an AI segmentation to the clinician and measure the corrections.

    :param scene: the MRML scene that holds the segmentation and receives the reference and the table.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def startReview(self, segmentationNode, restart: bool = False):
        """Keep a hidden copy of ``segmentationNode`` as the AI reference of its review.

        A review already started keeps its reference (the AI result), unless ``restart``.

        :returns: the hidden reference segmentation node.
        :raises InputError: for a node that is not a segmentation, or one that is itself a review reference.
        """
        segments = segmentNames(segmentationNode)  # checks the node and that names are unique
        if segmentationNode.GetAttribute(REFERENCE_OF_ATTRIBUTE):
            raise InputError(
                f"'{segmentationNode.GetName()}' is the hidden AI reference of another review; "
                "start the review on the segmentation the clinician edits."
            )
        existing = self.referenceOf(segmentationNode)
        if existing is not None and not restart:
            logger.info("The review of '%s' was started already; its AI reference is kept.", segmentationNode.GetName())
            return existing
        if existing is not None:
            for displayNode in [existing.GetNthDisplayNode(i) for i in range(existing.GetNumberOfDisplayNodes())]:
                self.scene.RemoveNode(displayNode)
            self.scene.RemoveNode(existing)
        reference = self.scene.AddNewNodeByClass(
            "vtkMRMLSegmentationNode", f"{segmentationNode.GetName()} (AI reference)"
        )
        reference.GetSegmentation().DeepCopy(segmentationNode.GetSegmentation())
        geometryRole = reference.GetReferenceImageGeometryReferenceRole()
        geometryVolume = segmentationNode.GetNodeReference(geometryRole)
        if geometryVolume is not None:
            reference.SetNodeReferenceID(geometryRole, geometryVolume.GetID())
        reference.CreateDefaultDisplayNodes()
        reference.GetDisplayNode().SetVisibility(False)
        reference.SetHideFromEditors(True)
        reference.SetAttribute(REFERENCE_OF_ATTRIBUTE, segmentationNode.GetID())
        segmentationNode.SetNodeReferenceID(REFERENCE_ROLE, reference.GetID())
        _updateProvenance(
            segmentationNode,
            {
                "referenceNode": reference.GetName(),
                "started": _now(),
                "segments": list(segments),
                "edited": False,
            },
            replace=True,
        )
        return reference

    def referenceOf(self, segmentationNode):
        """The hidden AI reference of ``segmentationNode``'s review, or ``None`` if no review was started."""
        return segmentationNode.GetNodeReference(REFERENCE_ROLE)

    def compare(
        self,
        segmentationNode,
        outputTable=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """What the clinician changed since :meth:`startReview`, per segment (matched by name).

        Table columns (:data:`COLUMNS`): ``Segment``; ``Change`` (``unchanged``, ``edited``, ``added``: a segment
        the AI result lacks, ``removed``: one the clinician deleted); ``DSC`` and ``HD95 (mm)`` against the AI
        segment (a non-empty segment added or removed: DSC 0, HD95 inf, see
        :mod:`VirtualBiopsy.segment.qa.metrics`); ``Added (ml)``, ``Removed (ml)``; the two volumes.

        :param outputTable: table node to fill instead of creating one.
        :returns: the table node; the segmentation's provenance records the review as edited or not.
        :raises InputError: if no review was started or segment names repeat.
        :raises CancelledError: when ``cancel`` is set between segments.
        """
        progress = progress or noProgress
        reference = self.referenceOf(segmentationNode)
        if reference is None:
            raise InputError(
                f"No review was started on '{segmentationNode.GetName()}' (or its AI reference was deleted); "
                "call startReview before the clinician edits, then compare."
            )
        progress(0.0, f"Comparing '{segmentationNode.GetName()}' with its AI result")
        aiMasks = segmentMasksByName(reference)
        geometry = next(iter(aiMasks.values()), None)
        reviewedMasks = segmentMasksByName(segmentationNode, geometry)
        if geometry is None and reviewedMasks:
            geometry = next(iter(reviewedMasks.values()))
        names = list(aiMasks) + [name for name in reviewedMasks if name not in aiMasks]
        rows = []
        for index, name in enumerate(names):
            if cancel:
                cancel.raiseIfCancelled()
            progress(index / max(len(names), 1), f"Segment {name} ({index + 1}/{len(names)})")
            assert geometry is not None, "a segment's mask gives the geometry"
            rows.append(_compareSegment(name, aiMasks.get(name), reviewedMasks.get(name), geometry))
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame.attrs[COLUMN_PROPERTIES] = {column: {"unitLabel": unit} for column, unit in _UNITS.items()}
        table = dataFrameToTableNode(
            frame,
            self.scene,
            outputTable.GetName() if outputTable else f"{segmentationNode.GetName()} review changes",
            tableNode=outputTable,
        )
        edited = any(row["Change"] != UNCHANGED for row in rows)
        _updateProvenance(
            segmentationNode,
            {
                "compared": _now(),
                "edited": edited,
                "changes": {
                    row["Segment"]: {
                        "change": row["Change"],
                        "dsc": row["DSC"],
                        "addedMl": row["Added (ml)"],
                        "removedMl": row["Removed (ml)"],
                    }
                    for row in rows
                },
            },
        )
        progress(1.0, "Edited" if edited else "Unchanged")
        return table

    def showChanges(self, segmentationNode, segmentName: str, outputSegmentation=None):
        """A segmentation that shows one segment's edit: "Agreement" (kept), "False positive" (drawn by the
        clinician only: added) and "False negative" (AI only: removed), on the AI reference's grid.

        :param outputSegmentation: segmentation node to fill instead of creating one.
        :raises InputError: if no review was started or neither segmentation has ``segmentName``.
        """
        reference = self.referenceOf(segmentationNode)
        if reference is None:
            raise InputError(f"No review was started on '{segmentationNode.GetName()}'; call startReview first.")
        aiMasks = segmentMasksByName(reference)
        geometry = next(iter(aiMasks.values()), None)
        reviewedMasks = segmentMasksByName(segmentationNode, geometry)
        if segmentName not in aiMasks and segmentName not in reviewedMasks:
            known = ", ".join(dict.fromkeys([*aiMasks, *reviewedMasks])) or "none"
            raise InputError(
                f"Neither '{segmentationNode.GetName()}' nor its AI reference has a segment named "
                f"'{segmentName}' (segments: {known}); pick one of these."
            )
        geometry = geometry if geometry is not None else next(iter(reviewedMasks.values()))
        empty = sitk.Image(geometry.GetSize(), sitk.sitkUInt8)
        empty.CopyInformation(geometry)
        changes = agreementMap(aiMasks.get(segmentName, empty), reviewedMasks.get(segmentName, empty))
        name = (
            outputSegmentation.GetName()
            if outputSegmentation
            else f"{segmentationNode.GetName()} {segmentName} changes"
        )
        return agreementMapToSegmentation(changes, self.scene, name, segmentationNode=outputSegmentation)


def _compareSegment(name: str, ai: sitk.Image | None, reviewed: sitk.Image | None, geometry: sitk.Image) -> dict:
    empty = sitk.Image(geometry.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(geometry)
    metrics = computeMetrics(ai if ai is not None else empty, reviewed if reviewed is not None else empty)
    voxelMl = float(np.prod(geometry.GetSpacing())) / 1000.0
    if ai is None:
        change = ADDED
    elif reviewed is None:
        change = REMOVED
    else:
        change = EDITED if metrics.falsePositives or metrics.falseNegatives else UNCHANGED
    return {
        "Segment": name,
        "Change": change,
        "DSC": metrics.dsc,
        "HD95 (mm)": metrics.hd95Mm,
        "Added (ml)": metrics.falsePositives * voxelMl,
        "Removed (ml)": metrics.falseNegatives * voxelMl,
        "AI (ml)": metrics.referenceMl,
        "Reviewed (ml)": metrics.predictionMl,
    }


def _updateProvenance(segmentationNode, review: dict, replace: bool = False) -> None:
    """Merge ``review`` into (or, with ``replace``, put it in place of) the ``"review"`` entry of the node's
    provenance JSON, keeping every other entry."""
    text = segmentationNode.GetAttribute(PROVENANCE_ATTRIBUTE)
    try:
        provenance = json.loads(text) if text else {}
    except json.JSONDecodeError:
        logger.warning("The provenance of '%s' is not JSON; it is kept under 'unparsed'.", segmentationNode.GetName())
        provenance = {"unparsed": text}
    if not isinstance(provenance, dict):
        provenance = {"unparsed": provenance}
    provenance["review"] = review if replace else {**provenance.get("review", {}), **review}
    segmentationNode.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps(provenance))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
