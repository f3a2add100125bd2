"""An agreement map (:func:`VirtualBiopsy.segment.qa.agreement.agreementMap`) as a segmentation for display."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.segment.qa.agreement import AGREEMENT_COLORS, AGREEMENT_NAMES

if TYPE_CHECKING:
    import slicer


def agreementMapToSegmentation(
    agreement: sitk.Image,
    scene: "slicer.vtkMRMLScene",
    name: str,
    referenceVolume: "slicer.vtkMRMLScalarVolumeNode | None" = None,
    segmentationNode: "slicer.vtkMRMLSegmentationNode | None" = None,
) -> "slicer.vtkMRMLSegmentationNode":
    """A segmentation with the segments "Agreement", "False positive" and "False negative", in that order
    and in distinct colours; a category without voxels is an empty segment, so all three are always there.

    :param agreement: labelmap with values 0–3 (1 agreement, 2 false positive, 3 false negative).
    :param referenceVolume: volume whose grid the map lies on (becomes the reference geometry).
    :param segmentationNode: node whose segments are replaced instead of creating one.
    :raises InputError: for values other than 0–3.
    :raises GeometryError: if the map does not lie on ``referenceVolume``'s grid.
    """
    present = [int(value) for value in np.unique(sitk.GetArrayViewFromImage(agreement)) if value != 0]
    unknown = [value for value in present if value not in AGREEMENT_NAMES]
    if unknown:
        raise InputError(
            f"The agreement map for '{name}' has values {unknown}; it may hold only 0 (outside), 1 (agreement), "
            "2 (false positive) and 3 (false negative). Build it with agreementMap(reference, prediction)."
        )
    node = labelmapImageToSegmentation(
        agreement,
        scene,
        name,
        referenceVolume=referenceVolume,
        segmentNames={label: AGREEMENT_NAMES[label] for label in present},
        segmentColors={label: AGREEMENT_COLORS[label] for label in present},
        segmentationNode=segmentationNode,
    )
    segmentation = node.GetSegmentation()
    for index, (label, segmentName) in enumerate(AGREEMENT_NAMES.items()):
        identifier = segmentation.GetSegmentIdBySegmentName(segmentName)
        if not identifier:
            identifier = segmentation.AddEmptySegment("", segmentName, list(AGREEMENT_COLORS[label]))
        segmentation.SetSegmentIndex(identifier, index)
    return node
