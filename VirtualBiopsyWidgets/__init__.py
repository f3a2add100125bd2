"""Helpers shared by the Virtual Biopsy module widgets (3D Slicer only: qt, slicer.util).

The Qt-free library is :mod:`VirtualBiopsy`; nothing in it may import this package.
"""

from VirtualBiopsyWidgets.moduleSupport import (
    ProgressRunner,
    VirtualBiopsyModuleWidget,
    addSyntheticTumourVolume,
    configFromParameterNode,
    describeModule,
    slicerPythonExecutable,
    workerRunner,
)

__all__ = [
    "ProgressRunner",
    "VirtualBiopsyModuleWidget",
    "addSyntheticTumourVolume",
    "configFromParameterNode",
    "describeModule",
    "slicerPythonExecutable",
    "workerRunner",
]
