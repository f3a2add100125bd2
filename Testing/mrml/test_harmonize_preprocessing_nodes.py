"""Preprocessing and registration on volume nodes: equal to the SimpleITK functions, inputs untouched,
transform nodes in Slicer's RAS convention (checked by points, Slicer's own reader and hardening)."""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import vtk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField
from VirtualBiopsy.harmonize.denoising import denoiseImage
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig, RegistrationConfig
from VirtualBiopsy.harmonize.preprocessingLogic import (
    PREPROCESSING_ATTRIBUTE,
    REGISTRATION_ATTRIBUTE,
    PreprocessingLogic,
    RegistrationLogic,
)
from VirtualBiopsy.harmonize.registration import registerImages
from VirtualBiopsy.harmonize.resampling import resampleImage
from VirtualBiopsy.mrml import (
    imageToVolumeNode,
    labelmapImageToSegmentation,
    volumeNodeToImage,
)
from VirtualBiopsy.mrml.transforms import linearMatrixRas, transformToNode

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit"))
from harmonizePhantoms import knownRigidTransform, smoothBias, twoContrastHead  # noqa: E402

LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])


def _array(image):
    return sitk.GetArrayFromImage(image)


@pytest.fixture
def volumes(scene):
    """An oblique phantom with a smooth bias as a volume node, its lesion as a labelmap node."""
    image, _, lesion = twoContrastHead(size=32, spacing=4.0, oblique=True)
    image = image * smoothBias(image, 0.4)
    return (
        imageToVolumeNode(image, scene, "T1"),
        imageToVolumeNode(lesion, scene, "lesion", labelmap=True),
        image,
        lesion,
    )


def test_bias_field_on_nodes_equals_the_function(scene, volumes):
    volume, _, image, _ = volumes
    before = _array(volumeNodeToImage(volume))
    bias = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "bias")
    logic = PreprocessingLogic(scene)
    config = PreprocessingConfig(n4ShrinkFactor=2, n4Levels=2, n4Iterations=10)
    output = logic.correctBiasField(volume, config, biasFieldVolume=bias)
    expected, expectedBias = correctBiasField(image, shrinkFactor=2, iterations=(10, 10))
    np.testing.assert_array_equal(_array(volumeNodeToImage(output)), _array(expected))
    np.testing.assert_array_equal(_array(volumeNodeToImage(bias)), _array(expectedBias))
    assert output.GetName() == "T1_n4" and output is not volume
    np.testing.assert_array_equal(_array(volumeNodeToImage(volume)), before)  # input untouched
    record = json.loads(output.GetAttribute(PREPROCESSING_ATTRIBUTE))
    assert record["method"] == "n4" and record["shrinkFactor"] == 2 and record["input"] == "T1"


def test_masks_as_labelmap_or_segmentation_give_the_same_result(scene, volumes):
    volume, labelmap, image, lesion = volumes
    big = sitk.BinaryDilate(lesion, [4, 4, 4])
    labelmapNode = imageToVolumeNode(big, scene, "big", labelmap=True)
    segmentation = labelmapImageToSegmentation(big, scene, "bigSegmentation", referenceVolume=volume)
    logic = PreprocessingLogic(scene)
    expected, _ = correctBiasField(image, big, shrinkFactor=1, iterations=(5,))
    config = PreprocessingConfig(n4ShrinkFactor=1, n4Levels=1, n4Iterations=5)
    for mask in (labelmapNode, segmentation):
        output = logic.correctBiasField(volume, config, mask=mask)
        np.testing.assert_array_equal(_array(volumeNodeToImage(output)), _array(expected))


def test_head_mask_node_equals_the_foreground_function(scene, volumes):
    volume, _, image, _ = volumes
    head = PreprocessingLogic(scene).headMask(volume)
    assert head.IsA("vtkMRMLLabelMapVolumeNode") and head.GetName() == "T1_head"
    got = volumeNodeToImage(head)
    np.testing.assert_array_equal(_array(got), _array(foregroundMask(image)))
    np.testing.assert_allclose(got.GetDirection(), image.GetDirection(), atol=1e-12)


