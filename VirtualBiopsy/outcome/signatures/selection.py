"""Supervised feature selection for a signature: LASSO and recursive feature elimination.

Survival outcomes use lifelines' Cox model, binary targets scikit-learn's logistic regression;
features are z-scored first so that one penalty treats them alike.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, requirePackage

#: |coefficient| (per standard deviation) below which lifelines' smoothed L1 Cox counts a feature as dropped.
COX_ZERO = 1e-3


def lassoSelection(
    features: pd.DataFrame,
    time: pd.Series | None = None,
    event: pd.Series | None = None,
    target: pd.Series | None = None,
    penalizer: float = 0.1,
) -> pd.DataFrame:
    """LASSO: L1-penalised Cox (``time``/``event``) or logistic regression (binary ``target``).

    Cox uses lifelines' ``CoxPHFitter(penalizer, l1_ratio=1)``, whose smooth L1 approximation leaves
    tiny non-zero coefficients: |coef| < :data:`COX_ZERO` counts as zero. Logistic regression uses
    scikit-learn's liblinear solver with ``C = 1 / penalizer`` (exact zeros).

    :returns: indexed by feature: ``coef`` (per standard deviation) and ``kept``.
    :raises InputError: without an outcome, with both, or with an unusable one.
    """
    if not np.isfinite(penalizer) or penalizer <= 0:
        raise InputError(f"The LASSO penalizer is {penalizer}; give a number > 0 (e.g. 0.1).")
    standardized = _standardized(features)
    if (time is None) == (target is None):
        raise InputError("LASSO needs exactly one outcome: survival (time and event) or a binary target.")
    if time is not None:
        coefficients = _coxCoefficients(standardized, time, event, penalizer, l1Ratio=1.0)
        kept = np.abs(coefficients) >= COX_ZERO
    else:
        coefficients = _logistic(standardized, target, 1.0 / penalizer).coef_[0]
        kept = coefficients != 0
    return pd.DataFrame({"coef": coefficients, "kept": kept}, index=features.columns)


def recursiveElimination(
    features: pd.DataFrame,
    keep: int,
    time: pd.Series | None = None,
    event: pd.Series | None = None,
    target: pd.Series | None = None,
    penalizer: float = 0.1,
) -> pd.DataFrame:
    """Recursive feature elimination down to ``keep`` features.

    A binary target uses scikit-learn's ``RFE`` with (L2) logistic regression, ``C = 1 / penalizer``;
    survival refits a ridge Cox model (lifelines, ``penalizer``) and drops the feature with the
    smallest |coefficient| (per standard deviation) until ``keep`` remain.

    :returns: indexed by feature: ``rank`` (1 = kept; higher = eliminated earlier) and ``kept``.
    """
    if not 1 <= keep <= features.shape[1]:
        raise InputError(
            f"Recursive elimination to {keep} feature(s) of {features.shape[1]}; give between 1 and "
            f"{features.shape[1]}."
        )
    standardized = _standardized(features)
    if (time is None) == (target is None):
        raise InputError(
            "Recursive elimination needs exactly one outcome: survival (time and event) or a binary target."
        )
    if target is not None:
        from sklearn.feature_selection import RFE
        from sklearn.linear_model import LogisticRegression

        _binaryTarget(target)
        model = RFE(LogisticRegression(C=1.0 / penalizer, max_iter=1000), n_features_to_select=keep)
        ranks = model.fit(standardized.to_numpy(), target.to_numpy()).ranking_
    else:
        ranks = np.ones(features.shape[1], dtype=int)
        remaining = list(range(features.shape[1]))
        while len(remaining) > keep:
            coefficients = _coxCoefficients(standardized.iloc[:, remaining], time, event, penalizer, l1Ratio=0.0)
            weakest = remaining[int(np.argmin(np.abs(coefficients)))]
            ranks[weakest] = len(remaining) - keep + 1
            remaining.remove(weakest)
    return pd.DataFrame({"rank": ranks, "kept": ranks == 1}, index=features.columns)


def _standardized(features: pd.DataFrame) -> pd.DataFrame:
    values = features.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise InputError("Feature selection needs finite feature values; impute or drop missing ones first.")
    scale = values.std(axis=0)
    constant = [str(c) for c, s in zip(features.columns, scale) if s == 0]
    if constant:
        raise InputError(f"Feature(s) {', '.join(constant[:10])} are constant; remove them before selection.")
    return pd.DataFrame(
        (values - values.mean(axis=0)) / scale, index=features.index, columns=[str(c) for c in features.columns]
    )


def _coxCoefficients(standardized: pd.DataFrame, time, event, penalizer: float, l1Ratio: float) -> np.ndarray:
    requirePackage("lifelines")
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    from VirtualBiopsy.outcome.kaplanMeier import checkSurvival

    time, event = checkSurvival(time, event)
    if not standardized.index.equals(time.index.astype(standardized.index.dtype)):
        raise InputError("Features and survival data must list the same patients in the same order.")
    if event.sum() == 0:
        raise InputError("Selection with a Cox model is undefined: no events (every patient censored).")
    data = standardized.assign(_time=time.to_numpy(), _event=event.to_numpy())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter = CoxPHFitter(penalizer=penalizer, l1_ratio=l1Ratio).fit(data, "_time", "_event")
    except (ConvergenceError, np.linalg.LinAlgError) as error:
        raise InputError(
            f"The penalised Cox model did not converge ({str(error).splitlines()[0]}); use a larger penalizer (e.g. 1)."
        ) from error
    return fitter.params_.to_numpy(float)


def _binaryTarget(target: pd.Series) -> None:
    classes = target.dropna().unique()
    if target.isna().any() or len(classes) != 2:
        raise InputError(
            f"A binary target needs exactly two classes and no missing values; got {len(classes)} "
            f"class(es) ({', '.join(map(str, classes[:5]))}) and {int(target.isna().sum())} missing."
        )


def _logistic(standardized: pd.DataFrame, target: pd.Series, C: float):
    from sklearn.linear_model import LogisticRegression

    _binaryTarget(target)
    model = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", random_state=0)
    return model.fit(standardized.to_numpy(), target.to_numpy())
