"""Segmentation nodes ⇄ labelmap and mask images.

Conversions go through a temporary labelmap volume node and the static
methods of ``vtkSlicerSegmentationsModuleLogic`` (``slicer.modules`` does not
exist outside the Slicer application).  Voxels are exact; on a reference
volume's grid the returned image carries that volume's exact geometry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import slicer

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, gridOf, requireScalar3D
from VirtualBiopsy.mrml.images import (
    imageToVolumeNode,
    nodeGrid,
    requireNoTransform,
    volumeNodeToImage,
)
from VirtualBiopsy.mrml.messages import messageText

logger = logging.getLogger(__name__)

#: Differences up to this (mm, direction cosines) are round-off of Slicer's matrix arithmetic.
_ROUND_OFF = 1e-6


@dataclass(frozen=True)
class SegmentInfo:
    """One segment as it appears in a labelmap image.

    :ivar label: voxel value of the segment in the labelmap.
    :ivar segmentId: the segment's ID in the segmentation node.
    :ivar name: the segment's name.
    :ivar color: RGB colour, each in [0, 1].
    """

    label: int
    segmentId: str
    name: str
    color: tuple[float, float, float]


def segmentationToLabelmapImage(
    segmentationNode: "slicer.vtkMRMLSegmentationNode",
    referenceVolume: "slicer.vtkMRMLScalarVolumeNode | None" = None,
    segmentIds: Sequence[str] | None = None,
) -> tuple[sitk.Image, list[SegmentInfo]]:
    """Export segments to one labelmap image, labels 1..n in segment order.

    Overlapping segments: a voxel gets the label of the later segment.

    :param segmentationNode: the segmentation.
    :param referenceVolume: put the labelmap on this volume's exact grid; if not given,
        the segmentation's reference geometry volume is used when it is in the scene,
        else the segmentation's own reference geometry.
    :param segmentIds: segments to export, in label order (IDs or unique names); all by default.
    :returns: the labelmap (UInt8, or UInt16 beyond 255 segments) and one :class:`SegmentInfo` per label.
    :raises InputError: for an unknown segment or an empty segmentation.
    :raises GeometryError: if a node is under a transform.
    """
    segmentation = _requireSegmentation(segmentationNode)
    ids = (
        [segmentIdOf(segmentationNode, name) for name in segmentIds]
        if segmentIds is not None
        else _allIds(segmentation)
    )
    if not ids:
        raise InputError(f"Segmentation '{segmentationNode.GetName()}' has no segments to export. Add a segment first.")
    requireNoTransform(segmentationNode)
    if referenceVolume is None:
        role = slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole()
        referenceVolume = segmentationNode.GetNodeReference(role)
    if referenceVolume is not None:
        requireNoTransform(referenceVolume)
    _ensureBinaryLabelmaps(segmentationNode)

    scene = segmentationNode.GetScene()
    with _temporaryNodes(scene):
        labelmapNode = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "VirtualBiopsyExport")
        exported = slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentationNode, ids, labelmapNode, referenceVolume, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY
        )
        if not exported or labelmapNode.GetImageData() is None:
            raise InputError(
                f"Could not export segments {ids} of '{segmentationNode.GetName()}' to a labelmap. "
                "Check that the segments have a binary labelmap representation."
            )
        image = volumeNodeToImage(labelmapNode)
    if referenceVolume is not None:
        image = _onExactGrid(image, referenceVolume)
    image = sitk.Cast(image, sitk.sitkUInt8 if len(ids) < 256 else sitk.sitkUInt16)
    infos = []
    for label, identifier in enumerate(ids, start=1):
        segment = segmentation.GetSegment(identifier)
        red, green, blue = segment.GetColor()
        infos.append(SegmentInfo(label, identifier, segment.GetName(), (float(red), float(green), float(blue))))
    return image, infos


def labelmapImageToSegmentation(
    image: sitk.Image,
    scene: "slicer.vtkMRMLScene",
    name: str,
    referenceVolume: "slicer.vtkMRMLScalarVolumeNode | None" = None,
    segmentNames: Mapping[int, str] | Sequence[str] | None = None,
    segmentColors: Mapping[int, Sequence[float]] | Sequence[Sequence[float]] | None = None,
    segmentationNode: "slicer.vtkMRMLSegmentationNode | None" = None,
) -> "slicer.vtkMRMLSegmentationNode":
    """Make one segment per non-zero label of an integer labelmap image.

    Segments are created in increasing label order.  ``segmentNames`` and
    ``segmentColors`` are either mappings label → value or sequences in that
    order; names default to ``"Segment_<label>"``.

    :param image: 3D integer labelmap (0 = background).
    :param scene: scene that receives a new segmentation node.
    :param name: name of the segmentation node.
    :param referenceVolume: the volume the labelmap belongs to; its grid must match the
        labelmap's and it becomes the segmentation's reference geometry.  Without it the
        labelmap's own grid is the reference geometry.
    :param segmentationNode: node whose segments are replaced instead of creating one.
    :raises GeometryError: if the labelmap does not lie on ``referenceVolume``'s grid.
    :raises InputError: for a non-integer or negative labelmap or bad names/colours.
    """
    requireScalar3D(image, "labelmap")
    voxels = sitk.GetArrayViewFromImage(image)
    if not np.issubdtype(voxels.dtype, np.integer):
        raise InputError(
            f"The labelmap for '{name}' has {image.GetPixelIDTypeAsString()} voxels; labels must be integers. "
            "Cast it, e.g. SimpleITK.Cast(labelmap, SimpleITK.sitkUInt16)."
        )
    labels = [int(v) for v in np.unique(voxels) if v != 0]
    if labels and labels[0] < 0:
        raise InputError(
            f"The labelmap for '{name}' has negative labels {[v for v in labels if v < 0]}; use labels 1..n."
        )
    names = _perLabel(segmentNames, labels, "segmentNames")
    colors = _perLabel(segmentColors, labels, "segmentColors")
    if referenceVolume is not None:
        requireLabelmapOnGrid(image, referenceVolume, f"labelmap for '{name}'")
    if not labels:
        logger.warning("The labelmap for '%s' is empty: the segmentation has no segments.", name)

    if segmentationNode is None:
        segmentationNode = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    else:
        _requireSegmentation(segmentationNode)
        requireNoTransform(segmentationNode)
        segmentationNode.SetName(name)
        segmentationNode.GetSegmentation().RemoveAllSegments()
    if segmentationNode.GetDisplayNode() is None:
        segmentationNode.CreateDefaultDisplayNodes()

    with _temporaryNodes(scene):
        labelmapNode = imageToVolumeNode(image, scene, "VirtualBiopsyImport", labelmap=True)
        if referenceVolume is not None:
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolume)
        else:
            segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(labelmapNode)
        messages = slicer.vtkMRMLMessageCollection()
        imported = labels == [] or slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            labelmapNode, segmentationNode, "", messages
        )
        if not imported:
            raise InputError(f"Could not import the labelmap into '{name}': {messageText(messages)}")
    segmentation = segmentationNode.GetSegmentation()
    for identifier in _allIds(segmentation):
        segment = segmentation.GetSegment(identifier)
        label = segment.GetLabelValue()
        segment.SetName(names.get(label) or f"Segment_{label}")
        if label in colors:
            segment.SetColor(*_color(colors[label]))
    return segmentationNode


def segmentMaskImage(
    segmentationNode: "slicer.vtkMRMLSegmentationNode",
    segmentId: str,
    referenceVolume: "slicer.vtkMRMLScalarVolumeNode",
) -> sitk.Image:
    """The binary mask (UInt8, 0/1) of one segment on the exact grid of ``referenceVolume``.

    :param segmentId: the segment's ID, or its name if that is unique.
    :raises InputError: for an unknown segment (listing the segments) or a segment
        with no voxel inside the volume.
    """
    if referenceVolume is None:
        raise InputError("segmentMaskImage needs the reference volume whose grid the mask must match.")
    identifier = segmentIdOf(segmentationNode, segmentId)
    mask, _infos = segmentationToLabelmapImage(segmentationNode, referenceVolume, [identifier])
    if not sitk.GetArrayViewFromImage(mask).any():
        name = segmentationNode.GetSegmentation().GetSegment(identifier).GetName()
        raise InputError(
            f"Segment '{name}' ({identifier}) of '{segmentationNode.GetName()}' has no voxel inside volume "
            f"'{referenceVolume.GetName()}'. Draw the segment on this volume or pick another segment."
        )
    return mask


def requireLabelmapOnGrid(image: sitk.Image, volumeNode: "slicer.vtkMRMLScalarVolumeNode", what: str) -> None:
    """Raise :class:`GeometryError` unless labelmap ``image`` lies on the grid of ``volumeNode`` (within 1e-4).

    :param what: the labelmap, for the message (e.g. ``"labelmap file /data/case1_label.nrrd"``).
    """
    requireNoTransform(volumeNode)
    differences = gridDifferences(nodeGrid(volumeNode), gridOf(image), 1e-4, "labelmap")
    if differences:
        raise GeometryError(
            f"The {what} does not lie on the grid of volume '{volumeNode.GetName()}': {'; '.join(differences)}. "
            "Resample the labelmap onto the volume (nearest neighbour) or use the labelmap that belongs to this volume."
        )


def segmentIdOf(segmentationNode: "slicer.vtkMRMLSegmentationNode", segmentIdOrName: str) -> str:
    """The ID of a segment given its ID or its unique name.

    :raises InputError: listing the existing segments if there is no such segment.
    """
    segmentation = _requireSegmentation(segmentationNode)
    if segmentIdOrName and segmentation.GetSegment(segmentIdOrName) is not None:
        return segmentIdOrName
    matches = [i for i in _allIds(segmentation) if segmentation.GetSegment(i).GetName() == segmentIdOrName]
    if len(matches) == 1:
        return matches[0]
    existing = ", ".join(f"{i} ('{segmentation.GetSegment(i).GetName()}')" for i in _allIds(segmentation)) or "none"
    problem = "several segments are named" if matches else "there is no segment with ID or name"
    raise InputError(
        f"In segmentation '{segmentationNode.GetName()}' {problem} '{segmentIdOrName}'. "
        f"Existing segments: {existing}. Pass one of these IDs."
    )


def _requireSegmentation(segmentationNode: object) -> "slicer.vtkSegmentation":
    if not isinstance(segmentationNode, slicer.vtkMRMLSegmentationNode):
        kind = type(segmentationNode).__name__ if segmentationNode is not None else "None"
        raise InputError(f"Expected a segmentation node, got {kind}. Pass a vtkMRMLSegmentationNode.")
    return segmentationNode.GetSegmentation()


def _allIds(segmentation: "slicer.vtkSegmentation") -> list[str]:
    return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]


def _ensureBinaryLabelmaps(segmentationNode: "slicer.vtkMRMLSegmentationNode") -> None:
    segmentation = segmentationNode.GetSegmentation()
    binaryName = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
    if not segmentation.ContainsRepresentation(binaryName) and not segmentation.CreateRepresentation(binaryName):
        raise InputError(
            f"Segmentation '{segmentationNode.GetName()}' cannot be converted to a binary labelmap "
            f"(its source representation is {segmentation.GetSourceRepresentationName()}). "
            "Set a reference geometry or convert it in the Segmentations module."
        )


def _onExactGrid(image: sitk.Image, referenceVolume: "slicer.vtkMRMLScalarVolumeNode") -> sitk.Image:
    """Give an exported labelmap the reference volume's exact grid (export goes through matrices)."""
    reference = nodeGrid(referenceVolume)
    differences = gridDifferences(reference, gridOf(image), _ROUND_OFF, "labelmap")
    if differences:
        raise GeometryError(
            f"Exported labelmap does not match the grid of '{referenceVolume.GetName()}': {'; '.join(differences)}."
        )
    image = sitk.Image(image)
    image.SetSpacing(reference[1])
    image.SetOrigin(reference[2])
    image.SetDirection(reference[3])
    return image


