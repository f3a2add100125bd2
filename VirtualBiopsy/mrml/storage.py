"""Read and write volumes, segmentations, tables and scenes through Slicer's storage nodes.

Works on a scene from :func:`~VirtualBiopsy.mrml.scene.createScene` and on
Slicer's own scene alike (no Slicer application helpers).  Every write
is all-or-nothing: files are written in a hidden staging folder beside the
target and moved into place only when complete.  :func:`loadScene` and
:func:`saveScene` live in :mod:`~VirtualBiopsy.mrml.sceneFiles` and are
importable from here.
"""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.files import (
    atomicOutput,
    checkImageFile,
    extensionOf,
    readerComplaint,
    requireExisting,
    requireExtension,
)
from VirtualBiopsy.imageGeometry import gridDifferences, requireOrthogonalGrid
from VirtualBiopsy.mrml.dicomSeries import checkDicomSeries
from VirtualBiopsy.mrml.images import (
    nodeGrid,
    requireNoTransform,
    setNodeGrid,
    volumeNodeToImage,
)
from VirtualBiopsy.mrml.messages import messageText
from VirtualBiopsy.mrml.sceneFiles import SCENE_EXTENSIONS, loadScene, saveScene
from VirtualBiopsy.mrml.segmentations import (
    labelmapImageToSegmentation,
    requireLabelmapOnGrid,
)
from VirtualBiopsy.mrml.tables import (
    inferNumericColumns,
    requireStorableText,
    writeAllDigits,
)

__all__ = [
    "SCENE_EXTENSIONS",
    "SEGMENTATION_EXTENSIONS",
    "TABLE_EXTENSIONS",
    "VOLUME_EXTENSIONS",
    "loadScene",
    "loadSegmentation",
    "loadTable",
    "loadVolume",
    "saveNode",
    "saveScene",
]

logger = logging.getLogger(__name__)

VOLUME_EXTENSIONS = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
SEGMENTATION_EXTENSIONS = (".seg.nrrd",)
TABLE_EXTENSIONS = (".csv", ".tsv")

PathLike = str | os.PathLike

_CHECK_FILE = "Check that the file is complete and of the type its extension says."


def loadVolume(
    path: PathLike, scene: "slicer.vtkMRMLScene", name: str | None = None, acceptSeriesProblems: bool = False
) -> "slicer.vtkMRMLScalarVolumeNode":
    """Load a 3D scalar volume from a file or a DICOM series folder.

    The voxels keep the file's index order: the reader is told not to flip the
    slice axis of left-handed files (``SetForceRightHandedIJKCoordinateSystem(False)``),
    unlike Slicer's default.  The world geometry is the same either way, but
    features that depend on the voxel order (pyradiomics' mesh-based shape
    features) then equal those computed on the file, exactly.

    A DICOM series folder is checked file by file first
    (:func:`~VirtualBiopsy.mrml.dicomSeries.checkDicomSeries`): unreadable files, missing or
    duplicated slices, uneven spacing, mixed orientations or sizes are refused, never loaded as a
    silently thinner volume.

    :param path: a ``.nrrd``, ``.nhdr``, ``.nii``, ``.nii.gz``, ``.mha`` or ``.mhd`` file, or a
        folder holding the files of one DICOM series.
    :param name: node name; the file name without extension (or the folder name) by default.
    :param acceptSeriesProblems: load a DICOM series that has those problems anyway (what GDCM can
        read, with ITK's mean slice spacing), logging each problem as a warning.
    :raises InputError: if the path is missing, unsupported or unreadable, or a DICOM series is incomplete.
    :raises GeometryError: for a 4D or multi-component (vector, RGB) image, or a sheared grid.
    """
    path = requireExisting(path, "volume file")
    if path.is_dir():
        check = checkDicomSeries(path)
        if acceptSeriesProblems:
            for problem in check.problems:
                logger.warning("DICOM series %s loaded despite: %s", path, problem)
        else:
            check.require()
        files = check.files
        _requireScalarFile(files[0], path, checkDimension=False)
    else:
        requireExtension(path, VOLUME_EXTENSIONS, "volume file (or DICOM series folder)")
        files = [path]
        _requireScalarFile(path, path)
    return _readVolumeNode(files, scene, name or _baseName(path), "vtkMRMLScalarVolumeNode")


