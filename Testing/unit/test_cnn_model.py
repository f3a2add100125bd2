"""The CNN classifier on a small virtual cohort: model folder and manifest, Grad-CAM against MONAI, deep features,
refusals. One tiny training run (module fixture, in this process) serves every test."""

import copy
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from cnnFixtures import CROP_SIZE, CROP_SPACING, trainedCohort

from VirtualBiopsy.errors import GeometryError, InputError, ModelError
from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.outcome.deep.cohortData import cohortCrops
from VirtualBiopsy.outcome.deep.crops import insideCrop, makeCrop
from VirtualBiopsy.outcome.deep.features import cropFeatures, deepFeatureTable
from VirtualBiopsy.outcome.deep.gradcam import gradCam, insideOutsideRatio
from VirtualBiopsy.outcome.deep.modelFolder import loadClassifier, registerModel

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")
visualize = pytest.importorskip("monai.visualize")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return trainedCohort(tmp_path_factory.mktemp("cnn"))


@pytest.fixture(scope="module")
def patient(trained):
    folder = trained.root / "cohort" / "VB0001"
    images = {name: sitk.ReadImage(str(folder / f"{name}.nrrd")) for name in ("T1c", "T2", "FLAIR")}
    return images, sitk.ReadImage(str(folder / "mask.nrrd"))


def test_model_folder_loads_with_weights_only_and_matches_its_manifest_hash(trained):
    assert sorted(p.name for p in trained.modelDir.iterdir()) == ["config.json", "weights.pt"]
    state = torch.load(trained.modelDir / "weights.pt", weights_only=True)
    assert state and all(isinstance(value, torch.Tensor) for value in state.values())
    entry = trained.registry.get(trained.modelId)
    treeHash, files = treeHashes(trained.modelDir)
    assert entry.backend == "monai-classifier" and entry.sha256 == treeHash and entry.files == files
    assert trained.registry.verify(entry).ok
    model = loadClassifier(trained.modelId, trained.registry)
    assert model.channels == ["T1c", "FLAIR"] and model.classes == ["HGG", "LGG"]
    assert model.config["crop"]["size"] == CROP_SIZE and model.config["validation"]["epochsRun"] == 3
    assert 0.0 <= trained.result["validationAuc"] <= 1.0
    for name, value in model.network.state_dict().items():
        assert torch.equal(value, state[name])
    assert loadClassifier(trained.modelDir, trained.registry).entry.id == trained.modelId  # by folder: its entry


@pytest.mark.parametrize("method, camClass", [("gradcam", "GradCAM"), ("gradcampp", "GradCAMpp")])
def test_gradcam_equals_monai_called_directly_on_the_same_crop(trained, patient, method, camClass):
    images, mask = patient
    model = loadClassifier(trained.modelId, trained.registry)
    result = gradCam(model, images, mask, method)
    crop = makeCrop(images, mask, ["T1c", "FLAIR"], CROP_SIZE, CROP_SPACING)
    layer = model.config["targetLayer"]
    assert layer == "features.denseblock2" and result.layer == layer
    logits = model.network(torch.from_numpy(crop.array)[None])
    assert result.classIndex == int(logits.argmax())
    reference = getattr(visualize, camClass)(nn_module=model.network, target_layers=layer)
    expected = reference(torch.from_numpy(crop.array)[None], class_idx=result.classIndex)[0, 0].numpy()
    assert result.defined
    normalized = (result.cropMap - result.cropMap.min()) / np.ptp(result.cropMap)
    # MONAI 1.6's default normalizer maps (min, max) to (1, 0); ours maps them to (0, 1).
    np.testing.assert_allclose(normalized, 1.0 - expected, rtol=0, atol=1e-5)


