"""Signatures: filters with known answers, factor analysis and selection equal to scikit-learn and lifelines."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.signatures.factors import kaiserFactorCount, varimaxFactors
from VirtualBiopsy.outcome.signatures.filters import correlationPruning, varianceFilter
from VirtualBiopsy.outcome.signatures.selection import (
    COX_ZERO,
    lassoSelection,
    recursiveElimination,
)
from VirtualBiopsy.outcome.signatures.signature import buildSignature


def _orthonormal(n, k, seed=0):
    """k columns of n values with mean 0, variance 1 and exactly zero correlation."""
    values = np.random.default_rng(seed).normal(size=(n, k))
    values -= values.mean(axis=0)
    q, _ = np.linalg.qr(values)
    return q * np.sqrt(n)


def _correlatedSet(n=50):
    u, v, w, noise = _orthonormal(n, 4).T
    # x2 is x1 plus some of z, so it is the more redundant one of the pair (x1, x2)
    return pd.DataFrame({"x1": u, "z": v, "x2": u + 0.3 * v, "w": w, "w2": w + 0.1 * noise})


def test_variance_filter_raw_equals_scikit_learn():
    from sklearn.feature_selection import VarianceThreshold

    features = pd.DataFrame(np.random.default_rng(1).normal(size=(30, 5)) * [0.01, 1, 3, 0.2, 10])
    report = varianceFilter(features, threshold=0.05, scaling="raw")
    reference = VarianceThreshold(0.05).fit(features.to_numpy())
    np.testing.assert_allclose(report["variance"], reference.variances_, rtol=1e-12)
    assert list(report["kept"]) == list(reference.get_support())


def test_variance_filter_minmax_known_answer():
    features = pd.DataFrame({"binary": [0.0, 10, 0, 10], "skewed": [0.0, 0, 0, 4], "flat": [7.0] * 4})
    report = varianceFilter(features, threshold=0.2)
    assert report["variance"].tolist() == pytest.approx([0.25, 0.1875, 0.0])
    assert report["kept"].tolist() == [True, False, False]


def test_correlation_pruning_drops_the_more_redundant_feature():
    report = correlationPruning(_correlatedSet(), threshold=0.9)
    assert report.index[report["kept"]].tolist() == ["x1", "z", "w"]
    assert report.loc["x2", "correlated_with"] == "x1"
    assert report.loc["x2", "r"] == pytest.approx(1 / np.sqrt(1.09), rel=1e-12)
    assert report.loc["w2", "correlated_with"] == "w"
    assert correlationPruning(_correlatedSet(), threshold=0.99)["kept"].sum() == 4  # only (w, w2) is above 0.99
    assert correlationPruning(_correlatedSet(), threshold=1.0)["kept"].all()


def test_correlation_pruning_leaves_no_pair_above_threshold():
    base = _orthonormal(80, 3, seed=2)
    mixed = base @ np.random.default_rng(3).normal(size=(3, 12))
    features = pd.DataFrame(mixed + 0.3 * np.random.default_rng(4).normal(size=mixed.shape))
    report = correlationPruning(features, threshold=0.8)
    kept = features.loc[:, report["kept"].to_numpy()]
    r = np.abs(np.corrcoef(kept.to_numpy(), rowvar=False))
    np.fill_diagonal(r, 0)
    assert r.max() <= 0.8 and kept.shape[1] >= 3


def test_factor_analysis_equals_scikit_learn():
    from sklearn.decomposition import FactorAnalysis
    from sklearn.preprocessing import StandardScaler

    latent = _orthonormal(60, 2, seed=5)
    features = pd.DataFrame(
        latent @ np.array([[1, 0.9, 0.8, 0, 0.1, 0], [0, 0.1, 0, 1, 0.9, 0.7]])
        + 0.3 * np.random.default_rng(6).normal(size=(60, 6)),
        columns=[f"f{i}" for i in range(6)],
        index=[f"P{i}" for i in range(60)],
    )
    result = varimaxFactors(features, factors=2, seed=0)
    standardized = StandardScaler().fit_transform(features.to_numpy())
    reference = FactorAnalysis(n_components=2, rotation="varimax", random_state=0).fit(standardized)
    np.testing.assert_allclose(result.loadings.to_numpy(), reference.components_.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.scores.to_numpy(), reference.transform(standardized), rtol=1e-10, atol=1e-12)
    assert list(result.loadings.index) == list(features.columns) and list(result.scores.index) == list(features.index)
    # varimax separates the two blocks: each feature loads mainly on one factor
    dominant = np.abs(result.loadings.to_numpy()).argmax(axis=1)
    assert len(set(dominant[:3])) == 1 and len(set(dominant[3:])) == 1 and dominant[0] != dominant[3]
    assert kaiserFactorCount(features) == 2


def test_signature_pipeline_reports_every_feature():
    features = _correlatedSet().assign(flat=1.0)
    signature = buildSignature(features, varianceThreshold=0.0, correlationThreshold=0.9, factors=2)
    assert signature.kept == ["x1", "z", "w"]
    assert signature.selection["step"].to_dict() == {
        "x1": "kept",
        "z": "kept",
        "x2": "correlation",
        "w": "kept",
        "w2": "correlation",
        "flat": "variance",
    }
    assert signature.factors.loadings.shape == (3, 2)
    with pytest.raises(InputError, match="only 3 feature\\(s\\) remain"):
        buildSignature(features, varianceThreshold=0.0, factors=4)
    with pytest.raises(InputError, match="No feature has a \\(minmax\\) variance above 0.3"):
        buildSignature(features, varianceThreshold=0.3)


def _survival(features, seed=7):
    rng = np.random.default_rng(seed)
    time = pd.Series(rng.exponential(np.exp(-1.0 * features["x1"])) + 0.01, index=features.index)
    event = pd.Series((rng.random(len(features)) < 0.85).astype(int), index=features.index)
    return time, event


def test_lasso_cox_equals_lifelines_and_keeps_the_prognostic_feature():
    from lifelines import CoxPHFitter

    features = _correlatedSet(120).drop(columns=["x2", "w2"])
    time, event = _survival(features)
    result = lassoSelection(features, time, event, penalizer=0.1)
    z = (features - features.mean()) / features.std(ddof=0)
    reference = CoxPHFitter(penalizer=0.1, l1_ratio=1.0).fit(z.assign(t=time, e=event), "t", "e").params_
    np.testing.assert_allclose(result["coef"], reference.to_numpy(), rtol=1e-6, atol=1e-9)
    assert result.loc["x1", "kept"] and result.loc["x1", "coef"] > 0.3
    assert list(result["kept"]) == list(np.abs(reference.to_numpy()) >= COX_ZERO)


def test_lasso_logistic_and_rfe_equal_scikit_learn():
    from sklearn.feature_selection import RFE
    from sklearn.linear_model import LogisticRegression

    features = _correlatedSet(100)
    target = pd.Series((features["x1"] + 0.5 * features["w"] > 0).astype(int))
    z = ((features - features.mean()) / features.std(ddof=0)).to_numpy()
    lasso = lassoSelection(features, target=target, penalizer=5.0)
    reference = LogisticRegression(C=0.2, l1_ratio=1.0, solver="liblinear", random_state=0).fit(z, target).coef_[0]
    np.testing.assert_allclose(lasso["coef"], reference, rtol=1e-6, atol=1e-9)
    assert lasso.loc["z", "coef"] == 0 and not lasso.loc["z", "kept"]
    rfe = recursiveElimination(features, 2, target=target, penalizer=1.0)
    expected = RFE(LogisticRegression(C=1.0, max_iter=1000), n_features_to_select=2).fit(z, target).ranking_
    assert list(rfe["rank"]) == list(expected) and rfe["kept"].sum() == 2


def test_rfe_cox_keeps_the_prognostic_feature():
    features = _correlatedSet(120).drop(columns=["x2", "w2"])
    result = recursiveElimination(features, 1, *_survival(features), penalizer=0.1)
    assert result.index[result["kept"]].tolist() == ["x1"] and sorted(result["rank"]) == [1, 2, 3]


def test_hostile_signature_inputs():
    features = _correlatedSet()
    with pytest.raises(InputError, match="not numeric"):
        varianceFilter(features.assign(site="A"))
    with pytest.raises(InputError, match="missing or infinite values"):
        correlationPruning(features.assign(x1=np.r_[np.nan, features["x1"].to_numpy()[1:]]))
    with pytest.raises(InputError, match="constant, so their correlation is undefined"):
        correlationPruning(features.assign(flat=2.0))
    with pytest.raises(InputError, match="threshold is 1.5"):
        correlationPruning(features, threshold=1.5)
    with pytest.raises(InputError, match="scaling 'zscore' is unknown"):
        varianceFilter(features, scaling="zscore")
    with pytest.raises(InputError, match="constant and cannot be standardized"):
        varimaxFactors(features.assign(flat=2.0), 2)
    with pytest.raises(InputError, match="exactly one outcome"):
        lassoSelection(features)
    with pytest.raises(InputError, match="exactly two classes"):
        lassoSelection(features, target=pd.Series(["a"] * len(features)))
    with pytest.raises(InputError, match="no events"):
        lassoSelection(features, pd.Series(1.0 + np.arange(len(features))), pd.Series(0, index=features.index))
