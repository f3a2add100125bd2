"""The ``monai-bundle`` backend on a tiny real bundle shaped like the MONAI Model Zoo's BraTS bundle: the nested label
map equals MONAI run directly (sliding window, sigmoid, threshold, innermost region wins) voxel for voxel; an unsafe
``network_def`` is refused before any weights load; unsupported transforms and configs are refused by name."""

import dataclasses
import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from bundleFolder import OVERLAP, ROI, SEQUENCES, bundleEntry, inferenceConfig, segResNet, writeBundle
from monai.inferers import sliding_window_inference
from monai.transforms import Activations, AsDiscrete, NormalizeIntensity

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.allowList import UnsafeModelError
from VirtualBiopsy.models.manifest import entryToDict
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.progress import noProgress
from VirtualBiopsy.segment.inferenceTask import runInference

pytestmark = pytest.mark.slow  # MONAI and torch, a SegResNet per test


def images(size=(21, 19, 11)) -> list[sitk.Image]:
    """Four channels with a zero background border (so that the non-zero z-score matters), on one grid."""
    generator = np.random.default_rng(7)
    made = []
    for index in range(len(SEQUENCES)):
        voxels = generator.normal(100.0 * (index + 1), 30.0, size[::-1]).astype(np.float32)
        voxels[:, :2, :] = 0
        image = sitk.GetImageFromArray(voxels)
        image.SetSpacing((1.0, 1.25, 2.5))
        image.SetOrigin((3.0, -4.0, 5.0))
        made.append(image)
    return made


def reference(folder, inputs: list[sitk.Image]) -> np.ndarray:
    """MONAI itself on the bundle: state dict, z-score, sliding window, sigmoid, threshold, then ET > TC > WT."""
    network = segResNet()
    network.load_state_dict(torch.load(folder / "models" / "model.pt", weights_only=True))
    voxels = np.stack([sitk.GetArrayFromImage(image).transpose(2, 1, 0) for image in inputs])
    tensor = NormalizeIntensity(nonzero=True, channel_wise=True)(torch.from_numpy(voxels))
    with torch.no_grad():
        logits = sliding_window_inference(torch.as_tensor(tensor)[None], ROI, 1, network.eval(), overlap=OVERLAP)
    masks = AsDiscrete(threshold=0.5)(Activations(sigmoid=True)(torch.as_tensor(logits)[0])) > 0
    core, whole, enhancing = masks
    labels = torch.where(enhancing, 3, torch.where(core, 1, torch.where(whole, 2, 0)))
    return labels.numpy().transpose(2, 1, 0)


def run(entry, inputs, tmp_path, **outputs) -> dict:
    paths = {}
    for name, image in zip(SEQUENCES, inputs):
        paths[name] = str(tmp_path / f"{name}.nii.gz")
        sitk.WriteImage(image, paths[name])
    arguments = {
        "images": paths,
        "model": entryToDict(entry),
        "modelPath": entry.path,
        "device": "cpu",
        "outputs": {"labelMap": str(tmp_path / "labels.nii.gz"), **outputs},
    }
    return runInference(arguments, noProgress)


def test_label_map_equals_monai_run_directly_voxel_for_voxel(tmp_path):
    folder = writeBundle(tmp_path / "bundle")
    inputs = images()
    result = run(bundleEntry(folder), inputs, tmp_path, probabilities=str(tmp_path / "p.nii.gz"))
    labels = sitk.ReadImage(result["outputs"]["labelMap"])
    expected = reference(folder, inputs)
    assert np.array_equal(sitk.GetArrayFromImage(labels), expected)
    assert set(np.unique(expected)) == {0, 1, 2, 3}  # every region and the background appear
    assert labels.GetSpacing() == inputs[0].GetSpacing() and labels.GetOrigin() == inputs[0].GetOrigin()
    assert result["labelValues"] == [1, 2, 3] and result["foundLabels"] == [1, 2, 3]
    provenance = result["provenance"]
    assert provenance["backend"] == "monai-bundle" and provenance["regions"] and provenance["roiSize"] == ROI
    assert (
        provenance["overlap"] == OVERLAP and provenance["threshold"] == 0.5 and provenance["regionOrder"] == [2, 1, 3]
    )
    probabilities = sitk.GetArrayFromImage(sitk.ReadImage(result["outputs"]["probabilities"]))
    assert probabilities.shape == (*expected.shape, 3) and 0 <= probabilities.min() <= probabilities.max() <= 1


