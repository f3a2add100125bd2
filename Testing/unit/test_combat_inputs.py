"""Hostile inputs of ComBat's fit and apply: each refused with an InputError that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
from combatCohort import referenceCohort

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat import fitComBat


@pytest.fixture
def cohort():
    return referenceCohort()


def test_feature_constant_within_a_batch(cohort):
    features, site, covariates = cohort
    features = features.copy()
    features.loc[site == "C", "feature04"] = 7.0
    with pytest.raises(InputError, match=r"constant within a batch.*batch 'C': feature04"):
        fitComBat(features, site, covariates)


def test_batch_of_one_case(cohort):
    features, site, covariates = cohort
    site = site.copy()
    site.iloc[0] = "lonely"
    with pytest.raises(InputError, match=r"'lonely' \(1 case\) have a single case"):
        fitComBat(features, site, covariates)


def test_missing_covariate_names_the_rows(cohort):
    features, site, covariates = cohort
    covariates = covariates.copy()
    covariates.loc[["VC003", "VC020"], "age"] = np.nan
    covariates.loc["VC005", "grade"] = " "
    with pytest.raises(InputError, match=r"Covariate 'age' is missing for row\(s\) VC003, VC020"):
        fitComBat(features, site, covariates)
    with pytest.raises(InputError, match=r"Covariate 'grade' is missing for row\(s\) VC005"):
        fitComBat(features, site, covariates[["grade"]])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_missing_or_infinite_feature(cohort, bad):
    features, site, covariates = cohort
    features = features.copy()
    features.loc["VC007", "feature09"] = bad
    with pytest.raises(InputError, match=r"missing or infinite value\(s\) in feature\(s\) feature09 \(rows VC007\)"):
        fitComBat(features, site, covariates)


@pytest.mark.parametrize("column", [["a"] * 36, [True, False] * 18])
def test_non_numeric_feature_column(cohort, column):
    features, site, covariates = cohort
    with pytest.raises(InputError, match=r"Feature column\(s\) text are not numeric"):
        fitComBat(features.assign(text=column), site, covariates)


def test_missing_batch_label(cohort):
    features, site, covariates = cohort
    site = site.copy()
    site.iloc[4] = None
    with pytest.raises(InputError, match=r"batch is missing for row\(s\) VC005"):
        fitComBat(features, site, covariates)


def test_confounded_covariate(cohort):
    features, site, covariates = cohort
    with pytest.raises(InputError, match="confounded with the batch"):
        fitComBat(features, site, covariates.assign(scanner=site.map({"A": "x", "B": "y", "C": "y"})))
    with pytest.raises(InputError, match="confounded with each other"):
        fitComBat(features, site, covariates.assign(months=covariates.age * 12))


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda f, s, c: (f, s.map(lambda _: "A"), c), r"Only one batch"),
        (lambda f, s, c: (f[["feature01"]], s, c), r"at least 2 features"),
        (lambda f, s, c: (f.iloc[:0], s.iloc[:0], c.iloc[:0]), r"no rows"),
        (lambda f, s, c: (f, s.reset_index(drop=True), c), r"batch rows do not match"),
        (lambda f, s, c: (f, s, c.reset_index(drop=True)), r"covariates rows do not match"),
        (lambda f, s, c: (f.set_axis(["a"] * 10, axis=1), s, c), r"repeats column\(s\) a"),
        (lambda f, s, c: (f.to_numpy(), s, c), r"must be a pandas DataFrame"),
        (lambda f, s, c: (f, list(s), c), r"must be a pandas Series"),
        (lambda f, s, c: (f, s, c.assign(grade="low")), r"single level \(low\)"),
    ],
)
def test_malformed_inputs(cohort, change, message):
    with pytest.raises(InputError, match=message):
        fitComBat(*change(*cohort))


def test_unknown_method_reference_and_categorical(cohort):
    features, site, covariates = cohort
    with pytest.raises(InputError, match="method 'bayes' is unknown"):
        fitComBat(features, site, covariates, method="bayes")
    with pytest.raises(InputError, match="reference batch 'Q' is not among the batches"):
        fitComBat(features, site, covariates, referenceBatch="Q")
    with pytest.raises(InputError, match=r"Categorical covariate\(s\) sex are not among"):
        fitComBat(features, site, covariates, categorical=["sex"])


def test_apply_refuses_other_features_and_missing_covariates(cohort):
    features, site, covariates = cohort
    model = fitComBat(features, site, covariates)
    with pytest.raises(InputError, match=r"missing feature10; not in the model label"):
        model.apply(features.drop(columns="feature10").assign(label=1), site, covariates)
    with pytest.raises(InputError, match=r"no column grade"):
        model.apply(features, site, covariates[["age"]])
    with pytest.raises(InputError, match=r"needs covariate\(s\) age, grade"):
        model.apply(features, site, None)
    with pytest.raises(InputError, match=r"'age' is numeric but has non-numeric"):
        model.apply(features, site, covariates.assign(age="old"))


def test_numeric_covariate_treated_as_categorical_on_request(cohort):
    features, site, covariates = cohort
    coded = covariates.assign(grade=(covariates.grade == "high").astype(int) + 1)
    model = fitComBat(features, site, coded, categorical=["grade"])
    assert model.covariates[1].kind == "categorical" and model.covariates[1].levels == ("1", "2")
    reference = fitComBat(features, site, covariates)
    np.testing.assert_allclose(
        model.apply(features, site, coded).to_numpy(),
        reference.apply(features, site, covariates).to_numpy(),
        rtol=1e-10,
    )


def test_clashing_design_column_names(cohort):
    features, site, covariates = cohort
    with pytest.raises(InputError, match=r"design columns grade=low clash"):
        fitComBat(features, site, covariates.assign(**{"grade=low": covariates.age * 0.5 + 1}))
