"""Cross-validation of the classifiers: metrics equal scikit-learn's, thresholds come from the
training folds only, bootstrap equals a plain loop, degenerate class counts are refused."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.metrics import (
    bootstrapAuc,
    rankAuc,
    sensitivitySpecificity,
    youdenThreshold,
)
from VirtualBiopsy.outcome.classification.models import buildPipeline, modelScore
from VirtualBiopsy.outcome.classification.validation import (
    crossValidate,
    requireEnoughPerClass,
    trainingThreshold,
)


def _data(patients=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(patients, 4))
    y = (x[:, 0] + rng.normal(scale=1.0, size=patients) > 0).astype(int)
    return x, y


def test_rank_auc_equals_scikit_learn_with_ties_and_per_row():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=(6, 30))
    scores = np.round(rng.normal(size=(6, 30)), 1)  # many ties
    expected = [roc_auc_score(labels[i], scores[i]) for i in range(6)]
    assert np.allclose(rankAuc(labels, scores), expected, atol=1e-12)
    assert float(rankAuc(labels[0], scores[0])) == pytest.approx(expected[0], abs=1e-12)
    assert np.isnan(rankAuc(np.ones(5), np.arange(5.0)))


def test_bootstrap_equals_a_plain_loop_over_resampled_patients():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(12, int), np.ones(8, int)]
    scores = labels[:, None] * 0.8 + rng.normal(size=(20, 3))
    auc, lower, upper, used = bootstrapAuc(labels, scores, samples=300, level=0.9, randomSeed=7)
    assert auc == pytest.approx(np.mean([roc_auc_score(labels, scores[:, r]) for r in range(3)]), abs=1e-12)
    indices = np.random.default_rng(7).integers(0, 20, size=(300, 20))
    reference = [
        np.mean([roc_auc_score(labels[i], scores[i, r]) for r in range(3)]) for i in indices if 0 < labels[i].sum() < 20
    ]
    assert used == len(reference)
    assert (lower, upper) == pytest.approx(tuple(np.quantile(reference, [0.05, 0.95])), abs=1e-12)
    assert lower < auc < upper
    assert bootstrapAuc(labels, scores, 300, 0.9, 7) == (auc, lower, upper, used)


def test_youden_threshold_maximizes_sensitivity_plus_specificity():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=50)
    scores = labels + rng.normal(size=50)
    threshold = youdenThreshold(labels, scores)
    best = max(sum(sensitivitySpecificity(labels, scores, t)) for t in np.unique(scores))
    assert sum(sensitivitySpecificity(labels, scores, threshold)) == pytest.approx(best)
    assert youdenThreshold([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9]) == pytest.approx(0.7)


def test_folds_use_training_thresholds_and_match_scikit_learn():
    x, y = _data()
    make = lambda: buildPipeline("lr", 0)  # noqa: E731
    result = crossValidate("lr", make, x, y, folds=4, repeats=2, randomSeed=5, thresholdFolds=3)
    assert len(result.folds) == 8 and result.rocTruePositive.shape == (8, 101)
    assert not np.isnan(result.outOfFold).any()  # each patient scored once per repeat
    splits = list(RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=5).split(x, y))
    for index in (0, 5):
        train, test = splits[index]
        row = result.folds.iloc[index]
        scores = modelScore(make().fit(x[train], y[train]), "lr", x[test])
        assert row["auc"] == pytest.approx(roc_auc_score(y[test], scores), abs=1e-12)
        assert np.allclose(result.outOfFold[test, index // 4], scores)
        threshold = trainingThreshold(make, "lr", x[train], y[train], 3, 5 + index)  # training patients only
        assert row["threshold"] == pytest.approx(threshold)
        assert row["balancedAccuracy"] == pytest.approx(balanced_accuracy_score(y[test], scores >= threshold))


def test_noise_gives_chance_auc():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(60, 5)), np.r_[np.zeros(30, int), np.ones(30, int)]
    result = crossValidate("lr", lambda: buildPipeline("lr", 0), x, y, folds=5, repeats=4, randomSeed=0)
    assert 0.3 < result.folds["auc"].mean() < 0.7


def test_same_seed_same_results():
    x, y = _data()
    run = lambda: crossValidate("svm", lambda: buildPipeline("svm", 1), x, y, 3, 2, randomSeed=9)  # noqa: E731
    first, second = run(), run()
    assert first.folds.equals(second.folds) and np.array_equal(first.outOfFold, second.outOfFold)


def test_fewer_patients_per_class_than_folds_is_refused_with_counts():
    labels = np.r_[np.zeros(10, int), np.ones(3, int)]
    with pytest.raises(InputError, match=r"at least 5 patients of each class \(LGG: 10, HGG: 3\).*at most 3"):
        requireEnoughPerClass(labels, 5, ("LGG", "HGG"))
    with pytest.raises(InputError, match="at least 5 patients"):
        crossValidate("lr", lambda: buildPipeline("lr"), np.zeros((13, 2)), labels, folds=5, repeats=1)
    requireEnoughPerClass(labels, 3)


def test_cancel_stops_before_the_next_fold():
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    x, y = _data()
    token, seen = CancelToken(), []

    def progress(fraction, message):
        seen.append(message)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(CancelledError):
        crossValidate("lr", lambda: buildPipeline("lr"), x, y, 4, 3, progress=progress, cancel=token)
    assert seen == ["lr: repeat 1/3, fold 1/4", "lr: repeat 1/3, fold 2/4"]
