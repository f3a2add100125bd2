"""The MONAI backend equals MONAI's own sliding-window inference on a seeded UNet, saved as a state dict
and as TorchScript; outputs lie on the input grid; the stored voxel order does not change the result."""

import dataclasses
import os
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from monai.transforms import NormalizeIntensity

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.files import sha256File
from VirtualBiopsy.models.allowList import UnsafeModelError
from VirtualBiopsy.models.hashing import treeDigest
from VirtualBiopsy.models.manifest import entryToDict
from VirtualBiopsy.models.modelEntry import ModelEntry, ModelInput, ModelLabel
from VirtualBiopsy.segment.backends.monaiBackend import (
    MonaiSettings,
    loadMonaiNetwork,
    predictMonai,
)
from VirtualBiopsy.segment.inferenceTask import TASK
from VirtualBiopsy.workers.inlineRunner import InlineRunner

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")]

NETWORK_ARGS = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 3,
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 1,
}
SETTINGS = MonaiSettings(network="UNet", networkArgs=NETWORK_ARGS, roiSize=(16, 16, 8), overlap=0.25)


def seededNetwork() -> torch.nn.Module:
    torch.manual_seed(3)
    return UNet(**NETWORK_ARGS).eval()


@pytest.fixture(scope="module")
def savedModels(tmp_path_factory) -> dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("monai")
    network = seededNetwork()
    torch.save(network.state_dict(), folder / "weights.pt")
    torch.jit.script(network).save(str(folder / "model.ts"))
    return {"state": folder / "weights.pt", "script": folder / "model.ts"}


def obliqueCase(size=(21, 18, 11), seed=1) -> list[sitk.Image]:
    rng = np.random.default_rng(seed)
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3) @ np.diag([1, 1, -1])
    images = []
    for channel in range(2):
        voxels = rng.normal(100 * (channel + 1), 20, size[::-1]).astype(np.float32)
        voxels[:, :2] = 0  # background for the non-zero z-score
        image = sitk.GetImageFromArray(voxels)
        image.SetSpacing((0.9, 1.1, 2.5))
        image.SetOrigin((5.0, -3.0, 40.0))
        image.SetDirection(tuple(rotation.ravel()))
        images.append(image)
    return images


def reference(network, images, settings: MonaiSettings, flips=()) -> np.ndarray:
    """MONAI directly: NormalizeIntensity, sliding_window_inference, softmax, in MONAI's (x, y, z) layout."""
    voxels = np.stack([sitk.GetArrayFromImage(image).transpose(2, 1, 0) for image in images])
    tensor = NormalizeIntensity(nonzero=True, channel_wise=True)(torch.from_numpy(voxels))[None]
    outputs = []
    with torch.no_grad():
        for flip in ((),) + tuple(flips):
            source = torch.flip(tensor, flip) if flip else tensor
            logits = sliding_window_inference(source, settings.roiSize, 1, network, overlap=settings.overlap)
            logits = torch.flip(logits, flip) if flip else logits
            outputs.append(torch.softmax(torch.as_tensor(logits).float(), dim=1))
    return (sum(outputs) / len(outputs))[0].numpy().transpose(0, 3, 2, 1)


def test_state_dict_network_equals_sliding_window_inference(savedModels):
    images = obliqueCase()
    network = loadMonaiNetwork("monai-network", savedModels["state"], SETTINGS, None)
    result = predictMonai(images, network, SETTINGS, device="cpu")
    expected = reference(seededNetwork(), images, SETTINGS)
    assert np.allclose(result.probabilities, expected, atol=1e-6, rtol=0)
    assert np.array_equal(sitk.GetArrayFromImage(result.labelMap), np.argmax(expected, axis=0))
    assert result.labelValues == (0, 1, 2) and not result.provenance["testTimeAugmentation"]
    for attribute in ("GetSize", "GetSpacing", "GetOrigin", "GetDirection"):
        assert getattr(result.labelMap, attribute)() == getattr(images[0], attribute)()


def test_torchscript_equals_the_state_dict_network(savedModels):
    images = obliqueCase()
    scripted = loadMonaiNetwork("monai-torchscript", savedModels["script"], SETTINGS, sha256File(savedModels["script"]))
    result = predictMonai(images, scripted, SETTINGS, device="cpu")
    assert np.allclose(result.probabilities, reference(seededNetwork(), images, SETTINGS), atol=1e-5, rtol=0)


def test_mirroring_averages_flipped_predictions(savedModels):
    images = obliqueCase()
    settings = dataclasses.replace(SETTINGS, mirrorAxes=(0, 2))
    network = loadMonaiNetwork("monai-network", savedModels["state"], settings, None)
    result = predictMonai(images, network, settings, device="cpu", testTimeAugmentation=True)
    expected = reference(seededNetwork(), images, settings, flips=[(2,), (4,), (2, 4)])
    assert np.allclose(result.probabilities, expected, atol=1e-6, rtol=0)
    assert result.provenance["testTimeAugmentation"] and result.provenance["mirrorAxes"] == [0, 2]


def test_resampled_run_returns_probabilities_on_the_input_grid(savedModels):
    images = obliqueCase()
    network = loadMonaiNetwork("monai-network", savedModels["state"], SETTINGS, None)
    same = predictMonai(images, network, dataclasses.replace(SETTINGS, spacing=images[0].GetSpacing()), device="cpu")
    plain = predictMonai(images, network, SETTINGS, device="cpu")
    assert np.allclose(same.probabilities, plain.probabilities, atol=1e-5)
    coarse = predictMonai(images, network, dataclasses.replace(SETTINGS, spacing=(1.5, 1.5, 3.0)), device="cpu")
    assert coarse.probabilities.shape == (3, 11, 18, 21)
    assert np.allclose(coarse.probabilities.sum(axis=0), 1.0, atol=1e-5)
    assert coarse.labelMap.GetDirection() == images[0].GetDirection()


