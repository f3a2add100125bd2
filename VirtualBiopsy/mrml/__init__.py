"""The MRML bridge: the only place that converts MRML nodes to and from
SimpleITK images, numpy arrays and pandas DataFrames.

Works on the Qt-free ``slicer-core`` wheel and inside 3D Slicer; the scene is
always passed in.  Submodules are imported on first use of a name, so
``import VirtualBiopsy.mrml`` stays cheap.

Decisions every caller should know:

- :func:`loadVolume` keeps the file's voxel index order (no right-handed flip),
  so features computed through nodes equal features computed on the file.
- Images cross the boundary on the node's own grid; a node under a parent
  transform is refused with :class:`~VirtualBiopsy.errors.GeometryError`
  (harden the transform first).
- Writes are all-or-nothing and never overwrite unless asked.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "createScene": "scene",
    "moduleLogic": "scene",
    "loadVolume": "storage",
    "loadSegmentation": "storage",
    "loadTable": "storage",
    "saveNode": "storage",
    "loadScene": "storage",
    "saveScene": "storage",
    "volumeNodeToImage": "images",
    "imageToVolumeNode": "images",
    "requireSameGrid": "images",
    "SegmentInfo": "segmentations",
    "segmentationToLabelmapImage": "segmentations",
    "labelmapImageToSegmentation": "segmentations",
    "segmentMaskImage": "segmentations",
    "tableNodeToDataFrame": "tables",
    "dataFrameToTableNode": "tables",
    "plotSeriesFromTable": "plots",
    "plotChart": "plots",
    "placeInSubjectHierarchy": "hierarchy",
    "saveStageConfig": "parameters",
    "loadStageConfig": "parameters",
}

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
    "moduleLogic",
    "placeInSubjectHierarchy",
    "plotChart",
    "plotSeriesFromTable",
    "requireSameGrid",
    "saveNode",
    "saveScene",
    "saveStageConfig",
    "segmentMaskImage",
    "segmentationToLabelmapImage",
    "tableNodeToDataFrame",
    "volumeNodeToImage",
]

if TYPE_CHECKING:
    from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
    from VirtualBiopsy.mrml.images import imageToVolumeNode, requireSameGrid, volumeNodeToImage
    from VirtualBiopsy.mrml.parameters import loadStageConfig, saveStageConfig
    from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
    from VirtualBiopsy.mrml.scene import createScene, moduleLogic
    from VirtualBiopsy.mrml.segmentations import (
        SegmentInfo,
        labelmapImageToSegmentation,
        segmentationToLabelmapImage,
        segmentMaskImage,
    )
    from VirtualBiopsy.mrml.storage import loadScene, loadSegmentation, loadTable, loadVolume, saveNode, saveScene
    from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'VirtualBiopsy.mrml' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"VirtualBiopsy.mrml.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
