"""SimpleITK transforms → Slicer transform nodes.

A SimpleITK (ITK) registration transform maps points of the fixed image to points
of the moving image, in LPS. Slicer calls that direction "from parent" and works
in RAS: placing the moving volume under the node aligns it with the fixed one.
A linear transform ``y = A x + o`` (LPS) becomes ``F A F`` and ``F o`` with
``F = diag(-1, -1, 1)``. Other transforms (B-spline, composite) are handed to
Slicer's own ITK transform reader through a temporary ``.h5`` file, which
performs the same conversion.
"""

from __future__ import annotations

import logging
import pathlib
import tempfile
from typing import Protocol, TypeGuard

import numpy as np
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


class MatrixOffsetTransform(Protocol):
    """A (downcast) SimpleITK transform with a matrix, a centre and a translation (Euler, versor, affine...)."""

    def GetName(self) -> str: ...

    def GetMatrix(self) -> tuple[float, ...]: ...

    def GetCenter(self) -> tuple[float, ...]: ...

    def GetTranslation(self) -> tuple[float, ...]: ...


def linearMatrixRas(transform: MatrixOffsetTransform) -> np.ndarray:
    """The 4×4 RAS matrix of a linear ITK transform (fixed → moving, "from parent" in Slicer).

    :raises InputError: for a transform that is not linear.
    """
    if not isLinear(transform):
        raise InputError(f"{transform.GetName()} is not a linear transform; use transformToNode for any transform.")
    matrix = np.array(transform.GetMatrix(), dtype=float).reshape(3, 3)
    centre = np.array(transform.GetCenter(), dtype=float)
    offset = np.array(transform.GetTranslation(), dtype=float) + centre - matrix @ centre
    result = np.eye(4)
    result[:3, :3] = _LPS_TO_RAS @ matrix @ _LPS_TO_RAS
    result[:3, 3] = _LPS_TO_RAS @ offset
    return result


def isLinear(transform: sitk.Transform | MatrixOffsetTransform) -> bool:
    """Whether ``transform`` is a single matrix-and-offset transform (Euler, versor, similarity, affine...)."""
    transform = transform.Downcast() if type(transform) is sitk.Transform else transform
    if isinstance(transform, sitk.CompositeTransform):
        return transform.GetNumberOfTransforms() == 1 and isLinear(transform.GetNthTransform(0))
    return _hasMatrixOffset(transform)


def _hasMatrixOffset(transform: object) -> TypeGuard[MatrixOffsetTransform]:
    return hasattr(transform, "GetMatrix") and hasattr(transform, "GetCenter") and hasattr(transform, "GetTranslation")


def transformToNode(
    transform: sitk.Transform, scene: "slicer.vtkMRMLScene", name: str
) -> "slicer.vtkMRMLTransformNode":
    """A new transform node that holds ``transform`` (ITK convention: fixed → moving, LPS).

    Linear transforms give a ``vtkMRMLLinearTransformNode``; others a ``vtkMRMLTransformNode`` read by
    Slicer's transform storage node. Put the moving volume under the node to see it aligned with the fixed one.

    :raises InputError: when Slicer cannot read the transform.
    """
    transform = transform.Downcast() if type(transform) is sitk.Transform else transform
    if isinstance(transform, sitk.CompositeTransform) and isLinear(transform):
        transform = transform.GetNthTransform(0).Downcast()
    if _hasMatrixOffset(transform):  # isLinear, now that a one-item composite is unwrapped
        node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", name)
        matrix = vtk.vtkMatrix4x4()
        for row, values in enumerate(linearMatrixRas(transform)):
            for column, value in enumerate(values):
                matrix.SetElement(row, column, float(value))
        node.SetMatrixTransformFromParent(matrix)
        return node
    node = scene.AddNewNodeByClass("vtkMRMLTransformNode", name)
    with tempfile.TemporaryDirectory(prefix="vb-transform-") as folder:
        path = pathlib.Path(folder) / "transform.h5"
        sitk.WriteTransform(transform, str(path))
        storage = slicer.vtkMRMLTransformStorageNode()
        storage.SetFileName(str(path))
        read = storage.ReadData(node)
    if not read:
        scene.RemoveNode(node)
        raise InputError(
            f"Slicer could not read the {transform.GetName()} as a transform node; "
            "use a linear, B-spline or composite transform."
        )
    return node
