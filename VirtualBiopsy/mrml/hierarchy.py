"""Patient → study → node folders in the subject hierarchy.

Slicer's application creates a subject hierarchy item for every new node;
``slicer-core`` does not, so items are created here explicitly (and reused
when they already exist, as in Slicer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import slicer
import vtk

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)


def placeInSubjectHierarchy(
    scene: "slicer.vtkMRMLScene",
    nodes: Sequence["slicer.vtkMRMLNode"],
    patient: str,
    study: str = "",
) -> int:
    """Put ``nodes`` under patient ``patient`` and study ``study`` in the subject hierarchy.

    A patient (or study) item of the same name under the scene (or patient) is
    reused; a node that already has an item is moved rather than duplicated.

    :param nodes: data nodes of ``scene`` (volumes, segmentations, tables, charts…).
    :param patient: patient name (the subject item's name); must not be empty.
    :param study: study name; when empty the nodes go directly under the patient.
    :returns: the study item's ID, or the patient item's ID when ``study`` is empty.
    :raises InputError: for an empty patient name or a node that is not in ``scene``.
    """
    if not patient:
        raise InputError("placeInSubjectHierarchy needs a patient name (e.g. the case ID); got an empty one.")
    for node in nodes:
        if not isinstance(node, slicer.vtkMRMLNode) or node.GetScene() is not scene:
            raise InputError(
                f"{getattr(node, 'GetName', lambda: repr(node))()} is not a node of this scene; add it to the scene first."
            )
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    constants = slicer.vtkMRMLSubjectHierarchyConstants
    patientItem = _childByName(shNode, shNode.GetSceneItemID(), patient, constants.GetDICOMLevelPatient())
    if patientItem is None:
        patientItem = shNode.CreateSubjectItem(shNode.GetSceneItemID(), patient)
    parentItem = patientItem
    if study:
        parentItem = _childByName(shNode, patientItem, study, constants.GetDICOMLevelStudy())
        if parentItem is None:
            parentItem = shNode.CreateStudyItem(patientItem, study)
    for node in nodes:
        item = shNode.GetItemByDataNode(node)
        if item == shNode.GetInvalidItemID():
            shNode.CreateItem(parentItem, node)
        else:
            shNode.SetItemParent(item, parentItem)
    return parentItem


def _childByName(shNode: "slicer.vtkMRMLSubjectHierarchyNode", parent: int, name: str, level: str) -> int | None:
    children = vtk.vtkIdList()
    shNode.GetItemChildren(parent, children, False)
    for index in range(children.GetNumberOfIds()):
        item = children.GetId(index)
        if shNode.GetItemName(item) == name and shNode.GetItemLevel(item) == level:
            return item
    return None