def loadSegmentation(
    path: PathLike,
    scene: "slicer.vtkMRMLScene",
    referenceVolume: "slicer.vtkMRMLScalarVolumeNode | None" = None,
    name: str | None = None,
) -> "slicer.vtkMRMLSegmentationNode":
    """Load a segmentation from a ``.seg.nrrd`` file or from a labelmap file (one segment per label).

    A labelmap keeps its file's voxel order (see :func:`loadVolume`) and must lie on
    ``referenceVolume``'s grid when one is given; the volume then becomes the
    segmentation's reference geometry.  A ``.seg.nrrd`` keeps its own geometry
    (segments are resampled, nearest neighbour, when exported on another grid).

    :raises InputError: if the path is missing, unsupported or unreadable.
    :raises GeometryError: if the labelmap's grid differs from ``referenceVolume``'s, or the file is 4D/vector.
    """
    path = requireExisting(path, "segmentation file")
    extension = requireExtension(path, SEGMENTATION_EXTENSIONS + VOLUME_EXTENSIONS, "segmentation or labelmap file")
    name = name or _baseName(path)
    if referenceVolume is not None:
        requireNoTransform(referenceVolume)
    if extension in SEGMENTATION_EXTENSIONS:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        _readWithStorageNode(node, slicer.vtkMRMLSegmentationStorageNode(), path)
        node.CreateDefaultDisplayNodes()
        if referenceVolume is not None:
            node.SetReferenceImageGeometryParameterFromVolumeNode(referenceVolume)
        return node

    _requireScalarFile(path, path)
    labelmapNode = _readVolumeNode([path], scene, name, "vtkMRMLLabelMapVolumeNode")
    try:
        image = volumeNodeToImage(labelmapNode)
    finally:
        _removeWithHelpers(scene, labelmapNode)
    image = _integerLabels(image, path)
    if referenceVolume is not None:
        requireLabelmapOnGrid(image, referenceVolume, f"labelmap file {path}")
    return labelmapImageToSegmentation(image, scene, name, referenceVolume=referenceVolume)


def loadTable(path: PathLike, scene: "slicer.vtkMRMLScene", name: str | None = None) -> "slicer.vtkMRMLTableNode":
    """Load a CSV or TSV table.

    With a Slicer schema file beside it (``<name>.schema.csv``) the column types
    come from the schema; without one, text columns whose every cell is a number
    (or empty) become integer or real columns (empty cells: NaN), as in pandas.

    :raises InputError: if the path is missing, unsupported or unreadable.
    """
    path = requireExisting(path, "table file")
    requireExtension(path, TABLE_EXTENSIONS, "table file")
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name or _baseName(path))
    storageNode = _readWithStorageNode(node, slicer.vtkMRMLTableStorageNode(), path)
    if not storageNode.GetSchemaFileName():
        inferNumericColumns(node)
    return node


def saveNode(node: "slicer.vtkMRMLStorableNode", path: PathLike, overwrite: bool = False) -> pathlib.Path:
    """Write a volume, segmentation or table node to a file, all-or-nothing.

    The node's own storage node (and so the file it was loaded from) is left unchanged.

    :param node: a scalar or labelmap volume (``.nrrd``, ``.nhdr``, ``.nii``, ``.nii.gz``, ``.mha``,
        ``.mhd``), a segmentation (``.seg.nrrd``) or a table (``.csv``, ``.tsv``, with a schema file;
        real numbers with every digit, where Slicer's own writer keeps 6).
    :param overwrite: replace existing files; refused by default.
    :returns: the absolute path written.
    :raises InputError: for an unsupported node or extension, an existing file, or a failed write.
    :raises GeometryError: for a volume or segmentation under a transform (harden it first).
    """
    path = pathlib.Path(path).expanduser().absolute()
    if isinstance(node, slicer.vtkMRMLSegmentationNode):
        requireExtension(path, SEGMENTATION_EXTENSIONS, "segmentation file")
        requireNoTransform(node)
    elif isinstance(node, slicer.vtkMRMLScalarVolumeNode):
        requireExtension(path, VOLUME_EXTENSIONS, "volume file")
        requireNoTransform(node)
        if node.GetImageData() is None:
            raise InputError(f"Volume '{node.GetName()}' has no voxels to save. Load or compute its image first.")
    elif isinstance(node, slicer.vtkMRMLTableNode):
        requireStorableText(node, requireExtension(path, TABLE_EXTENSIONS, "table file"))
    else:
        kind = node.GetClassName() if isinstance(node, vtk.vtkObject) else type(node).__name__
        raise InputError(
            f"Cannot save a {kind}: saveNode writes scalar volumes ({', '.join(VOLUME_EXTENSIONS)}), "
            "segmentations (.seg.nrrd) and tables (.csv, .tsv)."
        )
    storageNode = node.CreateDefaultStorageNode()
    with atomicOutput(path, overwrite) as stagedPath:
        storageNode.SetFileName(str(stagedPath))
        if isinstance(storageNode, slicer.vtkMRMLTableStorageNode):
            # Any schema name makes the writer store one (next to the table), so column types survive.
            storageNode.SetSchemaFileName(str(stagedPath) + ".schema")
        if not storageNode.WriteData(node):
            raise InputError(
                f"Could not write '{node.GetName()}' to {path}: {_messages(storageNode)} "
                "Check that the folder is writable and has free space."
            )
        if isinstance(node, slicer.vtkMRMLTableNode):
            writeAllDigits(node, stagedPath)
    return path


