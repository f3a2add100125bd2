"""Unsupervised feature filters: low variance and pairwise correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

#: How :func:`varianceFilter` scales features before measuring their variance.
VARIANCE_SCALINGS = ("minmax", "raw")


def varianceFilter(features: pd.DataFrame, threshold: float = 0.01, scaling: str = "minmax") -> pd.DataFrame:
    """Report each feature's variance and whether it passes ``variance > threshold``.

    Radiomic features have incomparable units, so by default each feature is first scaled to
    [0, 1] over the patients (``"minmax"``; its variance is then at most 0.25) and the threshold
    applies to that scale-free variance; ``"raw"`` uses the features' own units (as scikit-learn's
    ``VarianceThreshold``). z-scored features all have variance 1, so they cannot be filtered this way.
    Variances are population variances (ddof = 0), as in ``VarianceThreshold``.

    :returns: indexed by feature: ``variance`` and ``kept`` (bool), in input order.
    :raises InputError: for a negative threshold, an unknown scaling or non-finite values.
    """
    if scaling not in VARIANCE_SCALINGS:
        raise InputError(f"Variance scaling {scaling!r} is unknown; choose one of {', '.join(VARIANCE_SCALINGS)}.")
    if not np.isfinite(threshold) or threshold < 0:
        raise InputError(f"The variance threshold is {threshold}; give a number >= 0 (e.g. 0.01 for min-max scaling).")
    values = _finiteValues(features)
    if scaling == "minmax":
        low, span = values.min(axis=0), np.ptp(values, axis=0)
        values = np.divide(values - low, span, out=np.zeros_like(values), where=span > 0)
    variance = values.var(axis=0)
    return pd.DataFrame({"variance": variance, "kept": variance > threshold}, index=features.columns)


def correlationPruning(features: pd.DataFrame, threshold: float = 0.9, method: str = "pearson") -> pd.DataFrame:
    """Drop one feature of every pair whose absolute correlation exceeds ``threshold``.

    Repeatedly take the remaining pair with the highest |r| above the threshold and drop the one
    of the two with the higher mean |r| to all other remaining features (the more redundant one;
    on a tie, the later column), until no pair is above the threshold.

    :param method: ``"pearson"`` or ``"spearman"``.
    :returns: indexed by feature, in input order: ``kept`` (bool), ``correlated_with`` (the partner
        when dropped), ``r`` (their correlation) and ``mean_abs_r`` (the dropped feature's mean |r|).
    :raises InputError: for a threshold outside (0, 1], an unknown method or a constant feature.
    """
    if method not in ("pearson", "spearman"):
        raise InputError(f"Correlation method {method!r} is unknown; choose 'pearson' or 'spearman'.")
    if not 0 < threshold <= 1:
        raise InputError(f"The correlation threshold is {threshold}; give a number in (0, 1], e.g. 0.9.")
    _finiteValues(features)
    constant = [str(c) for c in features.columns if features[c].nunique() < 2]
    if constant:
        raise InputError(
            f"Feature(s) {', '.join(constant[:10])} are constant, so their correlation is undefined; "
            "remove them first (e.g. with the variance filter)."
        )
    names = list(features.columns)
    correlation = np.abs(features.corr(method=method).to_numpy())
    np.fill_diagonal(correlation, 0.0)
    remaining = np.ones(len(names), dtype=bool)
    report = pd.DataFrame({"kept": True, "correlated_with": "", "r": np.nan, "mean_abs_r": np.nan}, index=names)
    signed = features.corr(method=method).to_numpy()
    while remaining.sum() > 1:
        masked = np.where(np.outer(remaining, remaining), correlation, 0.0)
        first, second = np.unravel_index(np.argmax(masked), masked.shape)
        if masked[first, second] <= threshold:
            break
        meanAbs = masked[:, remaining].sum(axis=1) / (remaining.sum() - 1)
        dropped, partner = (first, second) if meanAbs[first] > meanAbs[second] else (second, first)
        if meanAbs[first] == meanAbs[second]:
            dropped, partner = max(first, second), min(first, second)
        remaining[dropped] = False
        report.iloc[dropped] = [False, str(names[partner]), float(signed[dropped, partner]), float(meanAbs[dropped])]
    return report


def _finiteValues(features: pd.DataFrame) -> np.ndarray:
    if features.shape[1] == 0 or len(features) < 2:
        raise InputError(
            f"A signature needs at least 2 patients and 1 feature; got {features.shape[0]} patient(s) "
            f"and {features.shape[1]} feature(s)."
        )
    nonNumeric = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if nonNumeric:
        raise InputError(f"Feature column(s) {', '.join(nonNumeric[:10])} are not numeric; remove them.")
    values = features.to_numpy(dtype=float)
    bad = [str(c) for c, ok in zip(features.columns, np.isfinite(values).all(axis=0)) if not ok]
    if bad:
        raise InputError(
            f"Feature column(s) {', '.join(bad[:10])} have missing or infinite values; impute or drop them."
        )
    return values
