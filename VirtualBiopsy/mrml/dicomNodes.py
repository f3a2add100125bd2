"""DICOM series and RTSTRUCT files into MRML nodes (volume and segmentation nodes).

The reading is :mod:`VirtualBiopsy.dicom` (pydicom); this module only turns what it
reads into nodes through :func:`~VirtualBiopsy.mrml.images.imageToVolumeNode` and
:func:`~VirtualBiopsy.mrml.segmentations.labelmapImageToSegmentation`.
"""

from __future__ import annotations

import os
import pathlib
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
    name = name or pathlib.Path(path).stem
    node = None
    for roi in rois:
        labelmap = sitk.Cast(roi.mask, sitk.sitkUInt8)
        colors = [roi.color] if roi.color is not None else None
        if node is None:
            node = labelmapImageToSegmentation(labelmap, scene, name, segmentNames=[roi.name], segmentColors=colors)
            if not sitk.GetArrayViewFromImage(labelmap).any():
                _addEmptySegment(node, roi.name, roi.color)
            continue
        if not sitk.GetArrayViewFromImage(labelmap).any():
            _addEmptySegment(node, roi.name, roi.color)
            continue
        single = labelmapImageToSegmentation(
            labelmap, scene, "VirtualBiopsyRoi", segmentNames=[roi.name], segmentColors=colors
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


__all__ = ["loadDicomSeriesNode", "loadRtstructNode"]
