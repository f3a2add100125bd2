"""Cox proportional-hazards models (lifelines): hazard ratios, C-index, PH check and prognostic risk groups."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.outcome.kaplanMeier import (
    KaplanMeierResult,
    checkSurvival,
    kaplanMeier,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Labels of the prognostic-index risk groups.
LOW_RISK, HIGH_RISK = "low risk", "high risk"


@dataclass
class CoxResult:
    """A fitted Cox model and its evidence.

    :ivar coefficients: per covariate: ``covariate``, ``coef`` (log hazard ratio), ``hr``,
        ``ci_lower``/``ci_upper`` (95 % CI of the hazard ratio), ``se``, ``z``, ``p``.
    :ivar concordance: one row: ``cindex`` (Harrell's C of the prognostic index, lifelines
        ``concordance_index``), ``ci_lower``/``ci_upper`` (percentile bootstrap), ``bootstrap``
        (resamples used), ``seed``, ``note``.
    :ivar phTest: per covariate: ``covariate``, ``statistic``, ``p`` of lifelines'
        ``proportional_hazard_test`` (scaled Schoenfeld residuals against rank-transformed time);
        a small p says the hazard ratio changes over time.
    :ivar prognosticIndex: linear predictor per patient (lifelines' ``predict_log_partial_hazard``:
        centred on the covariates' means).
    :ivar riskGroups: ``low risk``/``high risk`` per patient: above the ``riskPercentile``-th
        percentile of the prognostic index is high risk.
    :ivar riskKaplanMeier: Kaplan–Meier curves and log-rank test of the risk groups (on the
        same patients the model was fitted on, so the separation is optimistic).
    :ivar penalizer: the penalizer the model was fitted with.
    """

    coefficients: pd.DataFrame
    concordance: pd.DataFrame
    phTest: pd.DataFrame
    prognosticIndex: pd.Series
    riskGroups: pd.Series
    riskKaplanMeier: KaplanMeierResult
    penalizer: float = 0.0


def fitCox(
    covariates: pd.DataFrame,
    time: pd.Series,
    event: pd.Series,
    penalizer: float = 0.0,
    l1Ratio: float = 0.0,
    riskPercentile: float = 50.0,
    bootstrap: int = 1000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CoxResult:
    """Fit a Cox model of ``time``/``event`` on ``covariates`` with lifelines' ``CoxPHFitter``.

    :param covariates: numeric covariates indexed by patient (same index as ``time`` and ``event``).
    :param penalizer: lifelines' penalizer (0 = plain partial likelihood); a small value such as
        0.1 makes separable or collinear data converge.
    :param l1Ratio: share of L1 in the penalty (lifelines' ``l1_ratio``; 1 = LASSO).
    :param riskPercentile: percentile of the prognostic index that splits low from high risk.
    :param bootstrap: number of bootstrap resamples of the C-index CI (0: no CI).
    :param seed: seed of the bootstrap.
    :raises InputError: for invalid survival data, unusable covariates, no events, or a fit that
        does not converge (with the fix).
    """
    requirePackage("lifelines")
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    progress = progress or noProgress
    time, event = checkSurvival(time, event)
    frame = _checkedCovariates(covariates, time.index)
    if event.sum() == 0:
        raise InputError(
            "The Cox model is undefined: no events (every patient is censored), so there is nothing "
            "to estimate hazards from. Give data with at least one event."
        )
    if not 0 <= riskPercentile <= 100 or not np.isfinite(riskPercentile):
        raise InputError(f"riskPercentile is {riskPercentile}; give a percentile in [0, 100] (50 = median).")
    if penalizer < 0 or not np.isfinite(penalizer):
        raise InputError(f"penalizer is {penalizer}; give a number >= 0 (e.g. 0.1).")
    if int(event.sum()) < 10 * frame.shape[1]:
        logger.warning(
            "%d events for %d covariates: fewer than 10 events per covariate, the model may overfit",
            int(event.sum()),
            frame.shape[1],
        )
    data = frame.assign(_time=time, _event=event)
    progress(0.0, "Fitting the Cox model")
    fitter = CoxPHFitter(penalizer=penalizer, l1_ratio=l1Ratio)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            fitter.fit(data, duration_col="_time", event_col="_event")
        except (ConvergenceError, np.linalg.LinAlgError) as error:
            _raiseNotConverged(str(error) or type(error).__name__, penalizer, error)
    # lifelines only warns on separation or non-unique solutions; its coefficients are then meaningless.
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if messages:
        _raiseNotConverged(messages[0], penalizer)
    summary = fitter.summary
    coefficients = pd.DataFrame(
        {
            "covariate": [str(c) for c in summary.index],
            "coef": summary["coef"].to_numpy(float),
            "hr": summary["exp(coef)"].to_numpy(float),
            "ci_lower": summary["exp(coef) lower 95%"].to_numpy(float),
            "ci_upper": summary["exp(coef) upper 95%"].to_numpy(float),
            "se": summary["se(coef)"].to_numpy(float),
            "z": summary["z"].to_numpy(float),
            "p": summary["p"].to_numpy(float),
        }
    )
    index = fitter.predict_log_partial_hazard(frame).rename("prognostic_index")
    index.index = frame.index
    progress(0.3, "Bootstrapping the C-index")
    concordance = concordanceWithBootstrap(time, event, index, bootstrap, seed, cancel)
    progress(0.8, "Checking proportional hazards")
    phTest = proportionalHazardsTest(fitter, data)
    threshold = np.percentile(index.to_numpy(float), riskPercentile)
    riskGroups = pd.Series(
        np.where(index.to_numpy(float) > threshold, HIGH_RISK, LOW_RISK), index=frame.index, name="risk_group"
    )
    progress(1.0, "Done")
    return CoxResult(
        coefficients=coefficients,
        concordance=concordance,
        phTest=phTest,
        prognosticIndex=index,
        riskGroups=riskGroups,
        riskKaplanMeier=kaplanMeier(time, event, riskGroups),
        penalizer=penalizer,
    )


def defaultCovariates(table: pd.DataFrame, exclude: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The covariates of a Cox model when none are named: every numeric column but ``exclude``, and the columns
    left out because they are not numeric (text or categories), which the caller must name to the user.

    :returns: ``(covariates, leftOut)``, both in column order.
    """
    excluded = set(exclude)
    candidates = [c for c in table.columns if c not in excluded]
    numeric = [c for c in candidates if _isNumeric(table[c])]
    return numeric, [c for c in candidates if c not in numeric]


def _isNumeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def concordanceWithBootstrap(
    time: pd.Series,
    event: pd.Series,
    prognosticIndex: pd.Series,
    resamples: int = 1000,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """Harrell's C-index of a prognostic index (higher = higher risk) and its percentile bootstrap 95 % CI.

    The bootstrap resamples patients with replacement and re-scores the same index (the model is not
    refitted), so the CI reflects sampling of the patients, not the optimism of fitting on them.
    Resamples without a comparable pair are skipped and counted out of ``bootstrap``.
    """
    from lifelines.utils import concordance_index

    times, events, scores = time.to_numpy(float), event.to_numpy(int), -prognosticIndex.to_numpy(float)
    try:
        cindex = float(concordance_index(times, scores, events))
    except ZeroDivisionError:
        return pd.DataFrame(
            [
                {
                    "cindex": np.nan,
                    "ci_lower": np.nan,
                    "ci_upper": np.nan,
                    "bootstrap": 0,
                    "seed": seed,
                    "note": "undefined: no comparable pair of patients (needs an event "
                    "before another patient's follow-up ends)",
                }
            ]
        )
    generator = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        if cancel:
            cancel.raiseIfCancelled()
        sample = generator.integers(0, len(times), len(times))
        try:
            values.append(concordance_index(times[sample], scores[sample], events[sample]))
        except ZeroDivisionError:
            continue
    note = "" if resamples else "no bootstrap asked for"
    lower = upper = np.nan
    if values:
        lower, upper = (float(v) for v in np.percentile(values, [2.5, 97.5]))
    elif resamples:
        note = "bootstrap undefined: no resample had a comparable pair"
    return pd.DataFrame(
        [{"cindex": cindex, "ci_lower": lower, "ci_upper": upper, "bootstrap": len(values), "seed": seed, "note": note}]
    )


def proportionalHazardsTest(fitter, data: pd.DataFrame) -> pd.DataFrame:
    """lifelines' ``proportional_hazard_test`` (rank-transformed time) per covariate."""
    from lifelines.statistics import proportional_hazard_test

    result = proportional_hazard_test(fitter, data, time_transform="rank")
    summary = result.summary
    names = [name[0] if isinstance(name, tuple) else name for name in summary.index]
    return pd.DataFrame(
        {
            "covariate": [str(n) for n in names],
            "statistic": summary["test_statistic"].to_numpy(float),
            "p": summary["p"].to_numpy(float),
        }
    )


def _raiseNotConverged(message: str, penalizer: float, cause: BaseException | None = None) -> None:
    firstLine = " ".join(message.split())[:300]
    fix = "use a larger penalizer (e.g. --penalizer 1)" if penalizer > 0 else "use a penalizer (e.g. --penalizer 0.1)"
    raise InputError(
        f"The Cox model did not converge to a unique fit (lifelines: {firstLine}). Covariates that separate events "
        f"perfectly, collinear or nearly constant covariates cause this; {fix} or use fewer covariates."
    ) from cause


def _checkedCovariates(covariates: pd.DataFrame, patients: pd.Index) -> pd.DataFrame:
    if covariates.shape[1] == 0:
        raise InputError("The Cox model needs at least one covariate; give some (e.g. --covariates age,grade).")
    if not covariates.index.equals(patients):
        raise InputError("Covariates must be given for the same patients, in the same order, as the times.")
    nonNumeric = [c for c in covariates.columns if not pd.api.types.is_numeric_dtype(covariates[c])]
    if nonNumeric:
        raise InputError(
            f"Cox covariates must be numeric; these are not: {', '.join(map(str, nonNumeric))}. "
            "Encode them as numbers (e.g. 0/1 per category)."
        )
    frame = covariates.astype(float)
    bad = [c for c in frame.columns if not np.isfinite(frame[c].to_numpy()).all()]
    if bad:
        raise InputError(
            f"Cox covariate(s) {', '.join(map(str, bad))} have missing or infinite values; "
            "impute them or remove those patients."
        )
    constant = [c for c in frame.columns if frame[c].nunique() < 2]
    if constant:
        raise InputError(
            f"Cox covariate(s) {', '.join(map(str, constant))} are constant over the patients, so their "
            "hazard ratio is undefined; remove them."
        )
    if any(str(c) in ("_time", "_event") for c in frame.columns):
        raise InputError("Covariates may not be named '_time' or '_event'; rename them.")
    frame.columns = [str(c) for c in frame.columns]
    return frame
