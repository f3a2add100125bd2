"""Model folders are data, never code, unless trusted: every field nnU-Net resolves by name, MONAI bundle
``_target_``/``$``/``@``/``%``/YAML-tag payloads, MONAI network and CNN classifier folders naming a callable,
a trainer name, a pickled checkpoint, a plans file swapped after a clean import and a trusted model whose file
changed are refused through the command line (exit 2, the file, field and value named, and how to trust), and
no payload's marker appears. The control runs each payload kind with the library it targets, in a fresh
interpreter, and shows its marker does appear."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import assertRefused, guarded, runCommand
from modelPayloads import (
    CONTROL_SCRIPT,
    PLANS_PAYLOADS,
    SEQUENCE,
    ReducePayload,
    bundlePayloads,
    datasetJson,
    nnunetCheckpoint,
    nnunetPlans,
    poisonedCopy,
    torchBytes,
    touch,
    writeBundle,
    writeNnunetModel,
)

TRUST = "virtual-biopsy models import PATH --trust"


@pytest.fixture(scope="module")
def cleanModel(tmp_path_factory) -> pathlib.Path:
    plans, dataset = nnunetPlans(), datasetJson()
    return writeNnunetModel(tmp_path_factory.mktemp("clean"), torchBytes(nnunetCheckpoint(plans, dataset)))


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> pathlib.Path:
    voxels = np.random.default_rng(0).normal(100, 10, (8, 12, 12)).astype(np.float32)
    volume = sitk.GetImageFromArray(voxels)
    volume.SetSpacing((1.0, 1.0, 2.0))
    path = tmp_path_factory.mktemp("case") / "t1c.nrrd"
    sitk.WriteImage(volume, str(path))
    return path


def segment(model, image: pathlib.Path, out: pathlib.Path, *extra):
    return runCommand(
        "segment", "--model", model, "--image", f"{SEQUENCE}={image}", "--out", out, "--device", "cpu", *extra
    )


def importModel(source, models: pathlib.Path, modelId: str = "evil", *extra):
    return runCommand("models", "import", source, "--id", modelId, "--models-dir", models, *extra)


def noModelIn(models: pathlib.Path) -> bool:
    """Nothing but (maybe) an empty folder: no model, no staging folder, no manifest entry."""
    return not models.exists() or not any(models.iterdir())


@pytest.mark.parametrize("payload", PLANS_PAYLOADS, ids=[payload.name for payload in PLANS_PAYLOADS])
def test_every_name_nnunet_resolves_is_refused_by_models_import(cleanModel, tmp_path, payload):
    marker = tmp_path / "payload-ran"
    folder = poisonedCopy(cleanModel, tmp_path / "source", lambda p, d: payload.change(p, d, touch(marker)))
    models = tmp_path / "models"
    with guarded([folder], [models], [marker]):
        result = importModel(folder, models)
    assertRefused(
        result, f"{folder / (payload.file + '.json')}: field '{payload.field}' holds '{payload.value}'", TRUST
    )
    assert "the model was not loaded and nothing of it ran" in result.output
    assert noModelIn(models)


@pytest.mark.parametrize("name", ["dropout_op", "network", "datasetReader"])
def test_a_poisoned_model_used_by_path_is_refused_before_any_work(cleanModel, image, tmp_path, name):
    payload = next(payload for payload in PLANS_PAYLOADS if payload.name == name)
    marker = tmp_path / "payload-ran"
    folder = poisonedCopy(cleanModel, tmp_path / "source", lambda p, d: payload.change(p, d, touch(marker)))
    out = tmp_path / "out"
    out.mkdir()
    with guarded([folder, image], [out], [marker]):
        result = segment(folder, image, out / "labels.nrrd")
    assertRefused(result, f"field '{payload.field}' holds '{payload.value}'", "--trust")
    assert not any(out.iterdir())


def test_a_plans_file_swapped_after_a_clean_import_is_refused_at_segment(cleanModel, image, tmp_path):
    marker = tmp_path / "payload-ran"
    models, out = tmp_path / "models", tmp_path / "out"
    out.mkdir()
    assert importModel(cleanModel, models, "clean").code == 0
    evil = poisonedCopy(cleanModel, tmp_path / "evil", lambda p, d: PLANS_PAYLOADS[2].change(p, d, touch(marker)))
    shutil.copyfile(evil / "plans.json", models / "clean" / "plans.json")
    with guarded([models, image], [out], [marker]):
        result = segment("clean", image, out / "labels.nrrd", "--models-dir", models)
        verify = runCommand("models", "verify", "clean", "--models-dir", models)
    assertRefused(result, "Model 'clean'", "does not match its manifest", "changed  plans.json", "models verify clean")
    assert verify.code == 1 and "changed  plans.json" in verify.output
    assert not any(out.iterdir())


def test_a_trusted_model_whose_file_changed_is_refused(cleanModel, image, tmp_path):
    models, out = tmp_path / "models", tmp_path / "out"
    out.mkdir()
    trusted = importModel(cleanModel, models, "trusted", "--trust")
    assert trusted.code == 0 and "Model 'trusted' is trusted" in trusted.output
    dataset = models / "trusted" / "dataset.json"
    dataset.write_text(dataset.read_text(encoding="utf-8").replace("tumour", "DOE^JANE"), encoding="utf-8")
    with guarded([models, image], [out]):
        result = segment("trusted", image, out / "labels.nrrd", "--models-dir", models)
    assertRefused(result, "Model 'trusted'", "does not match its manifest", "changed  dataset.json")
    assert not any(out.iterdir())


def test_a_trainer_name_outside_nnunet_is_refused_by_the_inference_task(cleanModel, image, tmp_path):
    from VirtualBiopsy.models.allowList import UnsafeModelError
    from VirtualBiopsy.models.manifest import entryToDict
    from VirtualBiopsy.models.modelDetection import entryFromPath
    from VirtualBiopsy.segment.inferenceTask import runInference

    plans, dataset = nnunetPlans(), datasetJson()
    folder = writeNnunetModel(tmp_path / "source", torchBytes(nnunetCheckpoint(plans, dataset, "os.system")))
    entry = entryFromPath(folder)
    out = tmp_path / "out"
    out.mkdir()
    arguments = {
        "images": {SEQUENCE: str(image)},
        "model": entryToDict(entry),
        "modelPath": entry.path,
        "device": "cpu",
        "testTimeAugmentation": False,
        "folds": None,
        "keepLargestComponent": False,
        "fillHoles": False,
        "outputs": {"labelMap": str(out / "labels.nrrd")},
    }
    with guarded([folder, image], [out]), pytest.raises(UnsafeModelError) as refusal:
        runInference(arguments, lambda fraction, message: None)
    assert "field 'trainer_name' holds 'os.system'" in str(refusal.value) and "--trust" in str(refusal.value)
    assert not any(out.iterdir())


def test_a_pickled_checkpoint_payload_is_refused_unless_trusted(tmp_path, image):
    marker = tmp_path / "payload-ran"
    plans, dataset = nnunetPlans(), datasetJson()
    checkpoint = nnunetCheckpoint(plans, dataset)
    checkpoint["logging"]["payload"] = ReducePayload(touch(marker))
    folder = writeNnunetModel(tmp_path / "source", torchBytes(checkpoint))
    out = tmp_path / "out"
    out.mkdir()
    with guarded([folder, image], [out], [marker]):
        result = segment(folder, image, out / "labels.nrrd", "--no-tta")
    assertRefused(result, "checkpoint_final.pth", "unpickling it could run code", "it needs posix.system", TRUST)
    assert not any(out.iterdir())


@pytest.mark.parametrize("case", range(5), ids=[payload[0] for payload in bundlePayloads("x")])
def test_bundle_payloads_are_refused_by_import_and_segment(tmp_path, image, case):
    marker = tmp_path / "payload-ran"
    name, config, configName, field, value = bundlePayloads(touch(marker))[case]
    if isinstance(config, dict):
        config = {"imports": ["$import os"], "run": [f"$os.system('{touch(marker)}')"], **config}
    bundle = writeBundle(tmp_path / "bundle", config, configName)
    models, out = tmp_path / "models", tmp_path / "out"
    out.mkdir()
    with guarded([bundle, image], [models, out], [marker]):
        imported = importModel(bundle, models)
        trusted = importModel(bundle, models, "trusted", "--trust")
        used = segment(bundle, image, out / "labels.nrrd")
    for result in (imported, trusted, used):
        assertRefused(result, str(bundle / "configs" / configName), f"field '{field}'", value, "--trust")
    assert noModelIn(models) and not any(out.iterdir())


def test_a_monai_network_folder_naming_a_process_class_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    folder = tmp_path / "network"
    folder.mkdir()
    (folder / "weights.pt").write_bytes(torchBytes({}))
    metadata = {
        "network": "subprocess.Popen",
        "networkArgs": {"args": ["touch", str(marker)]},
        "inputs": [SEQUENCE],
        "labels": {"tumour": 1},
    }
    (folder / "model.json").write_text(json.dumps(metadata), encoding="utf-8")
    models = tmp_path / "models"
    with guarded([folder], [models], [marker]):
        result = importModel(folder, models)
    assertRefused(result, "model.json: field 'network' holds 'subprocess.Popen'", "UNet", TRUST)
    assert noModelIn(models)


def test_a_cnn_classifier_folder_naming_os_system_is_refused_by_gradcam(tmp_path, image):
    marker = tmp_path / "payload-ran"
    folder = tmp_path / "classifier"
    folder.mkdir()
    (folder / "weights.pt").write_bytes(torchBytes({}))
    config = {
        "format": "virtual-biopsy-cnn-classifier",
        "network": "os.system",
        "networkArgs": {"command": touch(marker)},
        "channels": [SEQUENCE],
        "classes": ["low", "high"],
        "crop": {"size": [8, 8, 8], "spacing": [1.0, 1.0, 1.0]},
        "target": {"column": "grade"},
        "targetLayer": "features",
        "featureLayer": "features",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    mask = tmp_path / "mask.nrrd"
    labels = sitk.Image(12, 12, 8, sitk.sitkUInt8)
    labels.CopyInformation(sitk.ReadImage(str(image)))
    labels[4:8, 4:8, 2:6] = 1
    sitk.WriteImage(labels, str(mask))
    out = tmp_path / "out"
    out.mkdir()
    with guarded([folder, image, mask], [out], [marker]):
        result = runCommand(
            "outcome", "cnn", "gradcam", "--model", folder, "--image", f"{SEQUENCE}={image}", "--mask", mask,
            "--out", out / "map.nrrd", "--models-dir", tmp_path / "models",
        )  # fmt: skip
    assertRefused(result, "config.json: field 'network' holds 'os.system'", "DenseNet121")
    assert not any(out.iterdir())


@pytest.fixture(scope="module")
def controlMarkers(tmp_path_factory) -> pathlib.Path:
    """Run every payload kind with the library it targets, in a fresh interpreter; the folder of their markers."""
    folder = tmp_path_factory.mktemp("control")
    plans = nnunetPlans()
    payload = next(payload for payload in PLANS_PAYLOADS if payload.name == "dropout_op")
    payload.change(plans, datasetJson(), touch(folder / "nnunet"))
    (folder / "plans.json").write_text(json.dumps(plans), encoding="utf-8")
    (folder / "checkpoint.pth").write_bytes(torchBytes({"payload": ReducePayload(touch(folder / "torch"))}))
    import pickle

    (folder / "model.skops").write_bytes(pickle.dumps(ReducePayload(touch(folder / "skops"))))
    subprocess.run(
        [sys.executable, "-c", CONTROL_SCRIPT, str(folder), str(folder / "plans.json")],
        check=True,
        timeout=300,
        cwd=pathlib.Path(__file__).parent,  # where the script imports modelPayloads from
    )
    return folder


@pytest.mark.parametrize("kind", ["nnunet", "monai", "torch", "skops", "yaml"])
def test_control_each_payload_kind_runs_when_handed_to_its_library(controlMarkers, kind):
    assert (controlMarkers / kind).exists(), f"the {kind} payload did not run: the refusals above prove nothing"
