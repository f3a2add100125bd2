"""HarmonizationLogic on real volume, labelmap and segmentation nodes: every normalization equals the
pure function on the same voxels; masks from the foreground, a labelmap or a segmentation; bad inputs
get a clear error and leave the scene as it was."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, GeometryError, InputError
from VirtualBiopsy.harmonize.config import NORMALIZATION_METHODS, HarmonizationConfig
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.logic import HarmonizationLogic
from VirtualBiopsy.harmonize.normalization import (
    applyNyul,
    clahe,
    fitNyulLandmarks,
    histogramEqualization,
    histogramMatching,
    percentileRescale,
    whiteStripeNormalize,
    zScoreNormalize,
)
from VirtualBiopsy.mrml import (
    imageToVolumeNode,
    labelmapImageToSegmentation,
    volumeNodeToImage,
)
from VirtualBiopsy.progress import CancelToken

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "unit"))
from syntheticImages import headWithLesion  # noqa: E402


@pytest.fixture
def volumes(scene, tmp_path):
    """An input volume, a reference volume, a lesion mask and a Nyúl model file."""
    image, lesion, head = headWithLesion(size=32)
    reference = headWithLesion(size=32, seed=5)[0] * 2.0 + 50.0
    modelFile = fitNyulLandmarks([image, reference], [head, foregroundMask(reference)]).save(tmp_path / "nyul.json")
    return {
        "image": image,
        "lesion": lesion,
        "reference": reference,
        "modelFile": str(modelFile),
        "inputNode": imageToVolumeNode(image, scene, "input"),
        "referenceNode": imageToVolumeNode(reference, scene, "reference"),
    }


def _expected(method: str, image, mask, reference, modelFile: str, background):
    from VirtualBiopsy.harmonize.normalization import NyulModel

    if method == "zscore":
        return zScoreNormalize(image, mask, background)
    if method == "whitestripe":
        return whiteStripeNormalize(image, mask, "T1", 0.05, background)
    if method == "nyul":
        return applyNyul(image, mask, NyulModel.load(modelFile), background)
    if method == "histmatch":
        return histogramMatching(image, mask, reference, foregroundMask(reference), backgroundValue=background)
    if method == "percentile":
        return percentileRescale(image, mask, 1.0, 99.0, backgroundValue=background)
    if method == "histeq":
        return histogramEqualization(image, mask, 256, background)
    return clahe(image, mask, 0.01, None, 256, background)


@pytest.mark.parametrize("method", NORMALIZATION_METHODS)
def test_each_method_on_nodes_equals_the_pure_function(scene, volumes, method):
    config = HarmonizationConfig(normalization=method, backgroundValue=-2.0, nyulModelFile=volumes["modelFile"])
    before = volumeNodeToImage(volumes["inputNode"])
    reports = []
    reference = volumes["referenceNode"] if method == "histmatch" else None
    output = HarmonizationLogic(scene).run(
        volumes["inputNode"], config, reference=reference, progress=lambda fraction, message: reports.append(fraction)
    )
    image = volumes["image"]
    expected = _expected(method, image, foregroundMask(image), volumes["reference"], volumes["modelFile"], -2.0)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(volumeNodeToImage(output)), sitk.GetArrayFromImage(expected))
    assert output.GetName() == "input_harmonized" and output.GetAttribute("VirtualBiopsy.harmonization")
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(volumeNodeToImage(volumes["inputNode"])), sitk.GetArrayFromImage(before)
    )
    assert reports[0] == 0.0 and reports[-1] == 1.0
    if method == "nyul":
        from VirtualBiopsy.files import sha256File

        assert output.GetAttribute("VirtualBiopsy.nyulModelSha256") == sha256File(volumes["modelFile"])


def test_mask_from_a_segmentation_or_a_labelmap_and_normalizing_outside(scene, volumes):
    image, lesion = volumes["image"], volumes["lesion"]
    segmentation = labelmapImageToSegmentation(lesion, scene, "lesion", referenceVolume=volumes["inputNode"])
    labelmap = imageToVolumeNode(lesion, scene, "lesionLabel", labelmap=True)
    config = HarmonizationConfig(normalization="percentile", maskMode="mask")
    expected = sitk.GetArrayFromImage(percentileRescale(image, lesion, 1.0, 99.0))
    for maskNode in (segmentation, labelmap):
        output = HarmonizationLogic(scene).run(volumes["inputNode"], config, mask=maskNode)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(volumeNodeToImage(output)), expected)
    everywhere = HarmonizationLogic(scene).run(
        volumes["inputNode"], config.replace(normalizeOutsideMask=True), mask=labelmap
    )
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(volumeNodeToImage(everywhere)),
        sitk.GetArrayFromImage(percentileRescale(image, lesion, 1.0, 99.0, backgroundValue=None)),
    )


def _volumeNames(scene) -> list[str]:
    nodes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    return [nodes.GetItemAsObject(index).GetName() for index in range(nodes.GetNumberOfItems())]


def test_bad_inputs_get_clear_errors_and_add_no_volume(scene, volumes, tmp_path):
    logic = HarmonizationLogic(scene)
    node = volumes["inputNode"]
    labelmap = imageToVolumeNode(volumes["lesion"], scene, "lesionLabel", labelmap=True)
    with pytest.raises(InputError, match="no mask node was given"):
        logic.run(node, HarmonizationConfig(maskMode="mask"))
    with pytest.raises(InputError, match="maskMode is 'foreground'"):
        logic.run(node, HarmonizationConfig(), mask=labelmap)
    with pytest.raises(InputError, match="needs a reference volume"):
        logic.run(node, HarmonizationConfig(normalization="histmatch"))
    with pytest.raises(InputError, match="only 'histmatch' uses one"):
        logic.run(node, HarmonizationConfig(), reference=volumes["referenceNode"])
    with pytest.raises(InputError, match="nyulModelFile is empty"):
        logic.run(node, HarmonizationConfig(normalization="nyul"))
    with pytest.raises(InputError, match="Nyúl model file not found"):
        logic.run(node, HarmonizationConfig(normalization="nyul", nyulModelFile=str(tmp_path / "absent.json")))
    with pytest.raises(InputError, match="is a vtkMRMLScalarVolumeNode; give a segmentation"):
        logic.run(node, HarmonizationConfig(maskMode="mask"), mask=volumes["referenceNode"])
    shifted = sitk.Image(volumes["lesion"])
    shifted.SetOrigin((1.0, 2.0, 3.0))
    with pytest.raises(GeometryError, match="origin"):
        logic.run(
            node, HarmonizationConfig(maskMode="mask"), mask=imageToVolumeNode(shifted, scene, "moved", labelmap=True)
        )
    with pytest.raises(InputError, match="mask is empty"):
        logic.run(
            node,
            HarmonizationConfig(maskMode="mask"),
            mask=imageToVolumeNode(volumes["lesion"] * 0, scene, "empty", labelmap=True),
        )
    voxels = sitk.GetArrayFromImage(volumes["image"])
    voxels[16, 16, 16] = np.nan
    poisoned = sitk.GetImageFromArray(voxels)
    poisoned.CopyInformation(volumes["image"])
    poisonedNode = imageToVolumeNode(poisoned, scene, "poisoned")
    with pytest.raises(
        InputError,
        match=r"1 NaN or infinite voxel\(s\) \(1 NaN, 0 infinite\), the first at index \(i, j, k\) = \(16, 16, 16\)",
    ):
        logic.run(poisonedNode, HarmonizationConfig(normalization="whitestripe"))
    constantNode = imageToVolumeNode(volumes["image"] * 0 + 7, scene, "constant")
    with pytest.raises(InputError, match="constant"):
        logic.run(constantNode, HarmonizationConfig(maskMode="none"))
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        logic.run(node, HarmonizationConfig(), cancel=cancel)
    assert not [name for name in _volumeNames(scene) if name.endswith("_harmonized")]  # no output was made


def test_nyul_model_fitted_on_nodes_equals_the_library_and_applies(scene, tmp_path):
    images = [headWithLesion(size=24, seed=seed)[0] * (1 + seed) for seed in range(3)]
    lesion = headWithLesion(size=24)[1]
    nodes = [imageToVolumeNode(image, scene, f"T1c{index}") for index, image in enumerate(images)]
    logic = HarmonizationLogic(scene)
    path = tmp_path / "landmarks.json"
    model = logic.fitNyulModel(nodes, str(path), sequence="T1c")
    expected = fitNyulLandmarks(images, [foregroundMask(image) for image in images])
    np.testing.assert_allclose(model.standardLandmarks, expected.standardLandmarks)
    assert path.is_file() and model.sequence == "T1c"
    labelmaps = [imageToVolumeNode(lesion, scene, f"lesion{index}", labelmap=True) for index in range(3)]
    masked = logic.fitNyulModel(nodes, str(tmp_path / "lesion.json"), maskNodes=labelmaps)
    np.testing.assert_allclose(masked.standardLandmarks, fitNyulLandmarks(images, [lesion] * 3).standardLandmarks)
    output = logic.run(nodes[1], HarmonizationConfig(normalization="nyul", nyulModelFile=str(path)))
    assert np.isfinite(sitk.GetArrayFromImage(volumeNodeToImage(output))).all()
    with pytest.raises(InputError, match="exists already"):
        logic.fitNyulModel(nodes, str(path))
    with pytest.raises(InputError, match="3 volumes but 1 mask nodes"):
        logic.fitNyulModel(nodes, str(tmp_path / "other.json"), maskNodes=labelmaps[:1])
    with pytest.raises(InputError, match="no images"):
        logic.fitNyulModel([], str(tmp_path / "none.json"))
    assert not (tmp_path / "other.json").exists() and not (tmp_path / "none.json").exists()
