"""Univariate comparison of two outcome classes: Mann–Whitney U with Bonferroni correction, ROC AUC.

The AUC is reported as computed with the positive class as the event (the
probability that a positive patient has a higher value than a negative one,
ties counted half; equal to ``sklearn.metrics.roc_auc_score``), together with
the ``direction`` of the difference and ``aucBest = max(AUC, 1 − AUC)``, the
discrimination of the feature used in its better direction. The Mann–Whitney U
is the positive class's statistic, so ``auc = u / (nPositive · nNegative)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from VirtualBiopsy.errors import InputError

#: Columns of :func:`univariateTable` (index ``feature``).
UNIVARIATE_COLUMNS = (
    "nNegative",
    "nPositive",
    "medianNegative",
    "medianPositive",
    "u",
    "pValue",
    "pBonferroni",
    "significant",
    "auc",
    "aucBest",
    "direction",
)


def univariateTable(features: pd.DataFrame, isPositive: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Mann–Whitney U (two-sided), Bonferroni-corrected p-values and ROC AUC per feature.

    :param features: patients × numeric features (gaps are left out feature by feature).
    :param isPositive: boolean per patient (row): in the positive class.
    :param alpha: family-wise error level for ``significant`` (``pBonferroni < alpha``).
    :returns: one row per feature, columns :data:`UNIVARIATE_COLUMNS`, in table order.
        ``pBonferroni = min(1, p · m)`` with ``m`` the number of features tested.
    :raises InputError: when sizes disagree, a class is empty, or ``alpha`` is not in (0, 1).
    """
    isPositive = np.asarray(isPositive, dtype=bool)
    if len(isPositive) != len(features):
        raise InputError(f"Outcome has {len(isPositive)} patients but the features table {len(features)}; align them.")
    if isPositive.all() or not isPositive.any():
        raise InputError("Univariate tests need patients in both outcome classes; one class is empty.")
    if not 0.0 < alpha < 1.0:
        raise InputError(f"Significance level alpha is {alpha!r}; give a number between 0 and 1 (e.g. 0.05).")
    rows = [_featureRow(str(name), features[name].to_numpy(dtype=float), isPositive) for name in features.columns]
    table = pd.DataFrame(rows, columns=["feature", *UNIVARIATE_COLUMNS[:6], *UNIVARIATE_COLUMNS[8:]]).set_index(
        "feature"
    )
    tested = int(table["pValue"].notna().sum())
    table.insert(6, "pBonferroni", np.minimum(1.0, table["pValue"] * tested))
    table.insert(7, "significant", table["pBonferroni"] < alpha)
    return table


def _featureRow(name: str, values: np.ndarray, isPositive: np.ndarray) -> dict:
    present = ~np.isnan(values)
    positive, negative = values[present & isPositive], values[present & ~isPositive]
    row = {
        "feature": name,
        "nNegative": len(negative),
        "nPositive": len(positive),
        "medianNegative": np.median(negative) if len(negative) else np.nan,
        "medianPositive": np.median(positive) if len(positive) else np.nan,
        "u": np.nan,
        "pValue": np.nan,
        "auc": np.nan,
        "aucBest": np.nan,
        "direction": "untestable",
    }
    if len(positive) == 0 or len(negative) == 0:
        return row
    if np.ptp(np.concatenate([positive, negative])) == 0:
        # Identical values: no difference, and scipy's p-value would be NaN.
        row.update(u=len(positive) * len(negative) / 2, pValue=1.0, auc=0.5, aucBest=0.5, direction="none")
        return row
    result = stats.mannwhitneyu(positive, negative, alternative="two-sided")
    auc = float(result.statistic) / (len(positive) * len(negative))
    direction = "higher in positive" if auc > 0.5 else "lower in positive" if auc < 0.5 else "none"
    row.update(
        u=float(result.statistic),
        pValue=float(result.pvalue),
        auc=auc,
        aucBest=max(auc, 1.0 - auc),
        direction=direction,
    )
    return row
