"""Clustering and survival: known answers and a reference log-rank implementation."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.clustering import clusterPatients, standardizeFeatures
from VirtualBiopsy.outcome.cohortTable import joinCohort
from VirtualBiopsy.outcome.kaplanMeier import kaplanMeier
from VirtualBiopsy.outcome.patientClusters import clusterCohort


def test_kaplan_meier_known_answer():
    time = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    event = pd.Series([1, 0, 1, 1, 0])
    curve = kaplanMeier(time, event).curves.set_index("time")
    assert curve.loc[0.0, "survival"] == 1.0
    assert curve.loc[1.0, "survival"] == pytest.approx(0.8)
    assert curve.loc[2.0, "survival"] == pytest.approx(0.8)
    assert curve.loc[3.0, "survival"] == pytest.approx(0.8 * 2 / 3)
    assert curve.loc[4.0, "survival"] == pytest.approx(0.8 * 2 / 3 * 1 / 2)
    assert curve.loc[5.0, "survival"] == pytest.approx(0.8 * 2 / 3 * 1 / 2)
    assert list(curve["at_risk"]) == [5, 5, 4, 3, 2, 1]


def _referenceLogRank(time, event, group):
    """Two-group log-rank chi-square from its textbook definition."""
    observedMinusExpected, variance = 0.0, 0.0
    for t in np.unique(time[event == 1]):
        atRisk = time >= t
        n, n1 = atRisk.sum(), (atRisk & (group == 1)).sum()
        d = ((time == t) & (event == 1)).sum()
        d1 = ((time == t) & (event == 1) & (group == 1)).sum()
        observedMinusExpected += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return stats.chi2.sf(observedMinusExpected**2 / variance, 1)


def test_log_rank_equals_reference_implementation():
    rng = np.random.default_rng(3)
    group = np.repeat([0, 1], 30)
    time = np.round(rng.exponential(np.where(group == 1, 10.0, 20.0)), 1) + 0.1
    event = (rng.random(60) < 0.8).astype(int)
    pValue = kaplanMeier(pd.Series(time), pd.Series(event), pd.Series(group)).logRankPValue
    assert pValue == pytest.approx(_referenceLogRank(time, event, group), rel=1e-9)


def test_survival_data_errors():
    with pytest.raises(InputError, match="finite numbers > 0; not for 1 patient\\(s\\): 1 "):
        kaplanMeier(pd.Series([3.0, -1.0]), pd.Series([1, 0]))
    with pytest.raises(InputError, match="0 \\(censored\\) or 1"):
        kaplanMeier(pd.Series([3.0, 1.0]), pd.Series([1, 2]))
    # one group: the curve is fine, the log-rank test is undefined and says why (no silent number)
    result = kaplanMeier(pd.Series([3.0, 1.0]), pd.Series([1, 0]), pd.Series([0, 0]))
    assert np.isnan(result.logRankPValue) and result.logRank["note"].iloc[0].startswith("undefined: one group only")


def _twoBlobs(seed=0, n=10):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, (n, 3))
    b = rng.normal(6, 1, (n + 2, 3))
    return pd.DataFrame(np.vstack([a, b]), index=[f"P{i:02d}" for i in range(2 * n + 2)], columns=["x", "y", "z"])


def test_clusters_recover_separated_groups_and_are_numbered_by_size():
    features = _twoBlobs()
    clusters = clusterPatients(features, 2, 0)
    assert list(clusters.iloc[10:]) == [0] * 12  # the larger group is cluster 0
    assert list(clusters.iloc[:10]) == [1] * 10


def test_clusters_do_not_depend_on_feature_units():
    features = _twoBlobs()
    scaled = features * [1000.0, 0.001, 1.0]
    pd.testing.assert_series_equal(clusterPatients(features), clusterPatients(scaled))


def test_standardize_rejects_unusable_features():
    features = _twoBlobs()
    with pytest.raises(InputError, match="constant over the patients \\(c\\)"):
        standardizeFeatures(features.assign(c=1.0))
    with pytest.raises(InputError, match="missing or infinite values \\(x\\)"):
        standardizeFeatures(features.assign(x=np.nan))
    with pytest.raises(InputError, match="must be numeric; these are not: s"):
        standardizeFeatures(features.assign(s="a"))
    with pytest.raises(InputError, match="3 patient\\(s\\) cannot form 4 clusters"):
        clusterPatients(features.iloc[:3], 4)


def test_cluster_survival_equals_the_reference_and_checks_tables():
    features = _twoBlobs().rename_axis("patient")
    rng = np.random.default_rng(1)
    clinical = pd.DataFrame(
        {"time": rng.uniform(1, 50, len(features)), "event": rng.integers(0, 2, len(features))}, index=features.index
    )
    cohort = joinCohort(features, clinical.reset_index(), "patient", "time", "event")
    result = clusterCohort(cohort.features, 2, 0, cohort.time, cohort.event)
    pd.testing.assert_series_equal(result.clusters, clusterPatients(features, 2, 0))
    reference = _referenceLogRank(clinical.time.to_numpy(), clinical.event.to_numpy(), result.clusters.to_numpy())
    assert result.survival.logRankPValue == pytest.approx(reference, rel=1e-9)
    assert result.survival.groups == ["0", "1"]
    with pytest.raises(InputError, match="features but no clinical row: P00"):
        joinCohort(features, clinical.drop(index="P00").reset_index(), "patient", "time", "event")
    with pytest.raises(InputError, match="no column\\(s\\) 'survival'"):
        joinCohort(features, clinical.reset_index(), "patient", "survival", "event")
