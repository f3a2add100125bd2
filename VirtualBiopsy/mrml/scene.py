"""A headless MRML scene with the module logics Virtual Biopsy needs.

Inside 3D Slicer the modules pass the application's scene; everywhere else
:func:`createScene` builds an equivalent scene on the ``slicer-core`` wheel.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field

import slicer

#: Module logics registered on a headless scene, by Slicer's module name.
_LOGIC_CLASSES = {
    "Volumes": "vtkSlicerVolumesLogic",
    "Segmentations": "vtkSlicerSegmentationsModuleLogic",
    "SubjectHierarchy": "vtkSlicerSubjectHierarchyModuleLogic",
    "Transforms": "vtkSlicerTransformLogic",
    "Tables": "vtkSlicerTablesLogic",
    "Plots": "vtkSlicerPlotsLogic",
}


@dataclass
class _SceneContext:
    """Objects that must live as long as the scene (the scene does not own them)."""

    applicationLogic: object
    logics: dict = field(default_factory=dict)


# The application logic must outlive the scene's use, or the next volume load
# segfaults: keep it here, keyed weakly by the scene.
_contexts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@functools.cache
def _cacheFolder() -> str:
    """A folder of this process for the cache manager, which measures its folder's size whenever it is set: the
    system temporary folder can hold many files (seconds per scene), this one holds none."""
    folder = tempfile.mkdtemp(prefix="virtual-biopsy-mrml-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def createScene() -> "slicer.vtkMRMLScene":
    """Create a headless scene with Colors, Volumes, Segmentations, SubjectHierarchy,
    Transforms, Tables and Plots logics registered, able to read and write ``.mrb``.

    :returns: a new, empty scene with default colour tables.
    """
    scene = slicer.vtkMRMLScene()
    cacheManager = slicer.vtkCacheManager()
    cacheManager.SetRemoteCacheDirectory(_cacheFolder())
    scene.SetCacheManager(cacheManager)
    dataIOManager = slicer.vtkDataIOManager()
    dataIOManager.SetCacheManager(cacheManager)
    scene.SetDataIOManager(dataIOManager)

    applicationLogic = slicer.vtkSlicerApplicationLogic()
    applicationLogic.SetMRMLScene(scene)
    context = _SceneContext(applicationLogic)

    # vtkSlicerColorLogic looks for Slicer's colour files and logs an error on
    # every scene when, as in slicer-core, there are none; the base colour logic
    # adds the same built-in colour nodes and defaults to existing ones.
    colorLogic = slicer.vtkMRMLColorLogic()
    colorLogic.SetMRMLApplicationLogic(applicationLogic)
    colorLogic.SetMRMLScene(scene)
    applicationLogic.SetColorLogic(colorLogic)
    if not scene.IsNodeClassRegistered("vtkMRMLColorLegendDisplayNode"):
        scene.RegisterNodeClass(slicer.vtkMRMLColorLegendDisplayNode())
    applicationLogic.SetModuleLogic("Colors", colorLogic)
    context.logics["Colors"] = colorLogic

    for name, className in _LOGIC_CLASSES.items():
        logic = getattr(slicer, className)()
        logic.SetMRMLApplicationLogic(applicationLogic)
        logic.SetMRMLScene(scene)
        applicationLogic.SetModuleLogic(name, logic)
        context.logics[name] = logic

    _contexts[scene] = context
    return scene
