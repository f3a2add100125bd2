"""Load and save whole scenes: ``.mrml`` files and ``.mrb`` bundles.

Scenes are saved with Slicer's own data-bundle writer
(``vtkMRMLScene.SaveSceneToSlicerDataBundleDirectory``), then zipped (``.mrb``)
or moved beside the ``.mrml`` file, all-or-nothing.  Loading makes a new scene
with :func:`~VirtualBiopsy.mrml.scene.createScene`.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
import urllib.parse
import zipfile
from xml.etree import ElementTree

import slicer
import vtk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import atomicOutput, requireExisting, requireExtension
from VirtualBiopsy.mrml.messages import messageText
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.tables import writeAllDigits

logger = logging.getLogger(__name__)

SCENE_EXTENSIONS = (".mrml", ".mrb")

PathLike = str | os.PathLike


def loadScene(path: PathLike) -> "slicer.vtkMRMLScene":
    """Load a ``.mrml`` scene or a ``.mrb`` bundle into a new scene made by :func:`createScene`.

    :raises InputError: if the file is missing, unsupported or cannot be read.
    """
    path = requireExisting(path, "scene file")
    extension = requireExtension(path, SCENE_EXTENSIONS, "scene file")
    scene = createScene()
    messages = slicer.vtkMRMLMessageCollection()
    if extension == ".mrb":
        if not zipfile.is_zipfile(path):
            raise InputError(f"Cannot read scene {path}: it is not a .mrb (zip) bundle. Save it again from Slicer.")
        loaded = scene.ReadFromMRB(str(path), True, messages)
    else:
        scene.SetURL(str(path))
        loaded = scene.Connect(messages)
    errors = messages.GetNumberOfMessagesOfType(vtk.vtkCommand.ErrorEvent)
    if not loaded or errors:
        details = messageText(messages) or "the scene reader failed."
        scene.Clear(True)
        raise InputError(f"Cannot read scene {path}: {details}")
    return scene


def saveScene(scene: "slicer.vtkMRMLScene", path: PathLike, overwrite: bool = False) -> pathlib.Path:
    """Save a scene with the data of every storable node, all-or-nothing.

    A ``.mrb`` bundle packs everything in one file.  A ``.mrml`` file gets its
    data files in a ``Data`` folder beside it (Slicer's bundle layout), so several
    scenes saved in one folder must not share node file names (existing files
    are refused unless ``overwrite``).  The scene is left as it was, except that
    every scalar volume gets a volume storage node that reads its file back in the
    saved voxel order (no right-handed flip, as :func:`loadVolume`), so a volume
    reloads exactly as it was in memory.  Tables are written with every digit of
    their real numbers (Slicer's table writer alone keeps 6).

    :returns: the absolute path of the ``.mrml`` or ``.mrb`` file.
    :raises InputError: for an unsupported extension, existing files or a failed write.
    """
    path = pathlib.Path(path).expanduser().absolute()
    extension = requireExtension(path, SCENE_EXTENSIONS, "scene file")
    _requireXmlSafeFileNames(scene)
    _keepVoxelOrderOnReload(scene)
    with tempfile.TemporaryDirectory(prefix="VirtualBiopsyScene") as temporary:
        bundle = pathlib.Path(temporary) / path.name[: -len(extension)]
        bundle.mkdir()
        messages = slicer.vtkMRMLMessageCollection()
        saved = scene.SaveSceneToSlicerDataBundleDirectory(str(bundle), None, messages)
        if not saved or messages.GetNumberOfMessagesOfType(vtk.vtkCommand.ErrorEvent):
            raise InputError(f"Could not save the scene to {path}: {messageText(messages)}")
        _writeTablesWithAllDigits(scene, bundle)
        with atomicOutput(path, overwrite) as stagedPath:
            if extension == ".mrb":
                _zipBundle(bundle, stagedPath)
            else:
                for entry in bundle.iterdir():
                    target = stagedPath if entry.suffix == ".mrml" else stagedPath.parent / entry.name
                    shutil.move(str(entry), str(target))
    return path


def _requireXmlSafeFileNames(scene: "slicer.vtkMRMLScene") -> None:
    """Slicer names data files after their nodes and writes an unescaped '&' into the scene file,
    which then cannot be read (by Slicer either): refuse such names up front."""
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLStorableNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLStorableNode")
        if not node.GetSaveWithScene() or node.GetHideFromEditors():
            continue
        storageNode = node.GetStorageNode()
        fileName = storageNode.GetFileName() if storageNode is not None else None
        base = pathlib.Path(fileName).name if fileName else (node.GetName() or "")
        if "&" in base:
            raise InputError(
                f"Cannot save the scene: node '{node.GetName()}' would be written to a file named '{base}', and "
                "Slicer's scene files cannot hold '&' in file names. Rename the node (e.g. 'and' for '&') first."
            )


def _keepVoxelOrderOnReload(scene: "slicer.vtkMRMLScene") -> None:
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")):
        volume = scene.GetNthNodeByClass(index, "vtkMRMLScalarVolumeNode")
        if volume.GetStorageNode() is None and volume.GetImageData() is not None:
            volume.AddDefaultStorageNode()
        storageNode = volume.GetStorageNode()
        if isinstance(storageNode, slicer.vtkMRMLVolumeArchetypeStorageNode):
            storageNode.SetForceRightHandedIJKCoordinateSystem(False)


def _writeTablesWithAllDigits(scene: "slicer.vtkMRMLScene", bundle: pathlib.Path) -> None:
    """Rewrite the table files of a saved bundle with every digit (Slicer's writer keeps 6).

    The bundle's ``.mrml`` file tells which file each table's storage node wrote.
    """
    mrmlFiles = list(bundle.glob("*.mrml"))
    fileNames = {}
    try:
        for element in ElementTree.parse(mrmlFiles[0]).getroot():
            if element.get("id") and element.get("fileName"):
                fileNames[element.get("id")] = element.get("fileName")
    except (IndexError, ElementTree.ParseError) as error:
        logger.warning(
            "Could not read the saved scene file in %s (%s); tables keep 6 significant digits.", bundle, error
        )
        return
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLTableNode")):
        tableNode = scene.GetNthNodeByClass(index, "vtkMRMLTableNode")
        storageNode = tableNode.GetStorageNode()
        fileName = (
            fileNames.get(storageNode.GetID()) if isinstance(storageNode, slicer.vtkMRMLTableStorageNode) else None
        )
        if fileName is None:
            continue
        path = bundle / fileName
        if not path.is_file():
            path = bundle / urllib.parse.unquote(fileName)
        if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
            writeAllDigits(tableNode, path)
        else:
            logger.warning(
                "Table '%s' was saved to %s, which was not found; it keeps 6 significant digits.",
                tableNode.GetName(),
                fileName,
            )


def _zipBundle(bundle: pathlib.Path, zipPath: pathlib.Path) -> None:
    """Zip a bundle folder the way Slicer does: every entry under ``<bundle name>/``."""
    with zipfile.ZipFile(zipPath, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(bundle.name + "/", b"")
        for fileName in sorted(p for p in bundle.rglob("*") if p.is_file()):
            archive.write(fileName, f"{bundle.name}/{fileName.relative_to(bundle).as_posix()}")