def test_map_lies_on_the_image_grid_in_0_1_and_zero_outside_the_crop(trained, patient):
    images, mask = patient
    result = gradCam(loadClassifier(trained.modelId, trained.registry), images, mask, "gradcam", classIndex="LGG")
    camMap, image = result.map, images["T1c"]
    assert (camMap.GetSize(), camMap.GetSpacing(), camMap.GetOrigin(), camMap.GetDirection()) == (
        image.GetSize(),
        image.GetSpacing(),
        image.GetOrigin(),
        image.GetDirection(),
    )
    values = sitk.GetArrayViewFromImage(camMap)
    inside = insideCrop(result.grid, image)
    assert values.min() >= 0.0 and values.max() <= 1.0 + 1e-6 and values.max() > 0.5
    assert not values[~inside].any()
    assert result.className == "LGG" and sum(result.probabilities) == pytest.approx(1.0)
    ratio = insideOutsideRatio(camMap, mask)
    assert ratio is not None and ratio > 0


def test_a_constant_map_is_undefined_not_divided_by_zero(trained, patient):
    images, mask = patient
    model = loadClassifier(trained.modelId, trained.registry)
    model.network = copy.deepcopy(model.network)
    with torch.no_grad():
        model.network.class_layers.out.weight.zero_()  # the logits no longer depend on the features
    for method in ("gradcam", "gradcampp"):
        result = gradCam(model, images, mask, method)
        assert not result.defined and result.map is None
        assert "constant" in result.reason and np.ptp(result.cropMap) == 0.0


def test_deep_features_are_the_last_layers_inputs_and_deterministic(trained):
    first = loadClassifier(trained.modelId, trained.registry)
    crops = cohortCrops(trained.manifest, first.channels, first.cropSize, first.cropSpacing)
    table = deepFeatureTable(first, crops)
    again = deepFeatureTable(loadClassifier(trained.modelDir, trained.registry), crops)
    assert table.equals(again)
    linear = first.network.class_layers.out
    assert list(table.columns) == ["patient", *(f"deep_{i:04d}" for i in range(linear.in_features))]
    assert table["patient"].tolist() == [f"VB{i:04d}" for i in range(1, 9)]
    crop = crops["VB0003"]
    with torch.no_grad():
        logits = first.network(torch.from_numpy(crop.array)[None])[0].numpy()
    features = cropFeatures(first, crop)
    np.testing.assert_allclose(
        features @ linear.weight.detach().numpy().T + linear.bias.detach().numpy(), logits, rtol=1e-5, atol=1e-5
    )
    assert not first.network.training


def test_tampered_weights_unknown_ids_and_foreign_folders_are_refused(trained, tmp_path):
    copyDir = tmp_path / "copy"
    shutil.copytree(trained.modelDir, copyDir)
    registerModel(copyDir, trained.registry, "cnn-copy")
    data = bytearray((copyDir / "weights.pt").read_bytes())
    data[-40] ^= 0xFF
    (copyDir / "weights.pt").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its manifest"):
        loadClassifier("cnn-copy", trained.registry)
    with pytest.raises(ModelError, match="does not match its manifest"):
        loadClassifier(copyDir, trained.registry)
    with pytest.raises(InputError, match="No model with id 'cnn-tset'.*Did you mean 'cnn-test'"):
        loadClassifier("cnn-tset", trained.registry)
    with pytest.raises(InputError, match="exists already"):
        registerModel(trained.modelDir, trained.registry, "CNN-TEST")
    with pytest.raises(InputError, match="neither a classifier folder nor a model id"):
        loadClassifier(str(tmp_path / "absent" / "model"), trained.registry)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no config.json"):
        loadClassifier(tmp_path / "empty", trained.registry)


