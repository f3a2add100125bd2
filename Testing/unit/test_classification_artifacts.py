"""Saved classifiers: exact round trip, model.json contents, and refusals (hash, schema
version, untrusted types, features that do not match)."""

import hashlib
import json

import numpy as np
import pytest
from classificationTables import twoFeatureCohort

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.outcome.classification.artifact import loadClassifier, saveClassifier
from VirtualBiopsy.outcome.classification.comparison import compareClassifiers
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.models import modelScore


@pytest.fixture(scope="module")
def fitted():
    features, grade = twoFeatureCohort(40, noise=2, separation=2.0)
    features["constant"] = 3.0
    config = ClassificationConfig(
        targetColumn="grade",
        positiveClass="HGG",
        models=["lr", "rf"],
        folds=3,
        repeats=1,
        trees=10,
        bootstrapSamples=100,
        thresholdFolds=2,
    )
    return features, compareClassifiers(features, grade, config)


@pytest.mark.parametrize("name", ["lr", "rf"])
def test_round_trip_gives_the_same_scores_and_records_the_schema(tmp_path, fitted, name):
    features, comparison = fitted
    model = comparison.models[name]
    folder = saveClassifier(model, tmp_path / name)
    loaded = loadClassifier(folder)
    expected = model.pipeline.predict_proba(features[model.features].to_numpy())[:, 1]
    assert np.array_equal(loaded.pipeline.predict_proba(features[model.features].to_numpy())[:, 1], expected)
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert card["schemaVersion"] == 1 and card["model"] == name
    assert [f["name"] for f in card["features"]] == list(features.columns)
    assert {f["dtype"] for f in card["features"]} == {"float64"}
    assert card["modelFeatures"] == [c for c in features.columns if c != "constant"]
    assert card["droppedFeatures"] == {"constant": "constant (3 for every patient)"}
    assert card["target"] == {"column": "grade", "positiveClass": "HGG", "negativeClasses": ["LGG"]}
    assert card["modelSha256"] == hashlib.sha256((folder / "model.skops").read_bytes()).hexdigest()
    assert len(card["trainingData"]["sha256"]) == 64 and card["versions"]["scikit-learn"]
    assert card["performance"]["auc_mean"] == pytest.approx(model.performance["auc_mean"])
    expectedScores = modelScore(model.pipeline, name, features[model.features])
    assert np.allclose(loaded.score(features), expectedScores, rtol=0, atol=1e-12)


def test_changed_file_or_schema_version_is_refused(tmp_path, fitted):
    folder = saveClassifier(fitted[1].models["lr"], tmp_path / "lr")
    with pytest.raises(InputError, match="exists already"):
        saveClassifier(fitted[1].models["lr"], folder)
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (folder / "model.json").write_text(json.dumps({**card, "schemaVersion": 99}))
    with pytest.raises(ModelError, match="schema version 99"):
        loadClassifier(folder)
    (folder / "model.json").write_text(json.dumps(card))
    with open(folder / "model.skops", "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ModelError, match="changed after it was saved"):
        loadClassifier(folder)
    (folder / "model.json").unlink()
    with pytest.raises(ModelError, match="not a saved classifier"):
        loadClassifier(folder)


def test_untrusted_types_are_not_loaded(tmp_path, fitted):
    import os

    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    folder = saveClassifier(fitted[1].models["lr"], tmp_path / "lr")
    hostile = Pipeline([("step", FunctionTransformer(os.system))])
    (folder / "model.skops").unlink()
    sio.dump(hostile, folder / "model.skops")
    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    card["modelSha256"] = hashlib.sha256((folder / "model.skops").read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not trusted \\(.*system"):
        loadClassifier(folder)
    (folder / "model.skops").write_bytes(b"not a zip file")
    card["modelSha256"] = hashlib.sha256(b"not a zip file").hexdigest()
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="could not be read by skops"):
        loadClassifier(folder)


def test_tables_whose_features_differ_are_refused_by_name(tmp_path, fitted):
    features, comparison = fitted
    loaded = loadClassifier(saveClassifier(comparison.models["lr"], tmp_path / "lr"))
    with pytest.raises(InputError, match="1 missing \\(signal2\\)"):
        loaded.modelInput(features.drop(columns="signal2"))
    with pytest.raises(InputError, match="1 extra \\(age\\)"):
        loaded.modelInput(features.assign(age=1.0))
    swapped = features[["signal2", "signal1", *features.columns[2:]]]
    with pytest.raises(InputError, match="2 reordered \\(signal1 \\(column 2, expected 1\\), signal2 \\(column 1"):
        loaded.modelInput(swapped)
    with pytest.raises(InputError, match="not numeric"):
        loaded.modelInput(features.astype({"noise1": str}))
    assert list(loaded.modelInput(features).columns) == loaded.modelFeatures
