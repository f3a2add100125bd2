"""Cox models: numbers equal lifelines', a seeded bootstrap, risk groups and refusals of degenerate data."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.cox import HIGH_RISK, LOW_RISK, fitCox


def _cohort(n=80, seed=0):
    rng = np.random.default_rng(seed)
    index = [f"P{i:02d}" for i in range(n)]
    covariates = pd.DataFrame({"age": rng.normal(60, 10, n), "size": rng.normal(3, 1, n)}, index=index)
    hazard = np.exp(0.03 * (covariates["age"] - 60) + 0.6 * (covariates["size"] - 3))
    time = pd.Series(rng.exponential(10 / hazard) + 0.01, index=index)
    event = pd.Series((rng.random(n) < 0.8).astype(int), index=index)
    return covariates, time, event


def test_coefficients_cindex_and_ph_test_equal_lifelines():
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test
    from lifelines.utils import concordance_index

    covariates, time, event = _cohort()
    result = fitCox(covariates, time, event, penalizer=0.05, bootstrap=200, seed=1)
    data = covariates.assign(t=time, e=event)
    reference = CoxPHFitter(penalizer=0.05).fit(data, "t", "e")
    table = result.coefficients.set_index("covariate")
    np.testing.assert_allclose(table["coef"], reference.params_, rtol=1e-10)
    np.testing.assert_allclose(table["hr"], reference.hazard_ratios_, rtol=1e-10)
    np.testing.assert_allclose(table["ci_lower"], reference.summary["exp(coef) lower 95%"], rtol=1e-10)
    np.testing.assert_allclose(table["ci_upper"], reference.summary["exp(coef) upper 95%"], rtol=1e-10)
    np.testing.assert_allclose(table["p"], reference.summary["p"], rtol=1e-8)
    cindex = result.concordance.iloc[0]
    assert cindex["cindex"] == pytest.approx(reference.concordance_index_, rel=1e-12)
    linear = reference.predict_log_partial_hazard(covariates)
    assert cindex["cindex"] == concordance_index(time, -linear, event)
    assert cindex["ci_lower"] < cindex["cindex"] < cindex["ci_upper"] and cindex["bootstrap"] == 200
    np.testing.assert_allclose(result.prognosticIndex, linear, rtol=1e-10)
    ph = proportional_hazard_test(reference, data, time_transform="rank").summary
    np.testing.assert_allclose(result.phTest.set_index("covariate")["p"], ph["p"], rtol=1e-10)


def test_bootstrap_is_seeded():
    covariates, time, event = _cohort()
    first = fitCox(covariates, time, event, bootstrap=100, seed=4).concordance
    again = fitCox(covariates, time, event, bootstrap=100, seed=4).concordance
    other = fitCox(covariates, time, event, bootstrap=100, seed=5).concordance
    pd.testing.assert_frame_equal(first, again)
    assert first["ci_lower"].iloc[0] != other["ci_lower"].iloc[0]


def test_risk_groups_split_at_percentile_and_separate():
    covariates, time, event = _cohort(120)
    result = fitCox(covariates, time, event, bootstrap=0)
    assert (result.riskGroups == HIGH_RISK).sum() == 60 and (result.riskGroups == LOW_RISK).sum() == 60
    assert (
        result.prognosticIndex[result.riskGroups == HIGH_RISK].min()
        > result.prognosticIndex[result.riskGroups == LOW_RISK].max()
    )
    assert result.riskKaplanMeier.logRank.set_index("test").loc["overall", "p"] < 0.05
    quartile = fitCox(covariates, time, event, riskPercentile=75, bootstrap=0)
    assert (quartile.riskGroups == HIGH_RISK).sum() == 30
    assert np.isnan(result.concordance["ci_lower"].iloc[0]) and "no bootstrap" in result.concordance["note"].iloc[0]


def test_degenerate_inputs_refused_with_reason():
    covariates, time, event = _cohort()
    with pytest.raises(InputError, match="undefined: no events"):
        fitCox(covariates, time, event * 0)
    with pytest.raises(InputError, match="constant over the patients"):
        fitCox(covariates.assign(flat=1.0), time, event)
    with pytest.raises(InputError, match="missing or infinite"):
        fitCox(covariates.assign(age=covariates["age"].where(covariates.index != "P03")), time, event)
    with pytest.raises(InputError, match="must be numeric"):
        fitCox(covariates.assign(sex="F"), time, event)
    with pytest.raises(InputError, match="at least one covariate"):
        fitCox(covariates[[]], time, event)
    with pytest.raises(InputError, match="finite numbers > 0"):
        fitCox(covariates, time.where(time.index != "P01", 0.0), event)
    with pytest.raises(InputError, match="riskPercentile is 120"):
        fitCox(covariates, time, event, riskPercentile=120)


def test_separation_refused_and_penalizer_fixes_it():
    covariates, time, event = _cohort()
    separating = pd.DataFrame({"early": (time < time.median()).astype(float)}, index=time.index)
    with pytest.raises(InputError, match="did not converge.*use a penalizer \\(e.g. --penalizer 0.1\\)"):
        fitCox(separating, time, event * 0 + 1, bootstrap=0)
    result = fitCox(separating, time, event * 0 + 1, penalizer=0.1, bootstrap=0)
    assert result.coefficients["hr"].iloc[0] > 1 and np.isfinite(result.coefficients["ci_upper"].iloc[0])


def test_progress_reported_and_cancel_honoured():
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    covariates, time, event = _cohort()
    reports = []
    fitCox(covariates, time, event, bootstrap=10, progress=lambda fraction, message: reports.append(fraction))
    assert reports == sorted(reports) and reports[0] == 0.0 and reports[-1] == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        fitCox(covariates, time, event, bootstrap=10, cancel=token)


def test_one_risk_group_when_the_index_is_flat():
    covariates, time, event = _cohort()
    result = fitCox(covariates, time, event, riskPercentile=100, bootstrap=0)
    assert set(result.riskGroups) == {LOW_RISK}
    assert result.riskKaplanMeier.logRank["note"].iloc[0].startswith("undefined: one group only")
