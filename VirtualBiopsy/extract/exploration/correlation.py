"""Spearman correlation between features, and of each feature with tumour volume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from VirtualBiopsy.errors import InputError

#: Volume columns looked for, in order of preference (any sequence prefix allowed).
VOLUME_SUFFIXES = ("original_shape_MeshVolume", "original_shape_VoxelVolume", "MeshVolume", "VoxelVolume")


def spearmanMatrix(features: pd.DataFrame) -> pd.DataFrame:
    """Spearman's ρ between every pair of features (pairwise complete patients; NaN for constant features)."""
    return features.corr(method="spearman")


def findVolumeColumn(columns: Sequence[str], volumeColumn: str | None = None) -> str | None:
    """The tumour-volume column: ``volumeColumn`` if given, else the first column ending in a :data:`VOLUME_SUFFIXES`
    entry (mesh volume preferred), else ``None``.

    :raises InputError: when ``volumeColumn`` is given but absent.
    """
    columns = [str(c) for c in columns]
    if volumeColumn is not None:
        if volumeColumn not in columns:
            near = [c for c in columns if "volume" in c.lower()]
            raise InputError(
                f"Volume column '{volumeColumn}' is not a feature (volume-like columns: "
                f"{', '.join(near[:5]) or 'none'}); give an existing column."
            )
        return volumeColumn
    for suffix in VOLUME_SUFFIXES:
        for column in columns:
            if column.endswith(suffix):
                return column
    return None


def volumeCorrelationTable(features: pd.DataFrame, volumeColumn: str, threshold: float = 0.75) -> pd.DataFrame:
    """Spearman ρ (and p-value) of every other feature with ``volumeColumn``; ``flagged`` when ``|ρ| > threshold``.

    Constant features get NaN (their ρ is undefined) and are not flagged.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"Volume correlation threshold is {threshold!r}; give a number from 0 to 1 (e.g. 0.75).")
    volume = features[volumeColumn].to_numpy(dtype=float)
    rows = []
    for name in features.columns:
        if name == volumeColumn:
            continue
        values = features[name].to_numpy(dtype=float)
        present = ~np.isnan(values) & ~np.isnan(volume)
        rho = pValue = np.nan
        if present.sum() >= 3 and np.ptp(values[present]) > 0 and np.ptp(volume[present]) > 0:
            result = stats.spearmanr(values[present], volume[present])
            rho, pValue = float(result.statistic), float(result.pvalue)
        rows.append(
            {
                "feature": str(name),
                "rho": rho,
                "pValue": pValue,
                "flagged": bool(np.isfinite(rho) and abs(rho) > threshold),
            }
        )
    return pd.DataFrame(rows, columns=["feature", "rho", "pValue", "flagged"]).set_index("feature")
