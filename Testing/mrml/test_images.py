"""Volume nodes ⇄ SimpleITK images: exact round trips and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import requireSameGrid
from VirtualBiopsy.mrml import imageToVolumeNode, volumeNodeToImage

DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64]


def assertSameImage(actual: sitk.Image, expected: sitk.Image) -> None:
    assert actual.GetPixelID() == expected.GetPixelID()
    assert actual.GetSize() == expected.GetSize()
    assert actual.GetSpacing() == expected.GetSpacing()
    assert actual.GetOrigin() == expected.GetOrigin()
    assert actual.GetDirection() == expected.GetDirection()
    assert np.array_equal(sitk.GetArrayViewFromImage(actual), sitk.GetArrayViewFromImage(expected))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_roundTripKeepsVoxelsTypeAndGeometryExactly(scene, makeImage, dtype):
    image = makeImage(dtype)
    node = imageToVolumeNode(image, scene, "volume")
    assert node.IsA("vtkMRMLScalarVolumeNode") and not node.IsA("vtkMRMLLabelMapVolumeNode")
    assert node.GetDisplayNode() is not None
    assertSameImage(volumeNodeToImage(node), image)


@pytest.mark.parametrize("leftHanded", [False, True], ids=["rightHanded", "leftHanded"])
def test_geometryGoesThroughIjkToRas(scene, makeImage, leftHanded):
    image = makeImage(np.float32, leftHanded=leftHanded)
    node = imageToVolumeNode(image, scene, "volume")
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    index = (1, 2, 3)
    ras = matrix.MultiplyPoint((*index, 1.0))[:3]
    lps = image.TransformIndexToPhysicalPoint(index)
    np.testing.assert_allclose(ras, (-lps[0], -lps[1], lps[2]), atol=1e-12)
    assert np.sign(np.linalg.det(np.array(image.GetDirection()).reshape(3, 3))) == (-1 if leftHanded else 1)
    assertSameImage(volumeNodeToImage(node), image)


def test_labelmapNodeAndUpdatingAnExistingNode(scene, makeImage):
    labels = makeImage(np.uint8)
    node = imageToVolumeNode(labels, scene, "labels", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    replacement = makeImage(np.uint16, leftHanded=False, size=(4, 4, 4), seed=3)
    same = imageToVolumeNode(replacement, scene, "renamed", volumeNode=node, labelmap=True)
    assert same is node and node.GetName() == "renamed"
    assertSameImage(volumeNodeToImage(node), replacement)


def test_labelmapNeedsIntegerVoxelsAndMatchingNodeClass(scene, makeImage):
    with pytest.raises(InputError, match="integer"):
        imageToVolumeNode(makeImage(np.float32), scene, "bad", labelmap=True)
    scalarNode = imageToVolumeNode(makeImage(), scene, "scalar")
    with pytest.raises(InputError, match="vtkMRMLLabelMapVolumeNode"):
        imageToVolumeNode(makeImage(), scene, "x", volumeNode=scalarNode, labelmap=True)


def test_rejects4DVectorAnd2DImages(scene):
    fourD = sitk.Image([4, 4, 4, 3], sitk.sitkInt16)
    with pytest.raises(GeometryError, match="4D.*3D scalar volume"):
        imageToVolumeNode(fourD, scene, "fourD")
    vector = sitk.Image([4, 4, 4], sitk.sitkVectorFloat32, 3)
    with pytest.raises(GeometryError, match="3 components.*VectorIndexSelectionCast"):
        imageToVolumeNode(vector, scene, "vector")
    with pytest.raises(GeometryError, match="2D.*JoinSeries"):
        imageToVolumeNode(sitk.Image([4, 4], sitk.sitkUInt8), scene, "flat")
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 0


def test_rejectsVectorVolumeNodes(scene):
    vectorNode = scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "rgb")
    imageData = vtk.vtkImageData()
    imageData.SetDimensions(3, 3, 3)
    imageData.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 3)
    vectorNode.SetAndObserveImageData(imageData)
    with pytest.raises(GeometryError, match="3 components"):
        volumeNodeToImage(vectorNode)
    with pytest.raises(InputError, match="no voxels"):
        volumeNodeToImage(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty"))


def test_transformedVolumeIsRefusedUntilHardened(scene, makeImage):
    image = makeImage()
    node = imageToVolumeNode(image, scene, "moved")
    transformNode = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    shift = vtk.vtkMatrix4x4()
    shift.SetElement(0, 3, 10.0)
    transformNode.SetMatrixTransformToParent(shift)
    node.SetAndObserveTransformNodeID(transformNode.GetID())
    with pytest.raises(GeometryError, match="linear transform 'shift'.*Harden"):
        volumeNodeToImage(node)
    assert slicer.vtkSlicerTransformLogic.hardenTransform(node)
    hardened = volumeNodeToImage(node)
    expectedOrigin = np.array(image.GetOrigin()) + (-10.0, 0.0, 0.0)  # +10 mm in R is -10 mm in L
    np.testing.assert_allclose(hardened.GetOrigin(), expectedOrigin, atol=1e-9)


def test_requireSameGridListsEveryDifferenceAndTheFix(makeImage):
    image = makeImage()
    requireSameGrid(image, sitk.Image(image))
    nearlySame = sitk.Image(image)
    nearlySame.SetOrigin(np.array(image.GetOrigin()) + 1e-5)
    requireSameGrid(image, nearlySame)

    other = makeImage(leftHanded=False, size=(5, 6, 8))
    other.SetSpacing((0.7, 1.3, 3.0))
    with pytest.raises(GeometryError) as raised:
        requireSameGrid(image, other, what="mask")
    message = str(raised.value)
    for word in (
        "size (5, 6, 7) (image) vs (5, 6, 8) (mask)",
        "spacing",
        "direction",
        "Resample the mask",
        "belongs to this image",
    ):
        assert word in message
    assert "origin" not in message
