"""The cohort table: joins in the features' order and refuses every kind of bad input with a clear message."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.cohortTable import joinCohort


def _tables(n=6):
    features = pd.DataFrame(
        {
            "patient": [f"P{i}" for i in range(n)],
            "label": 1,
            "b_feature": np.arange(n, dtype=float) ** 2,
            "a_feature": np.linspace(1, 2, n),
        }
    )
    clinical = pd.DataFrame(
        {
            "patient": [f"P{i}" for i in reversed(range(n))],
            "time": np.arange(n, 0, -1) * 1.5,
            "event": [1, 0] * (n // 2),
            "grade": ["high", "low"] * (n // 2),
            "age": np.arange(n) + 40.0,
        }
    )
    return features, clinical


def test_join_keeps_feature_order_and_aligns_clinical_rows():
    features, clinical = _tables()
    cohort = joinCohort(
        features, clinical, timeColumn="time", eventColumn="event", targetColumn="grade", covariates=["age"]
    )
    assert list(cohort.features.columns) == ["b_feature", "a_feature"]  # input order, 'label' is not a feature
    assert list(cohort.patients) == [f"P{i}" for i in range(6)]
    # P0 is the last clinical row: time 1.5, event 0 (pattern 1,0,... on the reversed order), age 45
    assert cohort.time["P0"] == 1.5 and cohort.event["P0"] == 0 and cohort.covariates.loc["P0", "age"] == 45.0
    assert cohort.target["P5"] == "high"
    assert cohort.event.dtype == int and cohort.time.dtype == float
    assert list(cohort.clinical.index) == list(cohort.features.index)
    assert set(cohort.missing["missing"]) == {0} and len(cohort.missing) == 2 + 4


def test_patient_index_accepted_and_inputs_not_modified():
    features, clinical = _tables()
    before = features.copy()
    cohort = joinCohort(features.set_index("patient"), clinical)
    pd.testing.assert_frame_equal(features, before)
    assert cohort.time is None and cohort.event is None and cohort.covariates.shape == (6, 0)


def test_unmatched_patients_listed_both_ways():
    features, clinical = _tables()
    features.loc[0, "patient"] = "X1"
    with pytest.raises(InputError, match="features but no clinical row: X1.*clinical data but no features: P0"):
        joinCohort(features, clinical)


def test_duplicate_and_missing_ids():
    features, clinical = _tables()
    clinical.loc[1, "patient"] = clinical.loc[0, "patient"]
    with pytest.raises(InputError, match="clinical table lists patient\\(s\\) more than once: P5"):
        joinCohort(features, clinical)
    with pytest.raises(InputError, match="no patient column 'id'"):
        joinCohort(*_tables(), patientColumn="id")


@pytest.mark.parametrize("bad", [0.0, -2.0, np.nan, np.inf, "soon"])
def test_bad_times(bad):
    features, clinical = _tables()
    clinical["time"] = clinical["time"].astype(object)
    clinical.loc[2, "time"] = bad
    with pytest.raises(InputError, match="finite numbers > 0; not for 1 patient\\(s\\): P3"):
        joinCohort(features, clinical, timeColumn="time")


@pytest.mark.parametrize("bad", [2, -1, 0.5, np.nan, "dead"])
def test_bad_events(bad):
    features, clinical = _tables()
    clinical["event"] = clinical["event"].astype(object)
    clinical.loc[0, "event"] = bad
    with pytest.raises(InputError, match="0 \\(censored\\) or 1 \\(event\\); not for 1 patient\\(s\\): P5"):
        joinCohort(features, clinical, eventColumn="event")


def test_boolean_events_accepted():
    features, clinical = _tables()
    clinical["event"] = clinical["event"].astype(bool)
    assert joinCohort(features, clinical, eventColumn="event").event.sum() == 3


def test_missing_features_reported_per_column_and_options():
    features, clinical = _tables()
    features.loc[[1, 3], "a_feature"] = np.nan
    with pytest.raises(InputError, match="1 feature column\\(s\\) have missing values: a_feature \\(2 of 6\\)"):
        joinCohort(features, clinical)
    dropped = joinCohort(features, clinical, missingFeatures="dropFeatures")
    assert list(dropped.features.columns) == ["b_feature"]
    assert dropped.missing.set_index("column").loc["a_feature", "missing"] == 2
    byPatient = joinCohort(features, clinical, missingFeatures="dropPatients", timeColumn="time")
    assert list(byPatient.patients) == ["P0", "P2", "P4", "P5"]
    assert list(byPatient.time.index) == list(byPatient.patients)
    assert list(byPatient.dropped["name"]) == ["P1", "P3"]
    imputed = joinCohort(features, clinical, missingFeatures="median")
    assert imputed.features.loc["P1", "a_feature"] == pytest.approx(features["a_feature"].median())
    with pytest.raises(InputError, match="missingFeatures is 'mean'"):
        joinCohort(features, clinical, missingFeatures="mean")


def test_non_numeric_infinite_and_constant_features_named():
    features, clinical = _tables()
    with pytest.raises(InputError, match="not numeric: site"):
        joinCohort(features.assign(site="A"), clinical)
    with pytest.raises(InputError, match="infinite values: c \\(1\\)"):
        joinCohort(features.assign(c=[1.0, np.inf, 2, 3, 4, 5]), clinical)
    with pytest.raises(InputError, match="constant over the 6 patients: flat"):
        joinCohort(features.assign(flat=3.0), clinical)
    cohort = joinCohort(features.assign(flat=3.0), clinical, constantFeatures="drop")
    assert "flat" not in cohort.features and list(cohort.dropped["name"]) == ["flat"]
    assert "flat" in joinCohort(features.assign(flat=3.0), clinical, constantFeatures="keep").features


def test_missing_target_covariate_and_absent_columns():
    features, clinical = _tables()
    clinical.loc[0, "grade"] = None
    with pytest.raises(InputError, match="target column 'grade' is missing for 1 patient\\(s\\): P5"):
        joinCohort(features, clinical, targetColumn="grade")
    with pytest.raises(InputError, match="Covariate 'grade' must be numeric"):
        joinCohort(features, _tables()[1], covariates=["grade"])
    with pytest.raises(InputError, match="no column\\(s\\) 'survival'"):
        joinCohort(features, clinical, timeColumn="survival")
