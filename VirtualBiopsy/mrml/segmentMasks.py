"""Segments ⇄ binary mask images, by segment name and on one chosen grid.

Used to compare two segmentations segment by segment (a clinician's edit
against the AI result) and to write an edited mask back into a segment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import SimpleITK as sitk
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import requireScalar3D
from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.mrml.segmentations import (
    _requireSegmentation,
    segmentationToLabelmapImage,
    segmentIdOf,
)


def segmentNames(segmentationNode: "slicer.vtkMRMLSegmentationNode") -> dict[str, str]:
    """``{segment name: segment ID}`` in segment order.

    :raises InputError: if two segments share a name (segments are matched by name).
    """
    segmentation = _requireSegmentation(segmentationNode)
    names: dict[str, str] = {}
    for index in range(segmentation.GetNumberOfSegments()):
        identifier = segmentation.GetNthSegmentID(index)
        name = segmentation.GetSegment(identifier).GetName()
        if name in names:
            raise InputError(
                f"Segmentation '{segmentationNode.GetName()}' has two segments named '{name}' ({names[name]} and "
                f"{identifier}); segments are matched by name, so rename one of them."
            )
        names[name] = identifier
    return names


def segmentMasksByName(
    segmentationNode: "slicer.vtkMRMLSegmentationNode", geometry: sitk.Image | None = None
) -> dict[str, sitk.Image]:
    """The binary mask (UInt8, 0/1) of every segment, by name, all on one grid.

    Empty segments give all-zero masks.

    :param geometry: put the masks on this image's grid (its voxels are ignored); by default the
        segmentation's reference geometry (its reference volume when it is in the scene).
    :raises InputError: for duplicate segment names or a segment that cannot be exported.
    :raises GeometryError: if a node is under a transform.
    """
    names = segmentNames(segmentationNode)
    if not names:
        return {}
    with _geometryVolume(segmentationNode.GetScene(), geometry) as referenceVolume:
        masks = {}
        for name, identifier in names.items():
            mask, _infos = segmentationToLabelmapImage(segmentationNode, referenceVolume, [identifier])
            masks[name] = sitk.Cast(mask != 0, sitk.sitkUInt8)
    return masks


def setSegmentMask(segmentationNode: "slicer.vtkMRMLSegmentationNode", segmentIdOrName: str, mask: sitk.Image) -> None:
    """Replace the voxels of a segment by the non-zero voxels of ``mask`` (on any grid; world positions are kept).

    :raises InputError: for an unknown segment or a mask that is not 3D scalar.
    """
    requireScalar3D(mask, "mask")
    identifier = segmentIdOf(segmentationNode, segmentIdOrName)
    binary = sitk.Cast(mask != 0, sitk.sitkUInt8)
    scene = segmentationNode.GetScene()
    labelmapNode = imageToVolumeNode(binary, scene, "VirtualBiopsySegmentMask", labelmap=True)
    try:
        logic = slicer.vtkSlicerSegmentationsModuleLogic
        orientedImage = logic.CreateOrientedImageDataFromVolumeNode(labelmapNode)
        if not logic.SetBinaryLabelmapToSegment(orientedImage, segmentationNode, identifier, logic.MODE_REPLACE):
            raise InputError(
                f"Could not write the mask into segment '{segmentIdOrName}' of '{segmentationNode.GetName()}'. "
                "Check that the segmentation has a binary labelmap representation."
            )
    finally:
        _removeNode(scene, labelmapNode)


@contextlib.contextmanager
def _geometryVolume(scene: "slicer.vtkMRMLScene", geometry: sitk.Image | None) -> Iterator[object]:
    """A temporary labelmap node on ``geometry``'s grid (``None`` when no geometry is given)."""
    if geometry is None:
        yield None
        return
    requireScalar3D(geometry, "geometry image")
    template = sitk.GetImageFromArray(np.zeros(sitk.GetArrayViewFromImage(geometry).shape, np.uint8))
    template.CopyInformation(geometry)
    node = imageToVolumeNode(template, scene, "VirtualBiopsyGeometry", labelmap=True)
    try:
        yield node
    finally:
        _removeNode(scene, node)


def _removeNode(scene: "slicer.vtkMRMLScene", node: "slicer.vtkMRMLDisplayableNode") -> None:
    for displayNode in [node.GetNthDisplayNode(index) for index in range(node.GetNumberOfDisplayNodes())]:
        if displayNode is not None:
            scene.RemoveNode(displayNode)
    scene.RemoveNode(node)