def _readVolumeNode(files: list[pathlib.Path], scene: "slicer.vtkMRMLScene", name: str, className: str):
    node = scene.AddNewNodeByClass(className, name)
    storageNode = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storageNode.SetForceRightHandedIJKCoordinateSystem(False)
    if len(files) == 1:
        storageNode.SetSingleFile(True)
    else:
        for fileName in files:
            storageNode.AddFileName(str(fileName))
    try:
        _readWithStorageNode(node, storageNode, files[0])
    except InputError as error:
        try:
            sitk.ReadImage([str(fileName) for fileName in files])  # only for its more precise complaint
        except RuntimeError as readError:
            raise InputError(f"Cannot read {files[0]}: {readerComplaint(readError)}. {_CHECK_FILE}") from error
        raise
    if len(files) == 1:
        _restoreHeaderGeometry(node, files[0])
    else:
        # A saved scene names a volume's file after its storage file: a DICOM file's name (which can carry the
        # patient's name) would travel into scenes; with none, Slicer names it after the node.
        storageNode.ResetFileNameList()
        storageNode.SetFileName("")
    node.CreateDefaultDisplayNodes()
    return node


def _restoreHeaderGeometry(node, fileName: pathlib.Path) -> None:
    """Give ``node`` the file header's spacing, origin and directions to the last digit.

    Slicer's reader rounds them slightly (brain1's 6.4999999999999982 mm slices
    become 6.499999999999999), which moves features by up to 1e-9; the voxel order
    is the file's (no right-handed flip), so the header's grid applies as it is.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(fileName))
    reader.ReadImageInformation()
    if reader.GetDimension() != 3:
        return
    header = (tuple(reader.GetSize()), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection())
    if gridDifferences(nodeGrid(node), header, tolerance=1e-6):
        logger.debug("Kept Slicer's geometry for %s: it differs from the header beyond rounding", fileName)
        return
    setNodeGrid(node, header)


def _readWithStorageNode(node, storageNode, path: pathlib.Path):
    """Read ``path`` into ``node`` through ``storageNode``; on failure remove both and raise :class:`InputError`."""
    scene = node.GetScene()
    scene.AddNode(storageNode)
    storageNode.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storageNode.GetID())
    if not storageNode.ReadData(node):
        details = _messages(storageNode)
        _removeWithHelpers(scene, node)
        raise InputError(f"Cannot read {path}: {details} {_CHECK_FILE}")
    return storageNode


def _removeWithHelpers(scene: "slicer.vtkMRMLScene", node) -> None:
    helpers = [node.GetNthStorageNode(i) for i in range(node.GetNumberOfStorageNodes())]
    if isinstance(node, slicer.vtkMRMLDisplayableNode):
        helpers += [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
    scene.RemoveNode(node)
    for helper in helpers:
        if helper is not None and helper.GetScene() is scene:
            scene.RemoveNode(helper)


def _requireScalarFile(fileName: pathlib.Path, shownPath: pathlib.Path, checkDimension: bool = True) -> None:
    """Check the image header with SimpleITK: readable, 3D (or 2D), one component per voxel, not sheared."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(fileName))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise InputError(f"Cannot read {shownPath}: {readerComplaint(error)}. {_CHECK_FILE}") from error
    if fileName == shownPath:  # one image file (a DICOM series is checked slice by slice)
        checkImageFile(fileName, "volume")
    dimension, components, size = reader.GetDimension(), reader.GetNumberOfComponents(), reader.GetSize()
    if dimension == 3:
        requireOrthogonalGrid(((), (), (), reader.GetDirection()), f"file {shownPath}")
    if checkDimension and dimension > 3:
        raise GeometryError(
            f"{shownPath} holds a {dimension}D image (size {size}); a 3D scalar volume is needed. "
            "Split it into 3D volumes first (e.g. SimpleITK: image[:, :, :, t]) and load one of them."
        )
    if components != 1:
        raise GeometryError(
            f"{shownPath} has {components} components per voxel (a vector or colour image); a 3D scalar volume "
            "is needed. Extract one component first (SimpleITK.VectorIndexSelectionCast(image, 0)) and save it."
        )


def _integerLabels(image: sitk.Image, path: pathlib.Path) -> sitk.Image:
    """Labelmaps stored as reals (common in NIfTI) become integers if every value is whole."""
    voxels = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(voxels.dtype, np.integer):
        return image
    fractional = voxels[voxels != np.round(voxels)]
    if fractional.size:
        raise InputError(
            f"{path} is not a labelmap: it has non-integer values such as {fractional.flat[0]:g}. "
            "Threshold a probability map first, or give the labelmap file."
        )
    return sitk.Cast(image, sitk.sitkInt32)


def _messages(storageNode) -> str:
    return messageText(storageNode.GetUserMessages()) or "the reader gave no details."


def _baseName(path: pathlib.Path) -> str:
    extension = extensionOf(path)
    return path.name[: -len(extension)] if extension and path.is_file() else path.name
