"""DICOM series, RTSTRUCT and SEG files into MRML nodes (volume and segmentation nodes).

The reading is :mod:`VirtualBiopsy.dicom` (pydicom); this module only turns what it
reads into nodes through :func:`~VirtualBiopsy.mrml.images.imageToVolumeNode` and
:func:`~VirtualBiopsy.mrml.segmentations.labelmapImageToSegmentation`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk
import slicer

if TYPE_CHECKING:
    from VirtualBiopsy.dicom.rtstruct import RoiMask

from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation


def loadDicomSeriesNode(
    folder: str | os.PathLike,
    scene: "slicer.vtkMRMLScene",
    name: str | None = None,
    resampleTilt: bool = False,
) -> "slicer.vtkMRMLScalarVolumeNode":
    """Read one DICOM series folder (:func:`~VirtualBiopsy.dicom.seriesVolume.readSeriesVolume`) into a volume node.

    :param name: node name; the folder name by default.
    :param resampleTilt: resample a gantry-tilted stack onto an orthogonal grid instead of refusing it.
    :raises InputError: for an incomplete or irregular series (every problem listed).
    :raises GeometryError: for a tilted stack when ``resampleTilt`` is false.
    """
    from VirtualBiopsy.dicom.seriesVolume import readSeriesVolume

    image = readSeriesVolume(folder, resampleTilt=resampleTilt)
    name = name or pathlib.Path(folder).name
    return imageToVolumeNode(image, scene, name, volumeNode=_displayedVolumeNode(scene, name, image))


def _displayedVolumeNode(
    scene: "slicer.vtkMRMLScene", name: str, image: sitk.Image
) -> "slicer.vtkMRMLScalarVolumeNode":
    """A volume node whose grey display has the window of Slicer's automatic one (0.1-99.9 percentiles).

    Slicer's default display node computes that window from a histogram of every voxel, which took
    longer than reading a 300-slice series; a sample of a million voxels gives it to within a grey level or so.
    """
    voxels = sitk.GetArrayViewFromImage(image).ravel()
    low, high = np.percentile(voxels[:: max(1, voxels.size // 1_000_000)], (0.1, 99.9))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    display = scene.AddNewNodeByClass("vtkMRMLScalarVolumeDisplayNode")
    display.SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")
    display.SetAutoWindowLevel(False)
    display.SetWindowLevelMinMax(float(low), float(high))
    node.SetAndObserveDisplayNodeID(display.GetID())
    return node


def loadRtstructNode(
    path: str | os.PathLike,
    referenceFolder: str | os.PathLike,
    scene: "slicer.vtkMRMLScene",
    name: str | None = None,
    rois: "list[RoiMask] | None" = None,
) -> "slicer.vtkMRMLSegmentationNode":
    """Read an RTSTRUCT on its reference series' grid into a segmentation node: one segment per ROI.

    Segments carry the ROI names and the ``ROIDisplayColor`` colours (where given), in the
    file's ROI order; overlapping ROIs stay separate segments.

    :param rois: the ROIs already read from ``path`` (:func:`~VirtualBiopsy.dicom.rtstruct.readRtstructRois`).
    :raises InputError: when the referenced series is not the one in ``referenceFolder``, or the file is not
        an RTSTRUCT.
    :raises GeometryError: for a contour off the reference grid's slice planes.
    """
    from VirtualBiopsy.dicom.rtstruct import readRtstructRois

    if rois is None:
        rois = readRtstructRois(path, referenceFolder)
    masks = [(roi.name, roi.mask, roi.color) for roi in rois]
    return segmentationNodeFromMasks(masks, scene, name or pathlib.Path(path).stem)


def loadDicomSegNode(
    path: str | os.PathLike,
    scene: "slicer.vtkMRMLScene",
    referenceFolder: str | os.PathLike | None = None,
    name: str | None = None,
) -> "slicer.vtkMRMLSegmentationNode":
    """Read a DICOM SEG into a segmentation node: one segment per SEG segment, with its label as name.

    A FRACTIONAL SEG's probabilities become binary segments at 0.5 (a segmentation node holds binary
    labelmaps). With ``referenceFolder`` the segments lie on that series' grid, else on the grid the SEG's
    frames span.

    :raises InputError: for a file that is not a readable DICOM SEG.
    :raises GeometryError: for a SEG on another frame of reference than the reference series.
    """
    from VirtualBiopsy.dicom.segImport import readSegmentation

    segments = readSegmentation(pathlib.Path(path), pathlib.Path(referenceFolder) if referenceFolder else None)
    masks = [(segment.name, binaryMask(segment.mask), None) for segment in segments]
    return segmentationNodeFromMasks(masks, scene, name or pathlib.Path(path).stem)


def segmentationNodeFromMasks(
    masks: "Sequence[tuple[str, sitk.Image, tuple[float, float, float] | None]]",
    scene: "slicer.vtkMRMLScene",
    name: str,
) -> "slicer.vtkMRMLSegmentationNode":
    """A segmentation node with one segment per ``(name, 0/1 mask, colour or None)``, in order; overlapping
    masks stay separate segments, empty masks become empty segments."""
    node = None
    for segmentName, mask, color in masks:
        labelmap = sitk.Cast(mask, sitk.sitkUInt8)
        colors = [color] if color is not None else None
        empty = not sitk.GetArrayViewFromImage(labelmap).any()
        if node is None:
            node = labelmapImageToSegmentation(labelmap, scene, name, segmentNames=[segmentName], segmentColors=colors)
            if empty:
                _addEmptySegment(node, segmentName, color)
            continue
        if empty:
            _addEmptySegment(node, segmentName, color)
            continue
        single = labelmapImageToSegmentation(
            labelmap, scene, "VirtualBiopsySegment", segmentNames=[segmentName], segmentColors=colors
        )
        try:
            source = single.GetSegmentation()
            node.GetSegmentation().CopySegmentFromSegmentation(source, source.GetNthSegmentID(0), False)
        finally:
            _removeNode(scene, single)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        node.CreateDefaultDisplayNodes()
    return node


def binaryMask(mask: sitk.Image) -> sitk.Image:
    """A 0/1 UInt8 mask (a DICOM SEG's probabilities at 0.5)."""
    if mask.GetPixelID() == sitk.sitkUInt8:
        return mask
    return sitk.Cast(mask >= 0.5, sitk.sitkUInt8)


def _addEmptySegment(node, name: str, color: tuple[float, float, float] | None) -> None:
    segmentation = node.GetSegmentation()
    identifier = segmentation.AddEmptySegment("", name)
    if color is not None:
        segmentation.GetSegment(identifier).SetColor(*color)


def _removeNode(scene: "slicer.vtkMRMLScene", node) -> None:
    helpers = [node.GetDisplayNode(), node.GetStorageNode()]
    scene.RemoveNode(node)
    for helper in helpers:
        if helper is not None and helper.GetScene() is scene:
            scene.RemoveNode(helper)


__all__ = ["binaryMask", "loadDicomSegNode", "loadDicomSeriesNode", "loadRtstructNode", "segmentationNodeFromMasks"]
