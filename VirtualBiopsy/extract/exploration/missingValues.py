"""Missing values: a report per feature and explicit handling (drop, then impute or not)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.exploration.config import IMPUTATIONS


@dataclass
class MissingValueResult:
    """Features after missing-value handling.

    :ivar features: the kept features (imputed when asked).
    :ivar dropped: features removed because too many values were missing.
    :ivar imputed: feature → number of values imputed.
    """

    features: pd.DataFrame
    dropped: list[str] = field(default_factory=list)
    imputed: dict[str, int] = field(default_factory=dict)


def missingValueReport(features: pd.DataFrame) -> pd.DataFrame:
    """Per feature: ``missing`` (count) and ``fraction`` of patients, index ``feature``, most missing first."""
    missing = features.isna().sum()
    report = pd.DataFrame({"missing": missing.astype(int), "fraction": missing / max(len(features), 1)})
    report.index.name = "feature"
    return report.sort_values("fraction", ascending=False, kind="stable")


def handleMissingValues(
    features: pd.DataFrame, maxMissingFraction: float = 0.2, imputation: str = "median"
) -> MissingValueResult:
    """Drop features missing in more than ``maxMissingFraction`` of patients, then impute the rest.

    Features without any value are always dropped. ``imputation="median"`` fills each gap with the
    feature's median over all patients (both classes: per-class medians would leak the outcome);
    ``"none"`` leaves gaps, and each analysis then uses the patients that have a value.

    :raises InputError: for a fraction outside [0, 1], an unknown imputation, or when no feature is left.
    """
    if not isinstance(maxMissingFraction, (int, float, np.floating)) or not 0.0 <= float(maxMissingFraction) <= 1.0:
        raise InputError(f"Maximum missing fraction is {maxMissingFraction!r}; give a number from 0 to 1 (e.g. 0.2).")
    if imputation not in IMPUTATIONS:
        raise InputError(f"Imputation {imputation!r} is unknown; choose one of {', '.join(IMPUTATIONS)}.")
    fraction = features.isna().mean()
    dropped = [str(c) for c in features.columns if fraction[c] > maxMissingFraction or fraction[c] == 1.0]
    kept = features.drop(columns=dropped)
    if kept.shape[1] == 0:
        raise InputError(
            f"Every one of the {features.shape[1]} features misses more than {maxMissingFraction:.0%} of "
            "its values; raise the maximum missing fraction or fix the extraction."
        )
    imputed: dict[str, int] = {}
    if imputation == "median":
        gaps = kept.isna().sum()
        imputed = {str(c): int(n) for c, n in gaps.items() if n}
        kept = kept.fillna(kept.median())
    return MissingValueResult(features=kept, dropped=dropped, imputed=imputed)


def constantFeatures(features: pd.DataFrame) -> list[str]:
    """Features with at most one distinct value (ignoring gaps): nothing to test or correlate."""
    return [str(c) for c in features.columns if features[c].nunique(dropna=True) <= 1]
