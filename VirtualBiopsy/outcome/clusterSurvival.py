"""Survival of patient clusters: k-means groups compared with Kaplan–Meier and log-rank."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.clustering import clusterPatients
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.survival import kaplanMeierCurve, logRankPValue


@dataclass
class ClusterSurvival:
    """Clusters of a cohort and their survival.

    :ivar patients: per patient (index): time, event and ``cluster``.
    :ivar curves: Kaplan–Meier curve per cluster (columns time, survival, atRisk).
    :ivar logRankPValue: p-value of the log-rank test between the clusters.
    """

    patients: pd.DataFrame
    curves: dict[int, pd.DataFrame]
    logRankPValue: float


def analyzeClusterSurvival(features: pd.DataFrame, clinical: pd.DataFrame, config: OutcomeConfig) -> ClusterSurvival:
    """Cluster the patients of ``features`` and compare the clusters' survival.

    :param features: numeric features, one row per patient (index = patient).
    :param clinical: clinical data, one row per patient (index = patient), with
        ``config.timeColumn`` and ``config.eventColumn``.
    :raises InputError: for missing columns or patients without clinical data.
    """
    for column in (config.timeColumn, config.eventColumn):
        if column not in clinical.columns:
            raise InputError(
                f"The clinical table has no column '{column}'; it has: {', '.join(map(str, clinical.columns))}. "
                "Set timeColumn/eventColumn to the right names."
            )
    missing = features.index.difference(clinical.index)
    if len(missing):
        raise InputError(
            f"{len(missing)} patient(s) have features but no clinical row: {', '.join(map(str, missing[:5]))}. "
            "Add them to the clinical table or remove them from the features."
        )
    clusters = clusterPatients(features, config.numberOfClusters, config.randomSeed)
    patients = clinical.loc[features.index, [config.timeColumn, config.eventColumn]].copy()
    patients["cluster"] = clusters
    time, event = patients[config.timeColumn], patients[config.eventColumn]
    curves = {
        int(cluster): kaplanMeierCurve(time[clusters == cluster], event[clusters == cluster])
        for cluster in sorted(clusters.unique())
    }
    return ClusterSurvival(patients=patients, curves=curves, logRankPValue=logRankPValue(time, event, clusters))
