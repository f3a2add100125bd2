"""Kaplan–Meier curves per group with confidence bands, at-risk counts, log-rank tests and survival summaries.

Every number comes from lifelines (``KaplanMeierFitter``, ``multivariate_logrank_test``,
``pairwise_logrank_test``, ``restricted_mean_survival_time``); this module arranges them into
tables and says when a statistic is undefined instead of reporting a misleading value.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, requirePackage

#: Group name used when no grouping is given.
ALL_PATIENTS = "all"


@dataclass
class KaplanMeierResult:
    """Kaplan–Meier estimates of one or more groups.

    :ivar curves: ``group``, ``time`` (from 0), ``survival``, ``ci_lower``, ``ci_upper`` (pointwise
        95 % band, lifelines' exponential Greenwood), ``at_risk`` (just before ``time``),
        ``events``, ``censored`` (at ``time``).
    :ivar censoring: censoring marks: ``group``, ``time``, ``survival`` (the curve's value there).
    :ivar logRank: ``test`` (``overall`` or ``A vs B``), ``statistic``, ``p``, ``degrees_of_freedom``,
        ``note`` (why a test is undefined; its statistic and p are then empty).
    :ivar summary: per group: ``n``, ``events``, ``median`` with its 95 % CI, ``q1``/``q3`` (times at
        which survival falls to 75 % and 25 %: the interquartile range of survival time), ``rmst``
        (restricted mean survival time: the area under the curve up to ``rmst_horizon``, the
        shortest of the groups' longest follow-ups, so that groups compare) and ``note``. A quantile
        that the curve never reaches is ``inf`` ("not reached").
    """

    curves: pd.DataFrame
    censoring: pd.DataFrame
    logRank: pd.DataFrame
    summary: pd.DataFrame

    @property
    def groups(self) -> list[str]:
        """The groups, in order."""
        return list(dict.fromkeys(self.curves["group"]))

    @property
    def logRankPValue(self) -> float:
        """p-value of the overall log-rank test of the groups; NaN when the test is undefined (one group, no
        events), with the reason in ``logRank``'s ``note``."""
        return float(self.logRank.iloc[0]["p"])

    def atRiskTable(self, times) -> pd.DataFrame:
        """Number at risk per group (rows) at each of ``times`` (columns), as under a KM plot."""
        rows = {}
        for group, curve in self.curves.groupby("group", sort=False):
            atRisk = []
            for t in times:
                later = curve[curve["time"] >= t]
                atRisk.append(int(later["at_risk"].iloc[0]) if len(later) else 0)
            rows[group] = atRisk
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(times))


def checkSurvival(time: pd.Series, event: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``time`` as float and ``event`` as int after checking them.

    :raises InputError: for unequal lengths, times that are missing, infinite or ≤ 0, events other than 0/1.
    """
    if len(time) != len(event) or not time.index.equals(event.index):
        raise InputError(f"Times ({len(time)}) and events ({len(event)}) must belong to the same patients.")
    if len(time) == 0:
        raise InputError("There are no patients; give a table with at least one row.")
    numeric = pd.to_numeric(time, errors="coerce").astype(float)
    bad = time.index[~(np.isfinite(numeric.to_numpy()) & (numeric.to_numpy() > 0))]
    if len(bad):
        shown = ", ".join(f"{p} ({time[p]!r})" for p in bad[:5])
        raise InputError(
            f"Survival times must be finite numbers > 0; not for {len(bad)} patient(s): {shown}. Fix or remove them."
        )
    events = pd.to_numeric(event.map(lambda v: int(v) if isinstance(v, (bool, np.bool_)) else v), errors="coerce")
    bad = event.index[~events.isin([0, 1])]
    if len(bad):
        shown = ", ".join(f"{p} ({event[p]!r})" for p in bad[:5])
        raise InputError(f"Events must be 0 (censored) or 1 (event); not for {len(bad)} patient(s): {shown}.")
    return numeric, events.astype(int)


def kaplanMeier(
    time: pd.Series, event: pd.Series, groups: pd.Series | None = None, alpha: float = 0.05
) -> KaplanMeierResult:
    """Kaplan–Meier curves per group, log-rank tests (overall and pairwise) and survival summaries.

    :param time: follow-up time per patient (> 0).
    :param event: 1 = event, 0 = censored.
    :param groups: group per patient (any labels, compared as text); one group ``all`` if None.
    :param alpha: 1 - confidence level of the bands and median CIs.
    :raises InputError: for invalid times, events or missing group labels.
    """
    requirePackage("lifelines")
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times, restricted_mean_survival_time

    time, event = checkSurvival(time, event)
    if groups is None:
        groups = pd.Series(ALL_PATIENTS, index=time.index)
    if not groups.index.equals(time.index):
        raise InputError("Groups must be given for the same patients as the times.")
    if groups.isna().any():
        raise InputError(
            f"The group is missing for {int(groups.isna().sum())} patient(s): "
            f"{', '.join(map(str, groups.index[groups.isna()][:5]))}; fill it in or remove them."
        )
    groups = groups.astype(str)
    order = sorted(groups.unique(), key=_naturalKey)
    horizon = min(time[groups == g].max() for g in order)
    curves, censoring, summary = [], [], []
    for group in order:
        members = groups == group
        fitter = KaplanMeierFitter(alpha=alpha).fit(time[members], event[members], label="km")
        estimate = fitter.survival_function_["km"]
        bands = fitter.confidence_interval_
        table = fitter.event_table.reindex(estimate.index)
        curves.append(
            pd.DataFrame(
                {
                    "group": group,
                    "time": estimate.index.to_numpy(float),
                    "survival": estimate.to_numpy(float),
                    "ci_lower": bands.iloc[:, 0].to_numpy(float),
                    "ci_upper": bands.iloc[:, 1].to_numpy(float),
                    "at_risk": table["at_risk"].to_numpy(int),
                    "events": table["observed"].to_numpy(int),
                    "censored": table["censored"].to_numpy(int),
                }
            )
        )
        censoredTimes = np.sort(time[members & (event == 0)].unique())
        censoring.append(
            pd.DataFrame(
                {
                    "group": group,
                    "time": censoredTimes,
                    "survival": fitter.survival_function_at_times(censoredTimes).to_numpy(float),
                }
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines' ApproximationWarning: exact on a KM step function
            medianCi = median_survival_times(fitter.confidence_interval_)
            rmst = restricted_mean_survival_time(fitter, t=horizon)
            quartiles = float(fitter.percentile(0.75)), float(fitter.percentile(0.25))
        events = int(event[members].sum())
        summary.append(
            {
                "group": group,
                "n": int(members.sum()),
                "events": events,
                "median": float(fitter.median_survival_time_),
                "median_ci_lower": float(medianCi.iloc[0, 0]),
                "median_ci_upper": float(medianCi.iloc[0, 1]),
                "q1": quartiles[0],
                "q3": quartiles[1],
                "rmst": float(rmst),
                "rmst_horizon": float(horizon),
                "note": "no events: every patient censored, survival never falls"
                if events == 0
                else ("median not reached" if np.isinf(fitter.median_survival_time_) else ""),
            }
        )
    return KaplanMeierResult(
        curves=pd.concat(curves, ignore_index=True),
        censoring=pd.concat(censoring, ignore_index=True),
        logRank=logRankTests(time, event, groups),
        summary=pd.DataFrame(summary),
    )


def logRankTests(time: pd.Series, event: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """The overall log-rank test of all groups, then one per pair of groups.

    A test is undefined (empty statistic and p, with the reason in ``note``) when there is only
    one group or the patients it compares have no event.
    """
    requirePackage("lifelines")
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    time, event = checkSurvival(time, event)
    groups = groups.astype(str)
    order = sorted(groups.unique(), key=_naturalKey)
    rows = [
        _test("overall", time, event, groups, len(order) - 1, lambda: multivariate_logrank_test(time, groups, event))
    ]
    for first, second in itertools.combinations(order, 2):
        pair = groups.isin([first, second])
        rows.append(
            _test(
                f"{first} vs {second}",
                time[pair],
                event[pair],
                groups[pair],
                1,
                lambda p=pair, a=first, b=second: logrank_test(
                    time[p & (groups == a)], time[p & (groups == b)], event[p & (groups == a)], event[p & (groups == b)]
                ),
            )
        )
    return pd.DataFrame(rows, columns=["test", "statistic", "p", "degrees_of_freedom", "note"])


def _test(name: str, time: pd.Series, event: pd.Series, groups: pd.Series, degrees: int, run) -> dict:
    row = {"test": name, "statistic": np.nan, "p": np.nan, "degrees_of_freedom": degrees, "note": ""}
    if groups.nunique() < 2:
        row["note"] = f"undefined: one group only ({groups.iloc[0]}); give a grouping with at least two groups"
    elif event.sum() == 0:
        row["note"] = "undefined: no events (every patient censored), so the groups' survival cannot be compared"
    else:
        result = run()
        row.update(statistic=float(result.test_statistic), p=float(result.p_value))
    return row


def _naturalKey(label: str):
    """Numbers in numeric order (2 before 10), then text."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)
