"""Kaplan–Meier tables, log-rank tests and summaries: equal to lifelines, known answers, undefined cases."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.kaplanMeier import kaplanMeier


def _cohort(n=60, seed=3):
    rng = np.random.default_rng(seed)
    group = pd.Series(rng.choice(["A", "B", "C"], n), index=[f"P{i}" for i in range(n)])
    scale = group.map({"A": 8.0, "B": 15.0, "C": 30.0})
    time = pd.Series(np.round(rng.exponential(scale), 1) + 0.1, index=group.index)
    event = pd.Series((rng.random(n) < 0.75).astype(int), index=group.index)
    return time, event, group


def test_curves_and_bands_equal_lifelines():
    from lifelines import KaplanMeierFitter

    time, event, group = _cohort()
    result = kaplanMeier(time, event, group)
    assert result.groups == ["A", "B", "C"]
    for name in result.groups:
        fitter = KaplanMeierFitter().fit(time[group == name], event[group == name])
        curve = result.curves[result.curves["group"] == name]
        np.testing.assert_array_equal(curve["time"], fitter.survival_function_.index)
        np.testing.assert_array_equal(curve["survival"], fitter.survival_function_.iloc[:, 0])
        np.testing.assert_array_equal(curve["ci_lower"], fitter.confidence_interval_.iloc[:, 0])
        np.testing.assert_array_equal(curve["ci_upper"], fitter.confidence_interval_.iloc[:, 1])
        np.testing.assert_array_equal(curve["at_risk"], fitter.event_table["at_risk"])
        summary = result.summary.set_index("group").loc[name]
        assert summary["median"] == fitter.median_survival_time_
        assert summary["n"] == (group == name).sum() and summary["events"] == event[group == name].sum()
        marks = result.censoring[result.censoring["group"] == name]
        assert len(marks) == time[(group == name) & (event == 0)].nunique()
        assert (marks["survival"] >= curve["survival"].min()).all()


def test_log_rank_equals_lifelines_overall_and_pairwise():
    from lifelines.statistics import multivariate_logrank_test, pairwise_logrank_test

    time, event, group = _cohort()
    tests = kaplanMeier(time, event, group).logRank.set_index("test")
    overall = multivariate_logrank_test(time, group, event)
    assert tests.loc["overall", "statistic"] == overall.test_statistic
    assert tests.loc["overall", "p"] == overall.p_value and tests.loc["overall", "degrees_of_freedom"] == 2
    pairwise = pairwise_logrank_test(time, group, event).summary
    for (first, second), row in pairwise.iterrows():
        assert tests.loc[f"{first} vs {second}", "statistic"] == pytest.approx(row["test_statistic"], rel=1e-12)
        assert tests.loc[f"{first} vs {second}", "p"] == pytest.approx(row["p"], rel=1e-12)


def test_known_two_group_example():
    # A: deaths at 1, 2, 3 (all events); B: death at 4, censored at 5, death at 6
    time = pd.Series([1.0, 2, 3, 4, 5, 6])
    event = pd.Series([1, 1, 1, 1, 0, 1])
    group = pd.Series(["A", "A", "A", "B", "B", "B"])
    result = kaplanMeier(time, event, group)
    b = result.curves[result.curves["group"] == "B"].set_index("time")
    assert b["survival"].tolist() == pytest.approx([1.0, 2 / 3, 2 / 3, 0.0])
    assert b["at_risk"].tolist() == [3, 3, 2, 1]
    summary = result.summary.set_index("group")
    assert summary.loc["A", "median"] == 2.0 and summary.loc["B", "median"] == 6.0
    assert summary.loc["A", "rmst_horizon"] == 3.0
    assert summary.loc["A", "rmst"] == pytest.approx(1 + 2 / 3 + 1 / 3)  # area under A's curve up to 3
    # textbook log-rank: at t=1,2,3 all six or fewer at risk, B never dies before 4
    expected, variance = 0.0, 0.0
    for t, n, nA in ((1, 6, 3), (2, 5, 2), (3, 4, 1), (4, 3, 0), (6, 1, 0)):
        expected += nA / n
        variance += (nA / n) * (1 - nA / n) * (n - 1) / (n - 1) if n > 1 else 0.0
    chi2 = (3 - expected) ** 2 / variance
    assert result.logRank.set_index("test").loc["overall", "statistic"] == pytest.approx(chi2, rel=1e-12)
    assert result.atRiskTable([0, 2.5, 5]).loc["B"].tolist() == [3, 3, 2]
    assert result.atRiskTable([0, 2.5, 5]).loc["A"].tolist() == [3, 1, 0]


def test_all_censored_curves_fine_tests_undefined():
    time, event, group = _cohort()
    result = kaplanMeier(time, event * 0, group)
    assert (result.curves["survival"] == 1.0).all()
    assert result.logRank["statistic"].isna().all() and result.logRank["p"].isna().all()
    assert result.logRank["note"].str.contains("undefined: no events").all()
    assert np.isinf(result.summary["median"]).all() and result.summary["note"].str.startswith("no events").all()


def test_one_group_undefined_and_pair_without_events():
    time, event, group = _cohort()
    single = kaplanMeier(time, event)
    assert single.groups == ["all"] and single.logRank["note"].iloc[0].startswith("undefined: one group only")
    event = event.where(group != "A", 0).where(group != "B", 0)
    tests = kaplanMeier(time, event, group).logRank.set_index("test")
    assert np.isnan(tests.loc["A vs B", "p"]) and "no events" in tests.loc["A vs B", "note"]
    assert tests.loc["A vs C", "p"] < 1 and tests.loc["overall", "note"] == ""


def test_groups_sorted_numerically():
    time, event, _ = _cohort(30)
    groups = pd.Series(np.tile([10, 2, 1], 10), index=time.index)
    assert kaplanMeier(time, event, groups).groups == ["1", "2", "10"]


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_times_refused(bad):
    time, event, group = _cohort()
    time.iloc[4] = bad
    with pytest.raises(InputError, match="finite numbers > 0; not for 1 patient\\(s\\): P4"):
        kaplanMeier(time, event, group)


def test_bad_events_and_groups_refused():
    time, event, group = _cohort()
    with pytest.raises(InputError, match="0 \\(censored\\) or 1"):
        kaplanMeier(time, event.replace(0, 2), group)
    with pytest.raises(InputError, match="group is missing for 1 patient"):
        kaplanMeier(time, event, group.where(group.index != "P0"))


def test_figure_png_and_svg_with_at_risk_table(tmp_path):
    from VirtualBiopsy.report.survivalFigure import atRiskTimes, saveKaplanMeierFigure

    time, event, group = _cohort()
    result = kaplanMeier(time, event, group)
    paths = saveKaplanMeierFigure(result, tmp_path / "km", title="by group", timeLabel="months")
    assert [p.name for p in paths] == ["km.png", "km.svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    svg = paths[1].read_text(encoding="utf-8")
    times = atRiskTimes(result)
    assert times[0] == 0.0 and times[-1] <= time.max()
    # every at-risk count of the table is drawn as text (matplotlib's SVG keeps text as comments)
    first = result.atRiskTable(times).loc["A"].tolist()
    assert first[0] == (group == "A").sum() and "Number at risk" in svg
    with pytest.raises(InputError, match="exist\\(s\\) already"):
        saveKaplanMeierFigure(result, tmp_path / "km")
