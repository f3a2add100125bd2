"""Shapley values of the classifiers' scores: efficiency, a closed form for logistic regression,
a brute-force reference, agreement with permutation importance, and the figures."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from classificationTables import twoFeatureCohort

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.figures import (
    saveSummaryFigure,
    saveWaterfallFigure,
)
from VirtualBiopsy.outcome.classification.models import buildPipeline, modelScore
from VirtualBiopsy.outcome.classification.shapley import (
    chooseBackground,
    permutationImportance,
    shapleyValues,
)


def _fitted(name, features, grade, trees=30):
    pipeline = buildPipeline(name, 0, trees=trees).fit(features.to_numpy(), (grade == "HGG").astype(int).to_numpy())
    return pipeline, (lambda values: modelScore(pipeline, name, values))


def _bruteForce(score, x, background):
    """Shapley values of the interventional game from their definition (sum over coalitions)."""
    count = len(x)

    def value(coalition):
        rows = background.copy()
        rows[:, list(coalition)] = x[list(coalition)]
        return score(rows).mean()

    values = np.zeros(count)
    for feature in range(count):
        others = [f for f in range(count) if f != feature]
        for size in range(count):
            weight = math.factorial(size) * math.factorial(count - size - 1) / math.factorial(count)
            for coalition in itertools.combinations(others, size):
                values[feature] += weight * (value(coalition + (feature,)) - value(coalition))
    return values


@pytest.mark.parametrize("name", ["lr", "rf", "svm", "gb"])
def test_efficiency_values_plus_base_equal_the_output(name):
    features, grade = twoFeatureCohort(50, noise=3)
    _, score = _fitted(name, features, grade)
    explanation = shapleyValues(score, features.iloc[:6], features.iloc[20:45], budget=2048)
    assert explanation.method == "exact"
    assert explanation.baseValue == pytest.approx(score(features.iloc[20:45].to_numpy()).mean(), abs=1e-12)
    assert np.allclose(explanation.modelOutput, score(features.iloc[:6].to_numpy()), rtol=0, atol=1e-12)
    total = explanation.values.sum(axis=1) + explanation.baseValue
    assert np.allclose(total, explanation.modelOutput, rtol=0, atol=1e-10)
    table = explanation.table()
    assert list(table.columns) == ["patient", *features.columns, "base_value", "model_output"]


def test_sampled_kernel_shap_keeps_efficiency():
    features, grade = twoFeatureCohort(50, noise=10)
    _, score = _fitted("gb", features, grade)
    explanation = shapleyValues(score, features.iloc[:3], features.iloc[20:35], budget=300, randomSeed=1)
    assert explanation.method == "kernelSHAP"
    total = explanation.values.sum(axis=1) + explanation.baseValue
    assert np.allclose(total, explanation.modelOutput, rtol=0, atol=1e-6)


def test_logistic_regression_values_equal_the_closed_form():
    features, grade = twoFeatureCohort(50, noise=3)
    pipeline, score = _fitted("lr", features, grade)
    background = features.iloc[10:40]
    explanation = shapleyValues(score, features.iloc[:5], background)
    weights = pipeline[-1].coef_[0] / pipeline["scale"].scale_
    expected = weights * (features.iloc[:5].to_numpy() - background.to_numpy().mean(axis=0))
    assert np.allclose(explanation.values.to_numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["rf", "svm"])
def test_values_equal_the_definition(name):
    features, grade = twoFeatureCohort(40, noise=2)
    _, score = _fitted(name, features, grade, trees=15)
    background = features.iloc[25:35].to_numpy()
    explanation = shapleyValues(score, features.iloc[:2], features.iloc[25:35])
    for row in range(2):
        reference = _bruteForce(score, features.iloc[row].to_numpy(), background)
        assert np.allclose(explanation.values.iloc[row].to_numpy(), reference, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["lr", "rf"])
def test_top_features_agree_with_permutation_importance(name):
    features, grade = twoFeatureCohort(120, noise=4, separation=2.0)
    labels = (grade == "HGG").astype(int)
    _, score = _fitted(name, features, grade, trees=30)
    explanation = shapleyValues(score, features.iloc[:25], chooseBackground(features, 15, randomSeed=3))
    shapTop = set(explanation.values.abs().mean().sort_values(ascending=False).index[:2])
    assert shapTop == {"signal1", "signal2"}
    for withLabels in (labels, None):
        importance = permutationImportance(score, features, withLabels, repeats=5)
        assert set(importance["feature"].head(2)) == shapTop
        assert importance["scoring"].iloc[0] == ("auc" if withLabels is not None else "output_mean_squared_change")


def test_background_and_refusals():
    features, _ = twoFeatureCohort(20, noise=1)
    chosen = chooseBackground(features, 5, randomSeed=2)
    assert len(chosen) == 5 and chosen.index.equals(chooseBackground(features, 5, randomSeed=2).index)
    assert chooseBackground(features, 50).equals(features)
    score = lambda values: values.sum(axis=1)  # noqa: E731
    with pytest.raises(InputError, match="background size is 0"):
        chooseBackground(features, 0)
    with pytest.raises(InputError, match="same feature columns"):
        shapleyValues(score, features, features.iloc[:, ::-1])
    with pytest.raises(InputError, match="missing feature values"):
        shapleyValues(score, features.assign(noise1=np.nan), features)
    with pytest.raises(InputError, match="budget is 1"):
        shapleyValues(score, features, features, budget=1)
    with pytest.raises(InputError, match="both classes"):
        permutationImportance(score, features, pd.Series(np.ones(20)))


def test_waterfall_and_summary_figures(tmp_path):
    features, grade = twoFeatureCohort(30, noise=14)
    _, score = _fitted("lr", features, grade)
    explanation = shapleyValues(score, features.iloc[:4], features, budget=200)
    written = saveWaterfallFigure(explanation, "P001", tmp_path / "P001")
    written += saveSummaryFigure(explanation, features, tmp_path / "summary")
    assert [p.name for p in written] == ["P001.png", "P001.svg", "summary.png", "summary.svg"]
    assert all(p.stat().st_size > 1000 for p in written)
    assert written[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in written[1].read_bytes()[:500]
    assert b"4 other features" in written[1].read_bytes()  # 16 features: 12 shown, the rest summed
    with pytest.raises(InputError, match="exists already"):
        saveWaterfallFigure(explanation, "P001", tmp_path / "P001")
    with pytest.raises(InputError, match="'nobody' is not among"):
        saveWaterfallFigure(explanation, "nobody", tmp_path / "x")


def test_cancel_stops_between_patients():
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    features, _ = twoFeatureCohort(10, noise=1)
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        shapleyValues(lambda values: values.sum(axis=1), features, features, cancel=token)
