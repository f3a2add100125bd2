"""Saved models other than segmentation networks, read as data: a classifier's skops file with an untrusted type,
changed after saving, or a pickle renamed ``.skops`` (``outcome explain``); ComBat models (``combat apply``) and
Nyúl scales (``harmonize --method nyul``) with NaN, another schema version, arrays that do not fit, or a huge file;
style-transfer folders (``styletransfer apply`` and the logic) with changed or pickled weights, another format
version, NaN weights or oversized networks. Each is refused with the file, what is wrong and the fix; no payload
runs and no input changes."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import assertRefused, guarded, runCommand
from modelPayloads import ReducePayload, torchBytes, touch

# -- classifiers (skops) ---------------------------------------------------------------------------------------


def writeClassifier(folder: pathlib.Path, model: bytes, recorded: str | None = None, schema: int = 1) -> pathlib.Path:
    """A classifier folder: ``model.skops`` and the ``model.json`` card recording its SHA-256."""
    folder.mkdir(parents=True)
    (folder / "model.skops").write_bytes(model)
    card = {
        "schemaVersion": schema,
        "kind": "VirtualBiopsy.classifier",
        "model": "lr",
        "explainedQuantity": "log-odds of the positive class",
        "features": [{"name": "f1", "dtype": "float64"}],
        "modelFeatures": ["f1"],
        "target": {"column": "grade", "positiveClass": "high", "negativeClasses": ["low"]},
        "modelSha256": recorded or hashlib.sha256(model).hexdigest(),
    }
    (folder / "model.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def skopsBytes(pipeline) -> bytes:
    import skops.io as sio

    return sio.dumps(pipeline)


def cleanPipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("model", LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))])


def hostileClassifier(kind: str, folder: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    if kind == "untrustedType":
        return writeClassifier(folder, skopsBytes(Pipeline([("payload", FunctionTransformer(func=os.system))])))
    if kind == "tampered":
        return writeClassifier(folder, skopsBytes(cleanPipeline()), recorded="0" * 64)
    if kind == "pickleRenamed":
        return writeClassifier(folder, pickle.dumps(ReducePayload(touch(marker))))
    return writeClassifier(folder, skopsBytes(cleanPipeline()), schema=2)


CLASSIFIER_CASES = {
    "untrustedType": ["model.skops holds types that are not trusted (posix.system)", "Retrain the model"],
    "tampered": ["has SHA-256", "records 0000", "changed after it was saved", "Restore it or retrain"],
    "pickleRenamed": ["model.skops could not be read by skops", "retrain the model or restore the file"],
    "schema": ["model.json has schema version 2", "reads version 1", "Retrain the model"],
}


@pytest.mark.parametrize("kind", CLASSIFIER_CASES)
def test_a_hostile_classifier_is_refused_by_outcome_explain(tmp_path, kind):
    marker = tmp_path / "payload-ran"
    folder = hostileClassifier(kind, tmp_path / "models" / "lr", marker)
    features = tmp_path / "features.csv"
    features.write_text("patient,f1\nP1,0.5\nP2,1.5\n", encoding="utf-8")
    out = tmp_path / "explained"
    with guarded([folder, features], [tmp_path], [marker]):
        result = runCommand("outcome", "explain", "--model", folder, "--features", features, "--out", out)
    assertRefused(result, *CLASSIFIER_CASES[kind])
    assert not out.exists()


# -- ComBat and Nyúl model files -------------------------------------------------------------------------------


def combatModel() -> dict:
    return {
        "format": "VirtualBiopsy.ComBatModel",
        "schemaVersion": 1,
        "libraryVersion": "0",
        "method": "parametric",
        "batchName": "site",
        "referenceBatch": None,
        "features": ["f1", "f2"],
        "batches": [{"name": "A", "cases": 3}, {"name": "B", "cases": 3}],
        "covariates": [],
        "parameters": {
            "grandMean": [1.0, 2.0],
            "pooledVariance": [1.0, 1.0],
            "covariateCoefficients": {},
            "gammaStar": {"A": [0.1, 0.1], "B": [-0.1, -0.1]},
            "deltaStar": {"A": [1.0, 1.0], "B": [1.0, 1.0]},
            "iterations": {"A": 3, "B": 3},
        },
        "inputHash": "sha256:0",
    }


def hostileJson(document: dict, path: pathlib.Path, kind: str, hugeBytes: int) -> pathlib.Path:
    """``document`` written to ``path`` with one hostile change."""
    if kind == "huge":
        with open(path, "wb") as handle:  # a sparse file: its size without the disk
            handle.truncate(hugeBytes + 1)
        return path
    if kind == "pickle":
        path.write_bytes(pickle.dumps(ReducePayload(touch(path.parent / "payload-ran"))))
        return path
    text = json.dumps(document)
    if kind == "nan":
        key = "grandMean" if "parameters" in document else "standardLandmarks"
        text = text.replace(f'"{key}": [', f'"{key}": [NaN, ', 1)
    elif kind == "schema":
        text = text.replace('"schemaVersion": 1', '"schemaVersion": 99')
    elif kind == "wrongSize":
        key = "grandMean" if "parameters" in document else "standardLandmarks"
        text = text.replace(f'"{key}": [', f'"{key}": [{", ".join(["1.5"] * 100_000)}, ', 1)
    path.write_text(text, encoding="utf-8")
    return path


COMBAT_CASES = {
    "nan": ["is not valid JSON", "NaN is not a number ComBat can use", "refit the model"],
    "schema": ["has schema version 99", "reads version 1 and older", "Update Virtual Biopsy or refit"],
    "wrongSize": ["is damaged", "grandMean should hold 2 numbers", "refit the model"],
    "huge": [f"is {(64 << 20) + 1} bytes, more than the 64 MiB", "combat fit"],
    "pickle": ["is not valid JSON", "refit the model"],
}


@pytest.mark.parametrize("kind", COMBAT_CASES)
def test_a_hostile_combat_model_is_refused_by_combat_apply(tmp_path, kind):
    model = hostileJson(combatModel(), tmp_path / "combat.json", kind, 64 << 20)
    features, clinical = tmp_path / "features.csv", tmp_path / "clinical.csv"
    features.write_text("patient,f1,f2\nP1,1,2\nP2,2,3\n", encoding="utf-8")
    clinical.write_text("patient,site\nP1,A\nP2,B\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    arguments = ["--model", model, "--features", features, "--clinical", clinical, "--out", out / "h.csv"]
    with guarded([model, features, clinical], [out], [tmp_path / "payload-ran"]):
        result = runCommand("combat", "apply", *arguments)
    assertRefused(result, f"ComBat model file {model}", *COMBAT_CASES[kind])
    assert not any(out.iterdir())


def nyulModel() -> dict:
    return {
        "format": "VirtualBiopsy.NyulModel",
        "schemaVersion": 1,
        "sequence": "T1c",
        "percentiles": [1.0, 50.0, 99.0],
        "standardLandmarks": [0.0, 50.0, 100.0],
        "standardRange": [0.0, 100.0],
        "fittedOn": {"count": 2, "sha256": ["a", "b"]},
        "libraryVersion": "0",
        "created": "2026-01-01T00:00:00+00:00",
    }


NYUL_CASES = {
    "nan": ["is not valid JSON", "NaN is not a number a model may hold", "refit it"],
    "schema": ["has schemaVersion 99, newer than this Virtual Biopsy reads (1)", "update Virtual Biopsy or refit"],
    "wrongSize": ["has 100003 standard landmarks for 3 percentiles", "Refit the model"],
    "huge": [f"is {(16 << 20) + 1} bytes, more than the 16 MiB", "nyul fit"],
}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> pathlib.Path:
    voxels = np.random.default_rng(1).normal(100, 20, (8, 16, 16)).astype(np.float32)
    voxels[2:6, 4:12, 4:12] += 200
    path = tmp_path_factory.mktemp("case") / "t2.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(path))
    return path


@pytest.mark.parametrize("kind", NYUL_CASES)
def test_a_hostile_nyul_model_is_refused_by_harmonize(tmp_path, image, kind):
    model = hostileJson(nyulModel(), tmp_path / "nyul.json", kind, 16 << 20)
    out = tmp_path / "out"
    out.mkdir()
    with guarded([model, image], [out]):
        result = runCommand(
            "harmonize", "--method", "nyul", "--model", model, "--image", image, "--out", out / "h.nrrd"
        )
    assertRefused(result, f"Nyúl model file {model}", *NYUL_CASES[kind])
    assert not any(out.iterdir())


# -- style-transfer model folders ------------------------------------------------------------------------------


def styleFolder(folder: pathlib.Path, change=None, weights: bytes | None = None, filters: int = 4) -> pathlib.Path:
    """A CycleGAN model folder with a tiny generator; ``change(document)`` edits its config.json, ``weights``
    replaces the generator (its hash recorded in config.json, as an attacker who wrote both would)."""
    from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
    from VirtualBiopsy.harmonize.styleTransfer.networks import buildGenerator

    config = CycleGanConfig.fromDict({"generatorFilters": filters, "residualBlocks": 1, "sliceSize": 16})
    if weights is None:
        weights = torchBytes(buildGenerator(config).state_dict())
    folder.mkdir(parents=True)
    (folder / "generator.pt").write_bytes(weights)
    (folder / "losses.csv").write_text("epoch,generator\n1,0.5\n", encoding="utf-8")
    document = {
        "kind": "cyclegan",
        "formatVersion": 1,
        "sequence": "T2",
        "sourceDomain": "SiteA",
        "targetDomain": "SiteB",
        "networks": {"generator": "ResnetGenerator"},
        "intensity": {"target": {"lower": 0.0, "upper": 500.0}, "source": {"lower": 0.0, "upper": 500.0}},
        "config": config.toDict(),
        "weights": {"generator.pt": hashlib.sha256(weights).hexdigest()},
    }
    if change is not None:
        change(document)
    (folder / "config.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def nanWeights() -> bytes:
    from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
    from VirtualBiopsy.harmonize.styleTransfer.networks import buildGenerator

    state = buildGenerator(CycleGanConfig.fromDict({"generatorFilters": 4, "residualBlocks": 1})).state_dict()
    next(value for value in state.values() if value.is_floating_point())[0] = float("nan")
    return torchBytes(state)


def styleCase(kind: str, folder: pathlib.Path, marker: pathlib.Path):
    """(folder, error class name, words) of each hostile style-transfer folder."""
    if kind == "tampered":
        built = styleFolder(folder)
        (built / "generator.pt").write_bytes(torchBytes({"weight": __import__("torch").zeros(1)}))
        return built, "ModelError", ["'generator.pt'", "does not match its config.json", "train the model again"]
    if kind == "pickledWeights":
        built = styleFolder(folder, weights=torchBytes({"payload": ReducePayload(touch(marker))}))
        return built, "ModelError", ["unpickling it could run code", "it needs posix.system", "--trust"]
    if kind == "formatVersion":
        built = styleFolder(folder, lambda document: document.update(formatVersion=7))
        return built, "InputError", ["has format version 7", "reads version 1", "Retrain the model"]
    if kind == "nanWeights":
        return styleFolder(folder, weights=nanWeights()), "ModelError", ["NaN or infinite value(s)", "Retrain"]
    built = styleFolder(folder, lambda document: document["config"].update(generatorFilters=10**7))
    return built, "InputError", ["generatorFilters is 10000000", "it must lie in"]


STYLE_CASES = ["tampered", "pickledWeights", "formatVersion", "nanWeights", "hugeNetwork"]


@pytest.mark.parametrize("kind", STYLE_CASES)
def test_a_hostile_style_transfer_folder_is_refused_by_the_logic(tmp_path, kind):
    from VirtualBiopsy.harmonize.styleTransfer.application import loadStyleModel

    marker = tmp_path / "payload-ran"
    folder, errorClass, words = styleCase(kind, tmp_path / "style", marker)
    with guarded([folder], markers=[marker]), pytest.raises(Exception) as refusal:
        loadStyleModel(folder)
    assert type(refusal.value).__name__ == errorClass
    assert all(word in str(refusal.value) for word in words), str(refusal.value)


def test_a_pickled_style_transfer_generator_is_refused_by_styletransfer_apply(tmp_path, image):
    marker = tmp_path / "payload-ran"
    folder, _, words = styleCase("pickledWeights", tmp_path / "style", marker)
    out = tmp_path / "out"
    out.mkdir()
    with guarded([folder, image], [out], [marker]):
        result = runCommand(
            "styletransfer", "apply", "--model", folder, "--image", image, "--out", out / "t.nrrd", "--device", "cpu"
        )
    assertRefused(result, "generator.pt", *words)
    assert not any(out.iterdir())
