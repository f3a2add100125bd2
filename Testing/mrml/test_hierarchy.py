"""Patient → study → node folders in the subject hierarchy."""

from __future__ import annotations

import pandas as pd
import pytest
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml import (
    dataFrameToTableNode,
    imageToVolumeNode,
    placeInSubjectHierarchy,
)


def test_patientStudyAndNodesAreCreatedAndReused(scene):
    volume = imageToVolumeNode(sitk.Image([3, 3, 3], sitk.sitkInt16), scene, "T1")
    table = dataFrameToTableNode(pd.DataFrame({"x": [1.0]}), scene, "features")
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    constants = slicer.vtkMRMLSubjectHierarchyConstants

    studyItem = placeInSubjectHierarchy(scene, [volume, table], "VB001", "baseline MR")
    patientItem = shNode.GetItemParent(studyItem)
    assert shNode.GetItemLevel(studyItem) == constants.GetDICOMLevelStudy()
    assert shNode.GetItemName(studyItem) == "baseline MR"
    assert shNode.GetItemLevel(patientItem) == constants.GetDICOMLevelPatient()
    assert shNode.GetItemName(patientItem) == "VB001"
    assert shNode.GetItemParent(patientItem) == shNode.GetSceneItemID()
    for node in (volume, table):
        assert shNode.GetItemParent(shNode.GetItemByDataNode(node)) == studyItem

    later = dataFrameToTableNode(pd.DataFrame({"y": [2.0]}), scene, "outcome")
    assert placeInSubjectHierarchy(scene, [later], "VB001", "baseline MR") == studyItem
    followUp = placeInSubjectHierarchy(scene, [table], "VB001", "follow-up")
    assert followUp != studyItem and shNode.GetItemParent(followUp) == patientItem
    assert shNode.GetItemParent(shNode.GetItemByDataNode(table)) == followUp
    patients = vtk.vtkIdList()
    shNode.GetItemChildren(shNode.GetSceneItemID(), patients, False)
    assert patients.GetNumberOfIds() == 1


def test_withoutStudyNodesGoUnderThePatient(scene):
    volume = imageToVolumeNode(sitk.Image([3, 3, 3], sitk.sitkInt16), scene, "T1")
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    patientItem = placeInSubjectHierarchy(scene, [volume], "VB002")
    assert shNode.GetItemName(patientItem) == "VB002"
    assert shNode.GetItemParent(shNode.GetItemByDataNode(volume)) == patientItem


def test_badArguments(scene):
    volume = imageToVolumeNode(sitk.Image([3, 3, 3], sitk.sitkInt16), scene, "T1")
    with pytest.raises(InputError, match="needs a patient name"):
        placeInSubjectHierarchy(scene, [volume], "")
    stray = slicer.vtkMRMLScalarVolumeNode()
    with pytest.raises(InputError, match="not a node of this scene"):
        placeInSubjectHierarchy(scene, [stray], "VB001")
