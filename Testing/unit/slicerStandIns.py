"""Minimal stand-ins for the modules that exist only inside 3D Slicer (``slicer`` with its
``ScriptedLoadableModule``, ``parameterNodeWrapper``, ``i18n`` and ``util``; ``qt``, ``ctk``, ``vtk``),
just enough to IMPORT a module file outside Slicer. Nothing here runs module code: a test that imports
a module file with these checks what the import pulls in, nothing else.

Used by :mod:`test_module_load` in a fresh interpreter (``python -c``), before the module file is imported.
"""

from __future__ import annotations

import sys
import types

#: Names the module files take from ``slicer.parameterNodeWrapper`` (decorators return the class unchanged;
#: validators are inert).
WRAPPER_NAMES = ("Choice", "Default", "Maximum", "Minimum", "WithinRange", "Decimals", "SingleStep", "NotNone")


class _Inert:
    """What a validator such as ``WithinRange(0, 1)`` returns here."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _StandInModule(types.ModuleType):
    """A module whose unknown attributes raise, naming the stand-in (a load-time use of Slicer's API)."""

    def __getattr__(self, name: str):
        if name.startswith("vtkMRML") and self.__name__ == "slicer":
            nodeClass = type(name, (), {})  # MRML node classes, used in annotations only
            setattr(self, name, nodeClass)
            return nodeClass
        raise AttributeError(
            f"stand-in module '{self.__name__}' has no '{name}': the module file uses it at load "
            "time; a stand-in only lets the file be imported"
        )


def _module(name: str, **attributes) -> types.ModuleType:
    module = _StandInModule(name)
    module.__dict__.update(attributes)
    module.__path__ = []  # a package, so that submodules import
    sys.modules[name] = module
    return module


def install() -> None:
    """Put the stand-ins in ``sys.modules``."""

    def identityDecorator(classType=None):
        return classType if classType is not None else (lambda cls: cls)

    class ScriptedLoadableModule:
        def __init__(self, parent) -> None:
            self.parent = parent

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent=None) -> None:
            self.parent = parent

    class ScriptedLoadableModuleLogic:
        pass

    class ScriptedLoadableModuleTest:
        pass

    class VTKObservationMixin:
        pass

    slicer = _module("slicer")
    slicer.ScriptedLoadableModule = _module(
        "slicer.ScriptedLoadableModule",
        ScriptedLoadableModule=ScriptedLoadableModule,
        ScriptedLoadableModuleWidget=ScriptedLoadableModuleWidget,
        ScriptedLoadableModuleLogic=ScriptedLoadableModuleLogic,
        ScriptedLoadableModuleTest=ScriptedLoadableModuleTest,
    )
    slicer.parameterNodeWrapper = _module(
        "slicer.parameterNodeWrapper",
        parameterNodeWrapper=identityDecorator,
        parameterPack=identityDecorator,
        **{name: _Inert for name in WRAPPER_NAMES},
    )
    slicer.i18n = _module("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    slicer.util = _module("slicer.util", VTKObservationMixin=VTKObservationMixin)
    for name in ("qt", "ctk", "vtk"):
        _module(name)