def test_mask_on_another_grid_and_output_onto_input_are_refused(scene, volumes):
    volume, _, image, lesion = volumes
    other = sitk.Image(lesion)
    other.SetSpacing((2.0, 2.0, 2.0))
    with pytest.raises(GeometryError, match="spacing"):
        PreprocessingLogic(scene).correctBiasField(
            volume, PreprocessingConfig(), mask=imageToVolumeNode(other, scene, "other", labelmap=True)
        )
    with pytest.raises(InputError, match="inputs are never modified"):
        PreprocessingLogic(scene).denoise(volume, PreprocessingConfig(denoisingMethod="curvatureFlow"), volume)
    with pytest.raises(InputError, match="segmentation or a labelmap"):
        PreprocessingLogic(scene).correctBiasField(
            volume, PreprocessingConfig(), mask=scene.AddNewNodeByClass("vtkMRMLTableNode")
        )
    with pytest.raises(InputError, match="n4Levels is 0"):
        PreprocessingLogic(scene).correctBiasField(volume, PreprocessingConfig(n4Levels=0))


def test_denoise_and_resample_on_nodes_equal_the_functions(scene, volumes):
    volume, _, image, _ = volumes
    logic = PreprocessingLogic(scene)
    denoised = logic.denoise(volume, PreprocessingConfig(denoisingMethod="gradientAnisotropicDiffusion"))
    np.testing.assert_array_equal(
        _array(volumeNodeToImage(denoised)), _array(denoiseImage(image, "gradientAnisotropicDiffusion"))
    )
    resampled = logic.resample(volume, PreprocessingConfig(resamplingSpacingMm=3.0))
    expected = resampleImage(image, "isotropic", 3.0, "bspline")
    got = volumeNodeToImage(resampled)
    np.testing.assert_array_equal(_array(got), _array(expected))
    np.testing.assert_allclose(got.GetOrigin(), expected.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(got.GetDirection(), expected.GetDirection(), atol=1e-12)
    onto = logic.resample(
        volume, PreprocessingConfig(resamplingPreset="reference", resamplingInterpolator="linear"), reference=resampled
    )
    assert volumeNodeToImage(onto).GetSize() == got.GetSize()
    assert json.loads(onto.GetAttribute(PREPROCESSING_ATTRIBUTE))["reference"] == resampled.GetName()


def test_linear_transform_node_matches_slicer_reader_and_points(scene, tmp_path):
    transform = sitk.AffineTransform(3)
    transform.SetMatrix((1.02, 0.05, -0.03, -0.04, 0.97, 0.06, 0.02, -0.05, 1.01))
    transform.SetCenter((5.0, -7.0, 11.0))
    transform.SetTranslation((3.0, -2.0, 4.5))
    node = transformToNode(transform, scene, "linear")
    assert node.IsA("vtkMRMLLinearTransformNode")
    # Slicer's own ITK reader (LPS → RAS, resampling convention) gives the same matrix
    path = tmp_path / "t.tfm"
    sitk.WriteTransform(transform, str(path))
    reference = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    storage = slicer.vtkMRMLTransformStorageNode()
    storage.SetFileName(str(path))
    assert storage.ReadData(reference)
    fromParent = vtk.vtkMatrix4x4()
    reference.GetMatrixTransformFromParent(fromParent)
    ours = vtk.vtkMatrix4x4()
    node.GetMatrixTransformFromParent(ours)
    for row in range(4):
        for column in range(4):
            assert ours.GetElement(row, column) == pytest.approx(fromParent.GetElement(row, column), abs=1e-12)
    point = np.array([12.0, -30.0, 7.0])
    expected = LPS_TO_RAS * np.array(transform.TransformPoint(tuple(point)))
    np.testing.assert_allclose(
        node.GetTransformFromParent().TransformPoint(tuple(LPS_TO_RAS * point)), expected, atol=1e-9
    )
    np.testing.assert_allclose(
        linearMatrixRas(transform)[:3, 3], [fromParent.GetElement(i, 3) for i in range(3)], atol=1e-12
    )


def test_bspline_transform_node_maps_points_like_simpleitk(scene):
    grid, _, _ = twoContrastHead(size=16, spacing=8.0)
    deformable = sitk.BSplineTransformInitializer(grid, [3, 3, 3], 3)
    deformable.SetParameters(tuple(np.random.default_rng(0).normal(0, 2.0, len(deformable.GetParameters()))))
    composite = sitk.CompositeTransform([knownRigidTransform(), deformable])
    node = transformToNode(composite, scene, "deformable")
    assert not node.IsLinear()
    for point in ((0.0, 0.0, 0.0), (20.0, -15.0, 10.0), (-30.0, 25.0, -5.0)):
        expected = LPS_TO_RAS * np.array(composite.TransformPoint(point))
        got = node.GetTransformFromParent().TransformPoint(tuple(LPS_TO_RAS * np.array(point)))
        np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.slow
def test_registration_on_nodes_equals_simpleitk_and_hardening_aligns_the_volume(scene):
    fixedImage, t2Like, lesion = twoContrastHead(size=40, spacing=3.0, oblique=True)
    movingImage = sitk.Resample(t2Like, t2Like, knownRigidTransform().GetInverse(), sitk.sitkLinear, 0.0)
    fixed = imageToVolumeNode(fixedImage, scene, "T1")
    moving = imageToVolumeNode(movingImage, scene, "T2")
    mask = imageToVolumeNode(lesion, scene, "lesion", labelmap=True)
    logic = RegistrationLogic(scene)
    transformNode, resampled = logic.run(fixed, moving, RegistrationConfig(registrationStages="rigid"), mask=mask)
    direct = registerImages(fixedImage, movingImage, lesion, stages=("rigid",))
    np.testing.assert_allclose(logic.result.transform.GetParameters(), direct.transform.GetParameters(), atol=1e-4)
    np.testing.assert_array_equal(_array(volumeNodeToImage(resampled)), _array(logic.result.resampled))
    assert volumeNodeToImage(resampled).GetSize() == fixedImage.GetSize()
    # a known point: the transform node maps fixed RAS points where SimpleITK maps LPS ones
    point = np.array([10.0, -20.0, 15.0])
    expected = LPS_TO_RAS * np.array(logic.result.transform.TransformPoint(tuple(point)))
    np.testing.assert_allclose(
        transformNode.GetTransformFromParent().TransformPoint(tuple(LPS_TO_RAS * point)), expected, atol=1e-9
    )
    # hardening the transform on a copy of the moving volume puts it where the resampled volume is
    copy = imageToVolumeNode(movingImage, scene, "T2copy")
    copy.SetAndObserveTransformNodeID(transformNode.GetID())
    assert slicer.vtkSlicerTransformLogic.hardenTransform(copy)
    hardened = sitk.Resample(
        volumeNodeToImage(copy), fixedImage, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32
    )
    np.testing.assert_allclose(
        _array(hardened), _array(logic.result.resampled), atol=1e-2 * float(_array(movingImage).max())
    )
    # inputs untouched, provenance recorded
    np.testing.assert_array_equal(_array(volumeNodeToImage(moving)), _array(movingImage))
    assert moving.GetParentTransformNode() is None
    record = json.loads(transformNode.GetAttribute(REGISTRATION_ATTRIBUTE))
    assert record["fixed"] == "T1" and record["moving"] == "T2" and record["mask"] == "lesion"
    assert record["qcPassed"] is True and record["metrics"]["nmiAfter"] > record["metrics"]["nmiBefore"]
    assert json.loads(resampled.GetAttribute(REGISTRATION_ATTRIBUTE)) == record
    with pytest.raises(InputError, match="inputs are never modified"):
        logic.run(fixed, moving, RegistrationConfig(), moving)
