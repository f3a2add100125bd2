"""Unsupervised grouping of patients by their features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError


def standardizeFeatures(features: pd.DataFrame) -> pd.DataFrame:
    """Scale every column to zero mean and unit variance over the patients.

    :raises InputError: for non-numeric or missing values, or constant columns
        (they carry no information and cannot be scaled; drop them first).
    """
    nonNumeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if nonNumeric:
        raise InputError(f"Feature columns must be numeric; these are not: {', '.join(map(str, nonNumeric))}.")
    missing = [c for c in features.columns if features[c].isna().any() or not np.isfinite(features[c]).all()]
    if missing:
        raise InputError(
            f"{len(missing)} feature column(s) have missing or infinite values ({', '.join(map(str, missing[:5]))}); "
            "impute or drop them before clustering."
        )
    spread = features.std(ddof=0)
    constant = list(spread.index[spread <= 1e-12 * np.maximum(1.0, features.abs().max())])
    if constant:
        raise InputError(
            f"{len(constant)} feature column(s) are constant over the patients ({', '.join(map(str, constant[:5]))}); "
            "drop them before clustering."
        )
    return (features - features.mean()) / spread


def clusterPatients(features: pd.DataFrame, numberOfClusters: int = 2, randomSeed: int = 0) -> pd.Series:
    """Group patients with k-means on standardized features.

    Clusters are numbered by decreasing size (ties by first patient), so the
    numbering does not depend on k-means' arbitrary label order.

    :param features: one row per patient (index = patient), numeric columns.
    :returns: cluster number (0 … k-1) per patient, same index as ``features``.
    :raises InputError: when there are fewer patients than clusters or the features are unusable.
    """
    from sklearn.cluster import KMeans

    if len(features) < numberOfClusters:
        raise InputError(
            f"{len(features)} patient(s) cannot form {numberOfClusters} clusters; add patients or lower numberOfClusters."
        )
    standardized = standardizeFeatures(features)
    labels = KMeans(n_clusters=numberOfClusters, n_init=10, random_state=randomSeed).fit_predict(
        standardized.to_numpy()
    )
    order = sorted(set(labels), key=lambda label: (-np.sum(labels == label), int(np.argmax(labels == label))))
    renumber = {old: new for new, old in enumerate(order)}
    return pd.Series([renumber[label] for label in labels], index=features.index, name="cluster")
