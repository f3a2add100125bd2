"""Classifier inputs and models: target encoding, feature checks, pipelines' scores and the comparison."""

import numpy as np
import pandas as pd
import pytest
from classificationTables import twoFeatureCohort

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.comparison import compareClassifiers
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.models import buildPipeline, modelScore
from VirtualBiopsy.outcome.classification.trainingData import (
    binaryTarget,
    prepareFeatures,
)

FAST = dict(folds=3, repeats=2, trees=20, bootstrapSamples=200, thresholdFolds=2)


def test_binary_target_positive_class_and_default():
    values = pd.Series(["LGG", "HGG", "HGG"], index=["a", "b", "c"])
    labels, target = binaryTarget(values, "HGG", "grade")
    assert labels.tolist() == [0, 1, 1] and target.positiveClass == "HGG" and target.negativeClasses == ["LGG"]
    labels, target = binaryTarget(values)  # the larger value as text
    assert labels.tolist() == [1, 0, 0] and target.positiveClass == "LGG"
    labels, target = binaryTarget(pd.Series([0.0, 1.0, 1.0]))  # numbers read as integers
    assert target.positiveClass == "1" and labels.tolist() == [0, 1, 1]


def test_binary_target_degenerate_values():
    with pytest.raises(InputError, match="one class only \\(HGG for all 3 patients\\)"):
        binaryTarget(pd.Series(["HGG"] * 3), column="grade")
    with pytest.raises(InputError, match="3 classes \\(A, B, C\\).*--positive-class"):
        binaryTarget(pd.Series(["A", "B", "C"]))
    labels, target = binaryTarget(pd.Series(["A", "B", "C", "B"]), "B")  # one-vs-rest when named
    assert labels.tolist() == [0, 1, 0, 1] and target.negativeLabel == "not B"
    with pytest.raises(InputError, match="empty for 1 patient\\(s\\) \\(y\\)"):
        binaryTarget(pd.Series(["A", None], index=["x", "y"]))
    with pytest.raises(InputError, match="'D' does not occur"):
        binaryTarget(pd.Series(["A", "B"]), "D")


def test_prepare_features_drops_constant_and_empty_columns_with_a_note():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "constant": [5.0, 5.0, 5.0], "empty": [np.nan] * 3, "b": [1, 0, 1]})
    prepared = prepareFeatures(frame)
    assert list(prepared.frame.columns) == ["a", "b"]
    assert prepared.dropped == {"constant": "constant (5 for every patient)", "empty": "no values"}
    assert [name for name, _ in prepared.inputColumns] == ["a", "constant", "empty", "b"]
    with pytest.raises(InputError, match="All 2 feature column"):
        prepareFeatures(frame[["constant", "empty"]])


def test_prepare_features_refuses_bad_values():
    with pytest.raises(InputError, match="missing values: a \\(1\\).*--impute median"):
        prepareFeatures(pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 4.0]}))
    assert prepareFeatures(pd.DataFrame({"a": [1.0, np.nan, 3.0]}), "median").frame["a"].isna().sum() == 1
    with pytest.raises(InputError, match="not numeric \\(text\\)"):
        prepareFeatures(pd.DataFrame({"a": [1.0, 2.0], "text": ["x", "y"]}))
    with pytest.raises(InputError, match="infinite values \\(a\\)"):
        prepareFeatures(pd.DataFrame({"a": [1.0, np.inf]}))
    with pytest.raises(InputError, match="0 patient"):
        prepareFeatures(pd.DataFrame({"a": []}))


@pytest.mark.parametrize("name", ["lr", "rf", "svm", "gb"])
def test_scores_are_the_named_quantity_and_point_to_the_positive_class(name):
    features, grade = twoFeatureCohort(80, noise=2, separation=2.0)
    x, y = features.to_numpy(), (grade == "HGG").astype(int).to_numpy()
    pipeline = buildPipeline(name, 0, trees=30).fit(x, y)
    score = modelScore(pipeline, name, x)
    assert score[y == 1].mean() > score[y == 0].mean()
    if name in ("lr", "gb"):  # log-odds
        probability = pipeline.predict_proba(x)[:, 1]
        assert np.allclose(score, np.log(probability / (1 - probability)), atol=1e-8)
    elif name == "rf":
        assert np.array_equal(score, pipeline.predict_proba(x)[:, 1])
    else:
        assert np.array_equal(score > 0, pipeline.predict(x) == 1)
    assert np.array_equal(modelScore(buildPipeline(name, 0, trees=30).fit(x, y), name, x), score)  # seeded


@pytest.mark.slow
def test_comparison_finds_the_signal_and_not_in_noise():
    features, grade = twoFeatureCohort(60, noise=3, separation=2.0)
    config = ClassificationConfig(targetColumn="grade", positiveClass="HGG", models=["lr", "rf"], **FAST)
    comparison = compareClassifiers(features, grade, config)
    table = comparison.performance.set_index("model")
    assert list(table.index) == ["lr", "rf"]
    assert table.loc["lr", "auc_mean"] > 0.8 and table.loc["lr", "auc_ci_lower"] < table.loc["lr", "auc_pooled"]
    assert table.loc["lr", "positives"] == (grade == "HGG").sum() and table.loc["lr", "patients"] == 60
    assert comparison.models["lr"].features == list(features.columns)
    shuffled = pd.Series(np.random.default_rng(1).permutation(grade.to_numpy()), index=grade.index)
    noise = compareClassifiers(features, shuffled, config.replace(models=["lr"])).performance
    assert noise.loc[0, "auc_mean"] < 0.75


def test_comparison_imputes_inside_the_folds_and_drops_constants():
    features, grade = twoFeatureCohort(45, noise=1, seed=2, separation=2.0)
    features.iloc[::7, 2] = np.nan
    features["constant"] = 1.0
    config = ClassificationConfig(targetColumn="grade", positiveClass="HGG", models=["svm"], **FAST)
    with pytest.raises(InputError, match="missing values: noise1"):
        compareClassifiers(features, grade, config)
    comparison = compareClassifiers(features, grade, config.replace(imputation="median"))
    assert np.isfinite(comparison.performance.loc[0, "auc_mean"])
    assert comparison.models["svm"].dropped == {"constant": "constant (1 for every patient)"}
    assert "constant" not in comparison.models["svm"].features


def test_comparison_refuses_mismatched_patients_and_bad_config():
    features, grade = twoFeatureCohort(30)
    with pytest.raises(InputError, match="same patients in the same order"):
        compareClassifiers(features, grade.iloc[::-1])
    with pytest.raises(InputError, match="choose one or more of: lr, rf, svm, gb"):
        ClassificationConfig.fromDict({"models": ["xgb"]})
    with pytest.raises(InputError, match="folds is 1"):
        ClassificationConfig.fromDict({"folds": 1})