def test_torchscript_with_a_wrong_or_missing_hash_is_not_loaded(savedModels):
    for expected in (None, "0" * 64):
        with pytest.raises(ModelError, match="SHA-256"):
            loadMonaiNetwork("monai-torchscript", savedModels["script"], SETTINGS, expected)


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_bad_network_definitions_and_payloads_are_refused(savedModels, tmp_path, caplog):
    with pytest.raises(UnsafeModelError, match="field 'network' holds 'os', which an untrusted model may not name"):
        loadMonaiNetwork("monai-network", savedModels["state"], dataclasses.replace(SETTINGS, network="os"), None)
    with pytest.raises(ModelError, match="not in monai.networks.nets"):  # trusted: no allow-list, still no import
        loadMonaiNetwork(
            "monai-network", savedModels["state"], dataclasses.replace(SETTINGS, network="os"), None, trusted=True
        )
    wrong = dataclasses.replace(SETTINGS, networkArgs={**NETWORK_ARGS, "channels": [8, 16]})
    with pytest.raises(ModelError, match="do not fit"):
        loadMonaiNetwork("monai-network", savedModels["state"], wrong, None)
    marker = tmp_path / "payload-ran"
    torch.save({"weight": Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ModelError, match="not loaded"):
        loadMonaiNetwork("monai-network", tmp_path / "evil.pt", SETTINGS, None)
    assert not marker.exists()
    with pytest.raises(ModelError, match="roiSize"):
        MonaiSettings.fromOptions({"roiSize": [16, 16]})
    MonaiSettings.fromOptions({"roisize": [16, 16, 16], "metadata": "model.json"})
    assert "['roisize'] are not used" in caplog.text and "metadata" not in caplog.text
    with pytest.raises(UnsafeModelError, match="'os.path'"):
        loadMonaiNetwork("monai-network", savedModels["state"], dataclasses.replace(SETTINGS, network="os.path"), None)
    payload = {**NETWORK_ARGS, "act": "$__import__('os').mkdir('" + str(marker) + "')"}
    with pytest.raises(UnsafeModelError, match=r"field 'network arguments.act' holds .*no expressions"):
        loadMonaiNetwork(
            "monai-network", savedModels["state"], dataclasses.replace(SETTINGS, networkArgs=payload), None
        )
    assert not marker.exists()
    assert (
        loadMonaiNetwork(
            "monai-network",
            savedModels["state"],
            dataclasses.replace(SETTINGS, network="monai.networks.nets.UNet"),
            None,
        )
        is not None
    )


def monaiEntry(path: pathlib.Path, **options) -> dict:
    entry = ModelEntry(
        id="unet",
        version="1",
        backend="monai-network",
        path=str(path),
        inputs=(ModelInput("T2", 0), ModelInput("FLAIR", 1)),
        labels=(ModelLabel(1, "Tumor", (1.0, 0.0, 0.0)), ModelLabel(2, "Edema", (0.0, 1.0, 0.0))),
        sha256=treeDigest({path.name: sha256File(path)}),
        files={path.name: sha256File(path)},
        options={"network": "UNet", "networkArgs": NETWORK_ARGS, "roiSize": [16, 16, 8], **options},
    )
    return entryToDict(entry)


def test_permuted_and_flipped_storage_gives_the_same_physical_segmentation(savedModels, tmp_path):
    images = obliqueCase()
    stored = [sitk.DICOMOrient(image, "SLA") for image in images]  # same voxels, other axis order and signs
    labelMaps = []
    for index, case in enumerate((images, stored)):
        paths = {}
        for name, image in zip(("T2", "FLAIR"), case):
            paths[name] = str(tmp_path / f"{name}{index}.nrrd")
            sitk.WriteImage(image, paths[name])
        outputs = {"labelMap": str(tmp_path / f"labels{index}.nrrd")}
        InlineRunner().run(
            TASK,
            {
                "images": paths,
                "model": monaiEntry(savedModels["state"], orientation="RAS"),
                "device": "cpu",
                "outputs": outputs,
            },
        )
        labelMaps.append(sitk.ReadImage(outputs["labelMap"]))
    assert labelMaps[1].GetDirection() == sitk.ReadImage(paths["T2"]).GetDirection()
    onFirstGrid = sitk.Resample(labelMaps[1], labelMaps[0], sitk.Transform(), sitk.sitkNearestNeighbor)
    assert np.array_equal(sitk.GetArrayFromImage(onFirstGrid), sitk.GetArrayFromImage(labelMaps[0]))
    assert len(np.unique(sitk.GetArrayFromImage(labelMaps[0]))) > 1


def test_an_input_too_large_for_memory_is_refused_before_any_work(savedModels, tmp_path):
    images = obliqueCase()
    paths = {}
    for name, image in zip(("T2", "FLAIR"), images):
        paths[name] = str(tmp_path / f"{name}.nrrd")
        sitk.WriteImage(image, paths[name])
    entry = monaiEntry(savedModels["state"], spacing=[0.001, 0.001, 0.001])  # 10^13 voxels after resampling
    outputs = {"labelMap": str(tmp_path / "labels.nrrd")}
    with pytest.raises(InputError, match=r"needs an estimated [0-9.]+ GiB"):
        InlineRunner().run(TASK, {"images": paths, "model": entry, "device": "cpu", "outputs": outputs})
    assert not (tmp_path / "labels.nrrd").exists()
