"""AI segmentation on nodes: a real MONAI model imported into a real registry, run on named volume nodes
of an oblique, left-handed grid, gives a segmentation (and probability / uncertainty volumes) on exactly that
grid, equal to the backend run on the same images."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import torch
import vtk
from monai.networks.nets import UNet

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.mrml.images import imageToVolumeNode, nodeGrid, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.backends.monaiBackend import MonaiSettings, predictMonai
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.logic import SegmentationLogic
from VirtualBiopsy.segment.modelLogic import (
    PROBABILITY_ROLE,
    PROVENANCE_ATTRIBUTE,
    UNCERTAINTY_ROLE,
)
from VirtualBiopsy.workers.inlineRunner import InlineRunner

pytestmark = pytest.mark.slow  # MONAI and torch imports, a network per test

NETWORK_ARGS = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 3,
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 1,
}
NEOPLASM = "SCT^108369006^Neoplasm"


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    folder = tmp_path_factory.mktemp("unet")
    torch.manual_seed(5)
    network = UNet(**NETWORK_ARGS)
    with torch.no_grad():
        last = [
            m
            for m in network.modules()
            if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)) and m.out_channels == 3
        ][-1]
        last.bias[1:] += torch.tensor([1.0, 0.5])  # so that some voxels are foreground
    torch.save(network.state_dict(), folder / "weights.pt")
    metadata = {
        "network": "UNet",
        "networkArgs": NETWORK_ARGS,
        "roiSize": [16, 16, 8],
        "version": "0.1",
        "inputs": ["T2", "FLAIR"],
        "labels": [
            {"value": 1, "name": "Tumor", "color": [0.9, 0.1, 0.1], "terminology": NEOPLASM},
            {"value": 2, "name": "Edema", "color": [0.1, 0.8, 0.2]},
        ],
    }
    (folder / "model.json").write_text(json.dumps(metadata))
    models = ModelRegistry(userFolder=tmp_path_factory.mktemp("models"))
    models.importModel(folder, "unet")
    return models


@pytest.fixture
def volumes(scene, makeImage):
    """T2 and FLAIR volume nodes on one oblique, left-handed grid."""
    nodes = {}
    for seed, name in enumerate(("T2", "FLAIR")):
        image = sitk.Cast(makeImage(np.float32, leftHanded=True, size=(19, 17, 9), seed=seed), sitk.sitkFloat32)
        nodes[name] = imageToVolumeNode(image, scene, name)
    return nodes


def config(**changes) -> SegmentationConfig:
    return SegmentationConfig.fromDict(
        {"method": "model", "modelId": "unet", "device": "cpu", "fillHoles": False, **changes}
    )


def logic(scene, registry) -> SegmentationLogic:
    return SegmentationLogic(scene, runner=InlineRunner(), registry=registry)


def expectedLabelMap(registry, volumes) -> sitk.Image:
    entry = registry.get("unet")
    network = UNet(**NETWORK_ARGS)
    network.load_state_dict(torch.load(registry.modelPath(entry) / "weights.pt", weights_only=True))
    images = [volumeNodeToImage(volumes[name]) for name in ("T2", "FLAIR")]
    return predictMonai(images, network, MonaiSettings.fromOptions(entry.options), device="cpu")


def test_segments_per_label_on_the_input_grid_equal_the_backend(scene, registry, volumes):
    before = {name: sitk.GetArrayFromImage(volumeNodeToImage(node)).copy() for name, node in volumes.items()}
    segmentation = logic(scene, registry).run(volumes, config())
    expected = expectedLabelMap(registry, volumes)
    labelMap, infos = segmentationToLabelmapImage(segmentation, volumes["T2"])
    values = np.zeros(labelMap.GetSize()[::-1], np.uint8)
    for info in infos:  # export labels count segments; map them back to model label values
        values[sitk.GetArrayFromImage(labelMap) == info.label] = {"Tumor": 1, "Edema": 2}[info.name]
    assert np.array_equal(values, sitk.GetArrayFromImage(expected.labelMap))
    assert set(np.unique(values)) >= {1}
    segments = segmentation.GetSegmentation()
    assert [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())] == ["Tumor", "Edema"]
    tumour = segments.GetNthSegment(0)
    assert tumour.GetColor() == pytest.approx((0.9, 0.1, 0.1))
    tag = vtk.reference("")
    assert tumour.GetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), tag) and NEOPLASM in str(tag)
    provenance = json.loads(segmentation.GetAttribute(PROVENANCE_ATTRIBUTE))
    assert provenance["modelId"] == "unet" and provenance["channelMapping"] == {"T2": "T2", "FLAIR": "FLAIR"}
    assert provenance["device"] == "cpu" and provenance["modelSha256"] == registry.get("unet").sha256
    for name, node in volumes.items():  # inputs untouched
        assert np.array_equal(sitk.GetArrayFromImage(volumeNodeToImage(node)), before[name])


def test_probability_and_uncertainty_volumes_lie_on_the_input_grid(scene, registry, volumes):
    made = logic(scene, registry).runModel(volumes, config(probabilities=True, uncertainty=True))
    expected = expectedLabelMap(registry, volumes)
    assert sorted(made.probabilities) == [1, 2]
    for value, node in made.probabilities.items():
        assert nodeGrid(node) == nodeGrid(volumes["T2"])
        assert np.allclose(sitk.GetArrayFromImage(volumeNodeToImage(node)), expected.probabilities[value], atol=1e-6)
    entropy = sitk.GetArrayFromImage(volumeNodeToImage(made.uncertainty))
    assert nodeGrid(made.uncertainty) == nodeGrid(volumes["T2"]) and 0 <= entropy.min() <= entropy.max() <= 1
    assert made.variance is None  # one network: no fold variance
    segmentation = made.segmentation
    assert segmentation.GetNumberOfNodeReferences(PROBABILITY_ROLE) == 2
    assert segmentation.GetNodeReference(UNCERTAINTY_ROLE) is made.uncertainty


def test_sequence_names_not_order_choose_the_channels(scene, registry, volumes):
    forward = logic(scene, registry).run({"T2": volumes["T2"], "FLAIR": volumes["FLAIR"]}, config())
    backward = logic(scene, registry).run({"flair": volumes["FLAIR"], "t2w": volumes["T2"]}, config())
    first, _ = segmentationToLabelmapImage(forward, volumes["T2"])
    second, _ = segmentationToLabelmapImage(backward, volumes["T2"])
    assert np.array_equal(sitk.GetArrayFromImage(first), sitk.GetArrayFromImage(second))
    swapped = logic(scene, registry).run({"T2": volumes["FLAIR"], "FLAIR": volumes["T2"]}, config())
    third, _ = segmentationToLabelmapImage(swapped, volumes["T2"])
    assert not np.array_equal(sitk.GetArrayFromImage(first), sitk.GetArrayFromImage(third))


def nodeCount(scene) -> int:
    return scene.GetNumberOfNodes()


def test_missing_sequence_and_cancel_leave_the_scene_unchanged(scene, registry, volumes):
    count = nodeCount(scene)
    with pytest.raises(InputError, match="FLAIR.*'T2'"):
        logic(scene, registry).run({"T2": volumes["T2"]}, config())
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(CancelledError):
        logic(scene, registry).run(volumes, config(probabilities=True), cancel=cancel)
    with pytest.raises(InputError, match="No model with id 'nope'"):
        logic(scene, registry).run(volumes, config(modelId="nope"))
    assert nodeCount(scene) == count


def test_output_segmentation_is_reused_and_threshold_method_unchanged(scene, registry, volumes):
    target = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "AI")
    result = logic(scene, registry).run(volumes, config(), outputSegmentation=target)
    assert result is target and target.GetSegmentation().GetNumberOfSegments() == 2
    assert SegmentationConfig().method == "thresholdLargestIsland"


@pytest.mark.slow
def test_default_runner_is_a_worker_process_with_the_same_result(scene, registry, volumes):
    inline = logic(scene, registry).run(volumes, config())
    worker = SegmentationLogic(scene, registry=registry).run(volumes, config())
    first, _ = segmentationToLabelmapImage(inline, volumes["T2"])
    second, _ = segmentationToLabelmapImage(worker, volumes["T2"])
    assert np.array_equal(sitk.GetArrayFromImage(first), sitk.GetArrayFromImage(second))


def test_empty_prediction_gives_named_empty_segments(scene, registry, volumes, tmp_path, caplog):
    torch.manual_seed(5)
    network = UNet(**NETWORK_ARGS)
    with torch.no_grad():
        last = [
            m
            for m in network.modules()
            if isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)) and m.out_channels == 3
        ][-1]
        last.bias[0] += 1000.0  # background everywhere
    torch.save(network.state_dict(), tmp_path / "weights.pt")
    source = registry.modelPath(registry.get("unet")) / "model.json"
    (tmp_path / "model.json").write_text(source.read_text(encoding="utf-8"))
    registry.importModel(tmp_path, "empty")
    made = logic(scene, registry).runModel(volumes, config(modelId="empty", uncertainty=True))
    segments = made.segmentation.GetSegmentation()
    assert [segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())] == ["Tumor", "Edema"]
    labelMap, _ = segmentationToLabelmapImage(made.segmentation, volumes["T2"])
    assert not sitk.GetArrayFromImage(labelMap).any()
    assert "found no Tumor or Edema" in caplog.text
    assert sitk.GetArrayFromImage(volumeNodeToImage(made.uncertainty)).max() < 1e-3


def test_a_model_file_changed_after_import_is_refused_on_nodes_and_nothing_is_made(scene, registry, volumes, tmp_path):
    """The panel's and the pipeline's path: a metadata file swapped after import (now naming ``os.system``) is
    refused by the hash check before anything is read, and the scene is unchanged."""
    from VirtualBiopsy.errors import ModelError

    copy = ModelRegistry(userFolder=tmp_path / "models")
    copy.importModel(registry.modelPath(registry.get("unet")), "unet")
    metadata = copy.modelPath(copy.get("unet")) / "model.json"
    document = json.loads(metadata.read_text(encoding="utf-8"))
    metadata.write_text(json.dumps({**document, "network": "os.system"}), encoding="utf-8")
    count = nodeCount(scene)
    with pytest.raises(ModelError, match=r"(?s)Model 'unet' .* does not match its manifest.*changed  model\.json"):
        logic(scene, copy).run(volumes, config())
    assert nodeCount(scene) == count


def test_volumes_named_by_sequence_are_matched_to_the_model_inputs(scene, registry, volumes):
    """The Segmentation panel's path: a list of volumes whose names contain their sequence ("VB7_flair") gives
    the same segmentation as the mapping; a name that names no input of the model is refused, naming it."""
    byMapping, _ = segmentationToLabelmapImage(logic(scene, registry).run(volumes, config()), volumes["T2"])
    volumes["T2"].SetName("VB7 t2")
    volumes["FLAIR"].SetName("VB7_flair")
    byName, _ = segmentationToLabelmapImage(
        logic(scene, registry).run([volumes["FLAIR"], volumes["T2"]], config()), volumes["T2"]
    )
    assert np.array_equal(sitk.GetArrayFromImage(byName), sitk.GetArrayFromImage(byMapping))
    volumes["FLAIR"].SetName("VB7_T1c")
    count = nodeCount(scene)
    with pytest.raises(InputError, match=r"model's sequences \(T2, FLAIR\) the volume 'VB7_T1c'"):
        logic(scene, registry).run([volumes["T2"], volumes["FLAIR"]], config())
    assert nodeCount(scene) == count
