"""Helpers shared by the Virtual Biopsy module widgets (3D Slicer only: qt, slicer.util).

The Qt-free library is :mod:`VirtualBiopsy`; nothing in it may import this package.
Importing it registers :class:`PathLineEditToStrConnector` with the parameter node wrapper.
"""

from VirtualBiopsyWidgets.moduleSupport import (
    ProgressRunner,
    VirtualBiopsyModuleWidget,
    addSyntheticTumourVolume,
    configFromParameterNode,
    describeModule,
    ensureRequirements,
    readRequirements,
)
from VirtualBiopsyWidgets.pathConnector import PathLineEditToStrConnector

__all__ = [
    "PathLineEditToStrConnector",
    "ProgressRunner",
    "VirtualBiopsyModuleWidget",
    "addSyntheticTumourVolume",
    "configFromParameterNode",
    "describeModule",
    "ensureRequirements",
    "readRequirements",
]
