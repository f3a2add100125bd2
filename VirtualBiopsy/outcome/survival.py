"""Kaplan–Meier estimates and the log-rank test (lifelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError


def checkSurvivalData(time: pd.Series, event: pd.Series) -> None:
    """Raise :class:`InputError` unless times are positive and finite and events are 0/1."""
    timeValues = pd.to_numeric(time, errors="coerce")
    bad = time.index[~(np.isfinite(timeValues) & (timeValues > 0))]
    if len(bad):
        raise InputError(f"Follow-up times must be positive numbers; bad for: {', '.join(map(str, bad[:5]))}.")
    badEvents = event.index[~event.isin([0, 1, True, False])]
    if len(badEvents):
        raise InputError(f"Events must be 0 (censored) or 1 (event); bad for: {', '.join(map(str, badEvents[:5]))}.")


def kaplanMeierCurve(time: pd.Series, event: pd.Series) -> pd.DataFrame:
    """The Kaplan–Meier survival estimate as a step function.

    :returns: columns ``time`` (starting at 0), ``survival``, ``atRisk``.
    """
    from lifelines import KaplanMeierFitter

    checkSurvivalData(time, event)
    fitter = KaplanMeierFitter().fit(time.astype(float), event.astype(int))
    table = fitter.event_table
    return pd.DataFrame(
        {
            "time": fitter.survival_function_.index.to_numpy(dtype=float),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(dtype=float),
            "atRisk": table["at_risk"].reindex(fitter.survival_function_.index).to_numpy(dtype=float),
        }
    )


def logRankPValue(time: pd.Series, event: pd.Series, groups: pd.Series) -> float:
    """p-value of the log-rank test that the groups share one survival function."""
    from lifelines.statistics import multivariate_logrank_test

    checkSurvivalData(time, event)
    if groups.nunique() < 2:
        raise InputError("The log-rank test needs at least two groups; every patient is in the same group.")
    result = multivariate_logrank_test(time.astype(float), groups, event.astype(int))
    return float(result.p_value)