def test_gradcam_refuses_hostile_inputs(trained, patient):
    images, mask = patient
    model = loadClassifier(trained.modelId, trained.registry)
    with pytest.raises(InputError, match="Sequence 'FLAIR' is needed"):
        gradCam(model, {"T1c": images["T1c"], "T2": images["T2"]}, mask)
    empty = sitk.Image(mask.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(mask)
    with pytest.raises(InputError, match="mask is empty"):
        gradCam(model, images, empty)
    moved = sitk.Image(mask)
    moved.SetOrigin((1.0, 2.0, 3.0))
    with pytest.raises(GeometryError, match="tumour mask"):
        gradCam(model, images, moved)
    with pytest.raises(InputError, match="Class 'GBM' is not one"):
        gradCam(model, images, mask, classIndex="GBM")
    with pytest.raises(InputError, match="Class index 2 is out of range"):
        gradCam(model, images, mask, classIndex=2)
    with pytest.raises(InputError, match="method 'cam' is not known"):
        gradCam(model, images, mask, method="cam")
    with pytest.raises(ModelError, match="no layer 'features.nothing'"):
        gradCam(model, images, mask, layer="features.nothing")


def test_resnet_layers_serve_gradcam_and_features(trained, patient):
    from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel
    from VirtualBiopsy.outcome.deep.networks import (
        buildNetwork,
        featureLayer,
        networkArguments,
        targetLayer,
    )

    images, mask = patient
    torch.manual_seed(1)
    arguments = networkArguments("ResNet", "small", 2, 2)
    config = {
        **loadClassifier(trained.modelId, trained.registry).config,
        "network": "ResNet",
        "networkArgs": arguments,
        "targetLayer": targetLayer("ResNet", arguments),
        "featureLayer": featureLayer("ResNet"),
    }
    model = ClassifierModel(buildNetwork("ResNet", arguments).eval(), config, trained.registry.get(trained.modelId))
    crop = makeCrop(images, mask, ["T1c", "FLAIR"], CROP_SIZE, CROP_SPACING)
    features = cropFeatures(model, crop)
    with torch.no_grad():
        logits = model.network(torch.from_numpy(crop.array)[None])[0].numpy()
    fc = model.network.fc
    assert features.shape == (fc.in_features,)
    np.testing.assert_allclose(features @ fc.weight.detach().numpy().T + fc.bias.detach().numpy(), logits, atol=1e-5)
    result = gradCam(model, images, mask)
    assert result.layer == "layer4" and result.cropMap.shape == (CROP_SIZE,) * 3


def test_cancelled_training_leaves_no_model_folder(trained, tmp_path):
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.outcome.deep.trainingTask import TASK
    from VirtualBiopsy.progress import CancelToken
    from VirtualBiopsy.workers.inlineRunner import InlineRunner

    cancel = CancelToken()
    seen = []

    def progress(fraction, message):
        seen.append(message)
        if message.startswith("epoch 1/"):
            cancel.cancel()

    arguments = {
        "manifest": str(trained.manifest),
        "clinical": str(trained.clinical),
        "target": "grade",
        "out": str(tmp_path / "model"),
        "sequences": ["FLAIR"],
        "cropSize": 16,
        "cropSpacing": 5.0,
        "epochs": 5,
        "device": "cpu",
    }
    with pytest.raises(CancelledError):
        InlineRunner().run(TASK, arguments, progress, cancel)
    assert seen[-1].startswith("epoch 1/") and list(tmp_path.iterdir()) == []


def test_diverged_training_is_a_model_error_not_a_nan_auc():
    from VirtualBiopsy.outcome.deep.networks import buildNetwork, networkArguments
    from VirtualBiopsy.outcome.deep.training import TrainingSettings, trainNetwork

    network = buildNetwork("DenseNet", networkArguments("DenseNet", "small", 1, 2))
    crops = np.random.default_rng(0).normal(size=(8, 1, 16, 16, 16)).astype(np.float32)
    crops[:, 0, 0, 0, 0] = np.inf
    with pytest.raises(ModelError, match="Training diverged"):
        trainNetwork(network, crops, np.array([0, 0, 0, 0, 1, 1, 1, 1]), list("abcdefgh"), TrainingSettings(epochs=1))
