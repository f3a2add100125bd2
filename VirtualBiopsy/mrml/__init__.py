"""The MRML bridge: the only place that converts MRML nodes to and from
SimpleITK images, numpy arrays and pandas DataFrames.

Works on the Qt-free ``slicer-core`` wheel and inside 3D Slicer; the scene is
always passed in.

Decisions every caller should know:

- :func:`loadVolume` keeps the file's voxel index order (no right-handed flip),
  so features computed through nodes equal features computed on the file.
- Images cross the boundary on the node's own grid; a node under a parent
  transform is refused with :class:`~VirtualBiopsy.errors.GeometryError`
  (harden the transform first).
- Writes are all-or-nothing and never overwrite unless asked.
"""

from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import (
    imageToVolumeNode,
    volumeNodeToImage,
)
from VirtualBiopsy.mrml.parameters import loadStageConfig, saveStageConfig
from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.segmentations import (
    SegmentInfo,
    labelmapImageToSegmentation,
    segmentationToLabelmapImage,
    segmentMaskImage,
)
from VirtualBiopsy.mrml.storage import (
    loadScene,
    loadSegmentation,
    loadTable,
    loadVolume,
    saveNode,
    saveScene,
)
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame

__all__ = [
    "SegmentInfo",
    "createScene",
    "dataFrameToTableNode",
    "imageToVolumeNode",
    "labelmapImageToSegmentation",
    "loadScene",
    "loadSegmentation",
    "loadStageConfig",
    "loadTable",
    "loadVolume",
    "placeInSubjectHierarchy",
    "plotChart",
    "plotSeriesFromTable",
    "saveNode",
    "saveScene",
    "saveStageConfig",
    "segmentMaskImage",
    "segmentationToLabelmapImage",
    "tableNodeToDataFrame",
    "volumeNodeToImage",
]