def test_uncertainty_of_overlapping_regions_is_refused(tmp_path):
    folder = writeBundle(tmp_path / "bundle")
    with pytest.raises(InputError, match="overlapping regions"):
        run(bundleEntry(folder), images(), tmp_path, uncertainty=str(tmp_path / "u.nii.gz"))
    assert not (tmp_path / "labels.nii.gz").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"_target_": "monai.bundle.ConfigParser"}, "network_def._target_"),
        ({"_target_": "$__import__('os').system('touch pwned')"}, "network_def._target_"),
        ({"init_filters": "$__import__('os').getpid()"}, "network_def.init_filters"),
        ({"norm": {"_target_": "torch.nn.Identity"}}, "network_def.norm._target_"),
    ],
)
def test_unsafe_network_def_is_refused_before_any_weights_load(tmp_path, monkeypatch, change, field):
    config = inferenceConfig()
    config["network_def"].update(change)
    folder = writeBundle(tmp_path / "bundle", config, weights=b"not a checkpoint: never read")
    loads = []
    monkeypatch.setattr(ModelFiles, "loadCheckpoint", lambda self, path: loads.append(path))
    with pytest.raises(UnsafeModelError, match=field.replace(".", r"\.")) as refused:
        run(bundleEntry(folder), images(), tmp_path)
    assert "inference.json" in str(refused.value) and "--trust does not change this" in str(refused.value)
    assert loads == [] and not (tmp_path / "pwned").exists() and not (tmp_path / "labels.nii.gz").exists()


@pytest.mark.parametrize(
    ("section", "transform", "message"),
    [
        ("preprocessing", {"_target_": "Spacingd", "keys": "image", "pixdim": [1, 1, 1]}, "'Spacingd'"),
        ("preprocessing", {"_target_": "ScaleIntensityRanged", "keys": "image"}, "'ScaleIntensityRanged'"),
        ("postprocessing", {"_target_": "KeepLargestConnectedComponentd", "keys": "pred"}, "'KeepLargest"),
    ],
)
def test_an_unsupported_transform_is_refused_by_name(tmp_path, section, transform, message):
    config = inferenceConfig()
    config[section]["transforms"].insert(1, transform)
    folder = writeBundle(tmp_path / "bundle", config)
    with pytest.raises(ModelError, match=f"{section} transform {message}") as refused:
        run(bundleEntry(folder), images(), tmp_path)
    assert f"{section}.transforms[1]" in str(refused.value)


def test_a_softmax_bundle_and_a_bad_region_order_are_refused(tmp_path):
    config = inferenceConfig()
    config["postprocessing"]["transforms"][0] = {"_target_": "Activationsd", "keys": "pred", "softmax": True}
    folder = writeBundle(tmp_path / "softmax", config)
    with pytest.raises(ModelError, match="sigmoid"):
        run(bundleEntry(folder), images(), tmp_path)
    folder = writeBundle(tmp_path / "bundle")
    entry = bundleEntry(folder)
    entry = dataclasses.replace(entry, options={**entry.options, "regionOrder": ["Whole tumor", "Tumor core"]})
    with pytest.raises(ModelError, match="regionOrder"):
        run(entry, images(), tmp_path)


def test_a_changed_config_is_refused_by_its_hash(tmp_path):
    folder = writeBundle(tmp_path / "bundle")
    entry = bundleEntry(folder)
    config = json.loads((folder / "configs" / "inference.json").read_text())
    config["inferer"]["overlap"] = 0.25
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="inference.json"):
        run(entry, images(), tmp_path)


def test_the_catalogue_bundle_is_no_longer_refused_as_unrunnable(tmp_path):
    registry = ModelRegistry(tmp_path / "user", cacheFolder=tmp_path / "cache")
    entry = registry.lookup("monai-brats-mri-segmentation")
    assert entry.options["regionOrder"] == ["Whole tumor", "Tumor core", "Enhancing tumor"]
    assert {label.name for label in entry.labels} == set(entry.options["outputChannels"])
    with pytest.raises(ModelError, match="--sha256") as refused:  # refused for want of a pinned hash only
        registry.get("monai-brats-mri-segmentation")
    assert "cannot run" not in str(refused.value) and not (tmp_path / "cache" / "downloads").exists()
    with pytest.raises(ModelError, match="cannot run monai-auto3dseg models"):
        registry.get("brats-gli")