def _perLabel(values: Mapping | Sequence | None, labels: list[int], what: str) -> dict:
    if values is None:
        return {}
    if isinstance(values, Mapping):
        unknown = sorted(set(values) - set(labels))
        if unknown:
            raise InputError(
                f"{what} has entries for labels {unknown} that the labelmap does not contain (it has {labels})."
            )
        return {int(k): v for k, v in values.items()}
    values = list(values)
    if len(values) != len(labels):
        raise InputError(
            f"{what} has {len(values)} entries but the labelmap has {len(labels)} labels {labels}; "
            "give one per label, in increasing label order, or a mapping label -> value."
        )
    return dict(zip(labels, values))


def _color(value: Sequence[float]) -> tuple[float, float, float]:
    color = tuple(float(c) for c in value)
    if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
        raise InputError(f"Segment colour {tuple(value)} is invalid; give three numbers (r, g, b) in [0, 1].")
    return color


@contextlib.contextmanager
def _temporaryNodes(scene: "slicer.vtkMRMLScene") -> Iterator[None]:
    """Remove every node added to ``scene`` inside the block (helpers and the colour tables export adds)."""
    before = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    try:
        yield
    finally:
        added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
        for node in added:
            if node.GetID() not in before and not isinstance(node, slicer.vtkMRMLSegmentationNode):
                scene.RemoveNode(node)
