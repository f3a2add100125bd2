"""Per-feature Kruskal–Wallis test across batches (``scipy.stats.kruskal``, tie-corrected H).

A feature whose distribution does not depend on the batch has p roughly uniform; the
fraction of features significant at α after the Benjamini–Hochberg (false discovery
rate, ``scipy.stats.false_discovery_control``) or Bonferroni (family-wise) correction
over the table's features, and the median H, summarize the site effect (lower is better).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError


def kruskalWallis(features: pd.DataFrame, batch: pd.Series) -> pd.DataFrame:
    """H and p of every feature across the batches, with the corrected p-values.

    :returns: indexed by feature: ``H``, ``p``, ``pBenjaminiHochberg``, ``pBonferroni``.
    :raises InputError: for fewer than two batches or a feature with one value over the cohort.
    """
    from scipy import stats

    labels = batch.to_numpy()
    groups = [labels == name for name in sorted(set(labels))]
    if len(groups) < 2:
        raise InputError("The Kruskal–Wallis test needs at least two batches.")
    statistics: list[float] = []
    pValueList: list[float] = []
    for name in features.columns:
        values = features[name].to_numpy(dtype=np.float64)
        if np.ptp(values) == 0:
            raise InputError(
                f"Feature '{name}' has the same value for every patient; the Kruskal–Wallis test is "
                "undefined. Leave constant features out."
            )
        result = stats.kruskal(*(values[group] for group in groups))
        statistics.append(float(result.statistic))
        pValueList.append(float(result.pvalue))
    pValues = np.asarray(pValueList)
    return pd.DataFrame(
        {
            "H": statistics,
            "p": pValues,
            "pBenjaminiHochberg": stats.false_discovery_control(pValues, method="bh"),
            "pBonferroni": np.minimum(pValues * len(pValues), 1.0),
        },
        index=pd.Index(features.columns, name="feature"),
    )


def kruskalSummary(table: pd.DataFrame, alpha: float = 0.05) -> dict[str, float]:
    """``features``, the fractions significant at ``alpha`` (raw, Benjamini–Hochberg, Bonferroni) and the median H."""
    if not 0 < alpha < 1:
        raise InputError(f"The significance level α must lie in (0, 1), got {alpha}.")
    return {
        "features": int(len(table)),
        "fractionSignificant": float(np.mean(table["p"] < alpha)),
        "fractionSignificantBH": float(np.mean(table["pBenjaminiHochberg"] < alpha)),
        "fractionSignificantBonferroni": float(np.mean(table["pBonferroni"] < alpha)),
        "medianH": float(np.median(table["H"])),
    }
