"""Volume nodes ⇄ SimpleITK images, through the IJK-to-RAS geometry.

Slicer stores a volume's voxels in a ``vtkImageData`` (k, j, i order in memory)
and its geometry (spacing, origin, IJK-to-RAS directions) on the node, in RAS
coordinates; SimpleITK uses LPS.  Crossing the boundary flips the first two
world axes (a change of sign, so exact) and keeps the voxel order as it is, so
oblique and left-handed grids round-trip bit for bit.
"""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from vtk.util import numpy_support

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import Grid, gridOf, requireScalar3D

logger = logging.getLogger(__name__)

#: Multiplying by this flips RAS ⇄ LPS (its own inverse).
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])

#: A grid: size (i, j, k), spacing, origin and row-major direction, in LPS.


def volumeNodeToImage(volumeNode: "slicer.vtkMRMLScalarVolumeNode") -> sitk.Image:
    """Copy a scalar (or labelmap) volume node into a SimpleITK image.

    Voxels keep their order and type; spacing, origin and direction come from the
    node's IJK-to-RAS geometry, converted to LPS.  Transforms are not applied: a
    volume under a parent transform is refused (harden the transform first).

    :param volumeNode: a ``vtkMRMLScalarVolumeNode`` or ``vtkMRMLLabelMapVolumeNode`` with image data.
    :raises InputError: if the node is not a volume or has no voxels.
    :raises GeometryError: for a multi-component (vector) volume or a transformed volume.
    """
    imageData = _requireScalarVolume(volumeNode)
    requireNoTransform(volumeNode)
    dimensions = imageData.GetDimensions()
    scalars = imageData.GetPointData().GetScalars()
    voxels = numpy_support.vtk_to_numpy(scalars).reshape(dimensions[::-1])
    image = sitk.GetImageFromArray(voxels)
    _size, spacing, origin, direction = nodeGrid(volumeNode)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    return image


def imageToVolumeNode(
    image: sitk.Image,
    scene: "slicer.vtkMRMLScene",
    name: str,
    volumeNode: "slicer.vtkMRMLScalarVolumeNode | None" = None,
    labelmap: bool = False,
) -> "slicer.vtkMRMLScalarVolumeNode":
    """Copy a 3D scalar SimpleITK image into a new or existing volume node.

    :param image: 3D single-component image (any integer or real pixel type).
    :param scene: the scene that receives a new node.
    :param name: name of the node.
    :param volumeNode: node to update instead of creating one; its class must match ``labelmap``.
    :param labelmap: create a ``vtkMRMLLabelMapVolumeNode`` (integer voxels only).
    :returns: the volume node, with a display node.
    :raises GeometryError: for a 2D/4D or multi-component image, or a transformed target node.
    :raises InputError: for an unsupported pixel type or a node of the wrong class.
    """
    requireScalar3D(image, "image")
    voxels = sitk.GetArrayViewFromImage(image)
    if labelmap and not np.issubdtype(voxels.dtype, np.integer):
        raise InputError(
            f"A labelmap needs integer voxels, but '{name}' has {image.GetPixelIDTypeAsString()} voxels. "
            "Cast it first, e.g. SimpleITK.Cast(image, SimpleITK.sitkUInt16)."
        )
    try:
        vtkVoxels = numpy_support.numpy_to_vtk(voxels.reshape(-1), deep=True)
    except (TypeError, KeyError) as error:
        raise InputError(
            f"Cannot store {image.GetPixelIDTypeAsString()} voxels of '{name}' in a volume node ({error}). "
            "Use an integer or real pixel type."
        ) from error

    className = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    if volumeNode is None:
        volumeNode = scene.AddNewNodeByClass(className, name)
    else:
        if volumeNode.GetClassName() != className:
            raise InputError(
                f"Volume node '{volumeNode.GetName()}' is a {volumeNode.GetClassName()}, but labelmap={labelmap} "
                f"needs a {className}. Pass a node of that class or volumeNode=None."
            )
        requireNoTransform(volumeNode)
        volumeNode.SetName(name)

    imageData = vtk.vtkImageData()
    imageData.SetDimensions(image.GetSize())
    imageData.GetPointData().SetScalars(vtkVoxels)
    wasModifying = volumeNode.StartModify()
    setNodeGrid(volumeNode, gridOf(image))
    volumeNode.SetAndObserveImageData(imageData)
    volumeNode.EndModify(wasModifying)
    if volumeNode.GetDisplayNode() is None:
        volumeNode.CreateDefaultDisplayNodes()
    return volumeNode


