"""Kaplan–Meier tables, log-rank tests and summaries: hand-computed and published values, undefined cases."""

import math
from statistics import NormalDist

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


# A hand-computed example: 10 patients in two groups, with tied deaths (t=3: two in A, one in B) and a
# death and a censoring at the same time (t=5; the censored patient is still at risk at 5).
#   A: 2, 3, 3, 5+, 7        B: 3, 5, 5+, 8, 9+        (+ = censored)
HAND_TIME = [2.0, 3, 3, 5, 7, 3, 5, 5, 8, 9]
HAND_EVENT = [1, 1, 1, 0, 1, 1, 1, 0, 1, 0]
HAND_GROUP = ["A"] * 5 + ["B"] * 5
# Product-limit estimate S(t) = prod (1 - d/n) and Greenwood's sum G(t) = sum d / (n (n - d)) over the death
# times <= t (Var S = S^2 G). Rows: time, at risk n, deaths d, censored c, S, G.
HAND_CURVES = {
    "A": [
        (0, 5, 0, 0, 1, 0),
        (2, 5, 1, 0, 4 / 5, 1 / 20),  # S = 1 - 1/5;        G = 1/(5*4)
        (3, 4, 2, 0, 2 / 5, 3 / 10),  # S = 4/5 * (1 - 2/4); G = 1/20 + 2/(4*2)
        (5, 2, 0, 1, 2 / 5, 3 / 10),
        (7, 1, 1, 0, 0.0, None),
    ],  # last patient dies: S = 0 (G undefined)
    "B": [
        (0, 5, 0, 0, 1, 0),
        (3, 5, 1, 0, 4 / 5, 1 / 20),  # G = 1/(5*4)
        (5, 4, 1, 1, 3 / 5, 2 / 15),  # S = 4/5 * 3/4;      G = 1/20 + 1/(4*3)
        (8, 2, 1, 0, 3 / 10, 19 / 30),  # S = 3/5 * 1/2;      G = 2/15 + 1/(2*1)
        (9, 1, 0, 1, 3 / 10, 19 / 30),
    ],
}
# Log-rank test, per pooled death time: n at risk, d deaths, nA at risk in A, dA deaths in A;
# E_A = d nA / n, V = d (nA/n) (1 - nA/n) (n - d) / (n - 1):
#   t=2: n=10 d=1 nA=5 dA=1  E=1/2  V=1/4
#   t=3: n=9  d=3 nA=4 dA=2  E=4/3  V=3 (4/9)(5/9)(6/8) = 5/9
#   t=5: n=6  d=1 nA=2 dA=0  E=1/3  V=(1/3)(2/3) = 2/9
#   t=7: n=3  d=1 nA=1 dA=1  E=1/3  V=(1/3)(2/3) = 2/9
#   t=8: n=2  d=1 nA=0 dA=0  E=0    V=0
# O_A - E_A = 4 - 5/2 = 3/2, V = 5/4, chi-square = (3/2)^2 / (5/4) = 9/5 on 1 degree of freedom.
HAND_CHI2 = 9 / 5


def _chi2OneDfP(statistic: float) -> float:
    """Upper tail of the chi-square distribution with 1 degree of freedom: erfc(sqrt(x / 2))."""
    return math.erfc(math.sqrt(statistic / 2))


def test_hand_computed_curves_greenwood_bands_and_summaries():
    time, event, group = (pd.Series(HAND_TIME), pd.Series(HAND_EVENT), pd.Series(HAND_GROUP))
    result = kaplanMeier(time, event, group)
    assert result.groups == ["A", "B"]
    z = NormalDist().inv_cdf(0.975)
    for name, rows in HAND_CURVES.items():
        curve = result.curves[result.curves["group"] == name]
        assert curve["time"].tolist() == [row[0] for row in rows]
        assert curve["at_risk"].tolist() == [row[1] for row in rows]
        assert curve["events"].tolist() == [row[2] for row in rows]
        assert curve["censored"].tolist() == [row[3] for row in rows]
        np.testing.assert_allclose(curve["survival"], [row[4] for row in rows], rtol=0, atol=1e-12)
        # pointwise 95 % band on log(-log S) (exponential Greenwood): S ** exp(-+z sqrt(G) / |log S|)
        for (_, _, _, _, survival, greenwood), lower, upper in zip(rows, curve["ci_lower"], curve["ci_upper"]):
            if survival == 1:
                assert lower == upper == 1.0
            elif 0 < survival < 1:
                spread = z * math.sqrt(greenwood) / abs(math.log(survival))
                assert lower == pytest.approx(survival ** math.exp(spread), abs=1e-12)
                assert upper == pytest.approx(survival ** math.exp(-spread), abs=1e-12)
                assert lower < survival < upper
    marks = result.censoring
    assert marks["group"].tolist() == ["A", "B", "B"] and marks["time"].tolist() == [5.0, 5.0, 9.0]
    np.testing.assert_allclose(marks["survival"], [2 / 5, 3 / 5, 3 / 10], rtol=0, atol=1e-12)
    summary = result.summary.set_index("group")
    assert summary["n"].tolist() == [5, 5] and summary["events"].tolist() == [4, 3]
    # median: first time S <= 1/2; q1: S <= 3/4; q3: S <= 1/4 (never for B: "not reached")
    assert summary["median"].tolist() == [3.0, 8.0]
    assert summary["q1"].tolist() == [3.0, 5.0]
    assert summary.loc["A", "q3"] == 7.0 and np.isinf(summary.loc["B", "q3"])
    # RMST up to the shorter longest follow-up (7): A 2*1 + 1*4/5 + 4*2/5 = 4.4; B 3*1 + 2*4/5 + 2*3/5 = 5.8
    assert summary["rmst_horizon"].tolist() == [7.0, 7.0]
    np.testing.assert_allclose(summary["rmst"], [4.4, 5.8], rtol=0, atol=1e-12)
    assert result.atRiskTable([0, 4, 8]).loc["A"].tolist() == [5, 2, 0]
    assert result.atRiskTable([0, 4, 8]).loc["B"].tolist() == [5, 4, 2]


