"""Cohort-level outcome modelling on table nodes: clusters and their survival."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.clusterSurvival import (
    ClusterSurvival,
    analyzeClusterSurvival,
)
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Curve colours per cluster (colour-blind safe).
CLUSTER_COLORS = [(0.0, 0.45, 0.70), (0.84, 0.37, 0.0), (0.0, 0.62, 0.45), (0.8, 0.47, 0.65), (0.94, 0.89, 0.26)]


@dataclass
class OutcomeResult:
    """What :meth:`OutcomeLogic.run` produced.

    :ivar table: table node of the patients with their cluster, time and event.
    :ivar chart: plot chart node with one Kaplan–Meier curve per cluster.
    :ivar survival: the same results as DataFrames and the log-rank p-value.
    """

    table: object
    chart: object
    survival: ClusterSurvival

    @property
    def logRankPValue(self) -> float:
        """p-value of the log-rank test between the clusters."""
        return self.survival.logRankPValue


class OutcomeLogic:
    """Group the patients of a cohort and compare their survival.

    :param scene: the MRML scene that holds the input tables and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def run(
        self,
        featuresTable,
        clinicalTable,
        config: OutcomeConfig | None = None,
        outputTable=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> OutcomeResult:
        """Cluster the patients of ``featuresTable`` and draw Kaplan–Meier curves per cluster.

        :param featuresTable: one row per patient: the patient column and numeric feature columns.
        :param clinicalTable: one row per patient: the patient, time and event columns.
        """
        config = config or OutcomeConfig()
        progress = progress or noProgress
        progress(0.0, "Clustering patients")
        features = _indexedByPatient(tableNodeToDataFrame(featuresTable), config.patientColumn, "features")
        clinical = _indexedByPatient(tableNodeToDataFrame(clinicalTable), config.patientColumn, "clinical")
        survival = analyzeClusterSurvival(features, clinical, config)
        if cancel:
            cancel.raiseIfCancelled()
        progress(0.6, "Drawing Kaplan–Meier curves")
        patients = survival.patients.reset_index()
        name = outputTable.GetName() if outputTable else "OutcomeClusters"
        table = dataFrameToTableNode(patients, self.scene, name, tableNode=outputTable)
        series = []
        for cluster, curve in survival.curves.items():
            curveTable = dataFrameToTableNode(curve, self.scene, f"KaplanMeier_cluster{cluster}")
            series.append(
                plotSeriesFromTable(
                    curveTable, "time", "survival", f"Cluster {cluster} (n={int((patients.cluster == cluster).sum())})",
                    plotType="step", color=CLUSTER_COLORS[cluster % len(CLUSTER_COLORS)],
                )
            )
        chart = plotChart(
            self.scene, series, "KaplanMeier",
            title=f"Kaplan–Meier by cluster, log-rank p = {survival.logRankPValue:.3g}",
            xAxisTitle=config.timeColumn, yAxisTitle="Survival probability",
        )
        progress(1.0, f"Log-rank p = {survival.logRankPValue:.3g}")
        return OutcomeResult(table=table, chart=chart, survival=survival)


def _indexedByPatient(frame: pd.DataFrame, patientColumn: str, what: str) -> pd.DataFrame:
    if patientColumn not in frame.columns:
        raise InputError(
            f"The {what} table has no patient column '{patientColumn}'; it has: "
            f"{', '.join(map(str, frame.columns[:10]))}. Set patientColumn to the right name."
        )
    duplicated = frame[patientColumn][frame[patientColumn].duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"The {what} table lists patient(s) more than once: {', '.join(map(str, duplicated[:5]))}; keep one row per patient."
        )
    return frame.set_index(patientColumn)