def nodeGrid(volumeNode: "slicer.vtkMRMLVolumeNode") -> Grid:
    """The grid of a volume node in LPS, exactly as :func:`volumeNodeToImage` gives it."""
    imageData = volumeNode.GetImageData()
    size = tuple(imageData.GetDimensions()) if imageData is not None else (0, 0, 0)
    directionRows = [[0.0] * 3 for _ in range(3)]
    volumeNode.GetIJKToRASDirections(directionRows)
    directionsRas = np.array(directionRows, dtype=float)
    originRas = np.array(volumeNode.GetOrigin(), dtype=float)
    extentStart = imageData.GetExtent()[0::2] if imageData is not None else (0, 0, 0)
    if any(extentStart):
        # Voxel (0, 0, 0) of the array sits at IJK = extent start, not at the node's origin.
        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        originRas = np.array(matrix.MultiplyPoint((*extentStart, 1.0))[:3])
    origin = _RAS_TO_LPS @ originRas
    direction = _RAS_TO_LPS @ directionsRas
    return (
        size,
        tuple(volumeNode.GetSpacing()),
        tuple(float(v) for v in origin),
        tuple(float(v) for v in direction.ravel()),
    )


def setNodeGrid(volumeNode: "slicer.vtkMRMLVolumeNode", grid: Grid) -> None:
    """Set spacing, origin and directions of a volume node from an LPS grid (the size comes with the voxels)."""
    _size, spacing, origin, direction = grid
    directionRas = _RAS_TO_LPS @ np.array(direction, dtype=float).reshape(3, 3)
    volumeNode.SetSpacing(*spacing)
    volumeNode.SetOrigin(*(float(v) for v in _RAS_TO_LPS @ np.array(origin, dtype=float)))
    volumeNode.SetIJKToRASDirections(directionRas.tolist())


def requireNoTransform(node: "slicer.vtkMRMLTransformableNode") -> None:
    """Raise :class:`GeometryError` if ``node`` lies under a parent transform.

    Voxels cross the MRML boundary on the node's own grid; a transform would be
    silently ignored, so it must be hardened (applied) first.
    """
    transformNode = node.GetParentTransformNode()
    if transformNode is not None:
        kind = "linear" if transformNode.IsTransformToWorldLinear() else "non-linear"
        raise GeometryError(
            f"Node '{node.GetName()}' is under the {kind} transform '{transformNode.GetName()}'. Harden the transform "
            "first (Data module: right-click > Harden transform, or "
            "slicer.vtkSlicerTransformLogic.hardenTransform(node)), or remove it, then convert the node."
        )


def _requireScalarVolume(volumeNode: object) -> "vtk.vtkImageData":
    if not isinstance(volumeNode, slicer.vtkMRMLScalarVolumeNode):
        kind = type(volumeNode).__name__ if volumeNode is not None else "None"
        if isinstance(volumeNode, slicer.vtkMRMLVolumeNode):
            raise GeometryError(
                f"Volume '{volumeNode.GetName()}' is a {kind}; a 3D scalar volume is needed. "
                "Extract one component first (Vector to Scalar Volume module)."
            )
        raise InputError(f"Expected a scalar volume node, got {kind}. Pass a vtkMRMLScalarVolumeNode.")
    imageData = volumeNode.GetImageData()
    if imageData is None or imageData.GetPointData().GetScalars() is None:
        raise InputError(f"Volume '{volumeNode.GetName()}' has no voxels. Load or compute its image first.")
    components = imageData.GetNumberOfScalarComponents()
    if components != 1:
        raise GeometryError(
            f"Volume '{volumeNode.GetName()}' has {components} components per voxel; a 3D scalar volume is needed. "
            "Extract one component first (Vector to Scalar Volume module)."
        )
    return imageData