def test_hand_computed_log_rank_with_ties():
    tests = kaplanMeier(pd.Series(HAND_TIME), pd.Series(HAND_EVENT), pd.Series(HAND_GROUP)).logRank.set_index("test")
    assert list(tests.index) == ["overall", "A vs B"]  # with two groups the pairwise test is the overall one
    for name in tests.index:
        assert tests.loc[name, "statistic"] == pytest.approx(HAND_CHI2, rel=1e-12)
        assert tests.loc[name, "p"] == pytest.approx(_chi2OneDfP(HAND_CHI2), rel=1e-12)
        assert tests.loc[name, "degrees_of_freedom"] == 1 and tests.loc[name, "note"] == ""


def test_hand_computed_three_group_log_rank_overall_and_pairwise():
    # A: 1, 2, 4+   B: 2, 3, 5   C: 3+, 4, 6+
    time = pd.Series([1.0, 2, 4, 2, 3, 5, 3, 4, 6])
    event = pd.Series([1, 1, 0, 1, 1, 1, 0, 1, 0])
    group = pd.Series(["A"] * 3 + ["B"] * 3 + ["C"] * 3)
    # Overall (k - 1 = 2 df): U = (O - E) of A and B, V_ab = sum d (n - d) / (n - 1) * (n_a / n) (delta_ab - n_b / n)
    #   t=1: n=9 d=1 (nA, nB, nC) = (3, 3, 3) deaths A
    #   t=2: n=8 d=2 (2, 3, 3) deaths A, B
    #   t=3: n=6 d=1 (1, 2, 3) death B (C's censoring at 3 is at risk)
    #   t=4: n=4 d=1 (1, 1, 2) death C (A's censoring at 4 is at risk)
    #   t=5: n=2 d=1 (0, 1, 1) death B
    # U_A = 2 - (1/3 + 1/2 + 1/6 + 1/4) = 3/4, U_B = 3 - (1/3 + 3/4 + 1/3 + 1/4 + 1/2) = 5/6
    # V = [[877/1008, -131/336], [-131/336, 647/504]]; chi-square = U' V^-1 U = 1842778/980389
    overall = 1842778 / 980389
    # Pairwise (two groups each, 1 df; O - E and V of the first group):
    #   A vs B: O-E = 11/30, V = 749/900 -> 121/749;  A vs C: 23/30, 641/900 -> 529/641;
    #   B vs C: 19/15, 433/450 -> 722/433
    pairwise = {"A vs B": 121 / 749, "A vs C": 529 / 641, "B vs C": 722 / 433}
    tests = kaplanMeier(time, event, group).logRank.set_index("test")
    assert list(tests.index) == ["overall", *pairwise]
    assert tests.loc["overall", "statistic"] == pytest.approx(overall, rel=1e-12)
    assert tests.loc["overall", "p"] == pytest.approx(math.exp(-overall / 2), rel=1e-12)  # chi-square, 2 df
    assert tests.loc["overall", "degrees_of_freedom"] == 2
    for name, statistic in pairwise.items():
        assert tests.loc[name, "statistic"] == pytest.approx(statistic, rel=1e-12)
        assert tests.loc[name, "p"] == pytest.approx(_chi2OneDfP(statistic), rel=1e-12)


def test_freireich_leukaemia_published_values():
    """Remission times (weeks) of the 6-MP and placebo arms of Freireich et al. (Blood 1963), as in Gehan
    (Biometrika 1965) and Kleinbaum & Klein, *Survival Analysis*: 6-MP's Kaplan–Meier estimates
    0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448 at weeks 6, 7, 10, 13, 16, 22, 23; medians 23 and 8
    weeks; log-rank chi-square 16.79 (1 df, p = 4.2e-5)."""
    mp = [6, 6, 6, 7, 10, 13, 16, 22, 23] + [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
    mpEvent = [1] * 9 + [0] * 12
    placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
    time = pd.Series(mp + placebo, dtype=float)
    event = pd.Series(mpEvent + [1] * 21)
    group = pd.Series(["6-MP"] * 21 + ["placebo"] * 21)
    result = kaplanMeier(time, event, group)
    curve = result.curves[result.curves["group"] == "6-MP"].set_index("time")["survival"]
    published = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for week, survival in published.items():
        assert curve[float(week)] == pytest.approx(survival, abs=5e-4)
    assert result.summary.set_index("group")["median"].to_dict() == {"6-MP": 23.0, "placebo": 8.0}
    overall = result.logRank.set_index("test").loc["overall"]
    assert overall["statistic"] == pytest.approx(16.79, abs=5e-3)
    assert overall["p"] == pytest.approx(4.2e-5, abs=5e-7)


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
    from VirtualBiopsy.outcome.survivalFigure import atRiskTimes, saveKaplanMeierFigure

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
