"""Survival analysis on table nodes: Kaplan–Meier, Cox and patient clusters as table and plot nodes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.survivalPlots import kaplanMeierChart
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.cohortTable import joinCohort
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.cox import fitCox
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult, kaplanMeier
from VirtualBiopsy.outcome.patientClusters import clusterCohort
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Study folder of the outputs under the cohort or patient item of the subject hierarchy.
OUTCOME_STUDY = "Outcome"


@dataclass
class SurvivalNodes:
    """What a :class:`SurvivalLogic` call made.

    :ivar tables: table nodes by role (``km``, ``logrank``, ``median``, ``coefficients``, ``cindex``, …).
    :ivar chart: the Kaplan–Meier plot chart node.
    :ivar result: the analysis behind them (``KaplanMeierResult``, ``CoxResult`` or ``PatientClusters``).
    :ivar nodes: every node made, in the order made.
    :ivar kaplanMeier: the Kaplan–Meier curves and log-rank tests that the chart and the ``km``, ``logrank``
        and ``median`` tables hold.
    """

    tables: dict
    chart: object
    result: object
    nodes: list = field(default_factory=list)
    kaplanMeier: KaplanMeierResult | None = None

    @property
    def logRankPValue(self) -> float:
        """p-value of the overall log-rank test of the chart's groups; NaN when undefined (the reason is in
        the ``logrank`` table's ``note``)."""
        return self.kaplanMeier.logRankPValue if self.kaplanMeier is not None else float("nan")


class SurvivalLogic:
    """Kaplan–Meier curves, Cox models and patient clusters of a cohort, from and to table nodes.

    :param scene: the MRML scene that holds the input tables and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def kaplanMeier(
        self, table, config: SurvivalConfig | None = None, *, subject: str | None = None, name: str = "KaplanMeier"
    ) -> SurvivalNodes:
        """Kaplan–Meier curves (per ``config.groupColumn``) of a clinical table node with log-rank tests.

        :param config: the time, event and group columns (default: :class:`SurvivalConfig`'s).
        :param subject: cohort or patient name to put the outputs under (study ``Outcome``); none if None.
        :returns: tables ``km``, ``logrank``, ``median`` and the chart.
        :raises InputError: for absent columns or invalid survival data.
        """
        config = config or SurvivalConfig()
        timeColumn, eventColumn, groupColumn = config.timeColumn, config.eventColumn, config.groupColumn or None
        frame = tableNodeToDataFrame(table)
        _requireColumns(frame, [timeColumn, eventColumn] + ([groupColumn] if groupColumn else []), table.GetName())
        result = kaplanMeier(frame[timeColumn], frame[eventColumn], frame[groupColumn] if groupColumn else None)
        title = f"Kaplan–Meier by {groupColumn}" if groupColumn else "Kaplan–Meier"
        return self._kaplanMeierNodes(result, name, title, timeColumn, {}, result, subject)

    def cox(
        self,
        table,
        config: SurvivalConfig,
        *,
        subject: str | None = None,
        name: str = "Cox",
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> SurvivalNodes:
        """A Cox model of a clinical table node on ``config.covariates``; risk groups of its prognostic index as
        Kaplan–Meier curves.

        :param config: the columns (time, event, patient, covariates), the penalty, the risk split and the
            C-index bootstrap.
        :returns: tables ``coefficients``, ``cindex``, ``phTest``, ``riskGroups``, ``km``, ``logrank``,
            ``median`` (of the risk groups) and the chart.
        :raises InputError: for no covariates, absent columns or invalid survival data.
        """
        if not config.covariates:
            raise InputError("SurvivalConfig.covariates is empty; name the covariate columns of the Cox model.")
        timeColumn, eventColumn, patientColumn = config.timeColumn, config.eventColumn, config.patientColumn
        frame = tableNodeToDataFrame(table)
        _requireColumns(frame, [timeColumn, eventColumn, *config.covariates], table.GetName())
        if patientColumn in frame.columns:
            frame = frame.set_index(patientColumn)
        result = fitCox(
            frame[list(config.covariates)],
            frame[timeColumn],
            frame[eventColumn],
            penalizer=config.penalizer,
            l1Ratio=config.l1Ratio,
            riskPercentile=config.riskPercentile,
            bootstrap=config.cindexBootstrap,
            seed=config.randomSeed,
            progress=progress,
            cancel=cancel,
        )
        risk = pd.DataFrame(
            {
                patientColumn: frame.index.astype(str),
                "prognostic_index": result.prognosticIndex.to_numpy(),
                "risk_group": result.riskGroups.to_numpy(),
            }
        )
        extra = {
            "coefficients": result.coefficients,
            "cindex": result.concordance,
            "phTest": result.phTest,
            "riskGroups": risk,
        }
        title = f"Cox risk groups (split at the {config.riskPercentile:g}th percentile)"
        return self._kaplanMeierNodes(result.riskKaplanMeier, name, title, timeColumn, extra, result, subject)

    def cluster(
        self,
        featuresTable,
        clinicalTable,
        config: OutcomeConfig,
        *,
        outputTable=None,
        subject: str | None = None,
        name: str = "Clusters",
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> SurvivalNodes:
        """k-means clusters (``config.numberOfClusters``, seed ``config.randomSeed``) of the patients of a features
        table node and their survival (``config``'s time and event columns of ``clinicalTable``).

        :param outputTable: table node that receives the ``clusters`` table (its columns are replaced); a new
            one is made if None.
        :returns: tables ``clusters`` (patient, cluster, silhouette), ``km``, ``logrank``, ``median`` and the chart.
        :raises InputError: for tables that do not list the same patients, absent columns, invalid survival
            data or unusable features (see :func:`~VirtualBiopsy.outcome.cohortTable.joinCohort`).
        """
        progress = progress or noProgress
        progress(0.0, "Clustering patients")
        cohort = joinCohort(
            tableNodeToDataFrame(featuresTable),
            tableNodeToDataFrame(clinicalTable),
            config.patientColumn,
            config.timeColumn,
            config.eventColumn,
        )
        clusters = clusterCohort(cohort.features, config.numberOfClusters, config.randomSeed, cohort.time, cohort.event)
        if cancel:
            cancel.raiseIfCancelled()
        progress(0.6, "Drawing Kaplan–Meier curves")
        assert clusters.survival is not None  # the cohort table always has times and events
        extra = {"clusters": clusters.table().reset_index()}
        silhouette = f"silhouette {clusters.meanSilhouette:.2f}" if not clusters.note else "silhouette undefined"
        title = f"Kaplan–Meier by cluster (k = {config.numberOfClusters}, {silhouette})"
        nodes = self._kaplanMeierNodes(
            clusters.survival,
            name,
            title,
            config.timeColumn,
            extra,
            clusters,
            subject,
            {"clusters": outputTable} if outputTable else None,
        )
        progress(1.0, "Done")
        return nodes

    def _kaplanMeierNodes(
        self,
        km: KaplanMeierResult,
        name: str,
        title: str,
        timeLabel: str,
        extra: dict,
        result: object,
        subject: str | None,
        outputTables: dict | None = None,
    ) -> SurvivalNodes:
        overall = km.logRank.iloc[0]
        if len(km.groups) > 1:
            title += f", log-rank p = {overall['p']:.3g}" if pd.notna(overall["p"]) else f", log-rank {overall['note']}"
        frames = {**extra, "km": km.curves, "logrank": km.logRank, "median": km.summary}
        outputTables = outputTables or {}
        tables = {}
        for role, frame in frames.items():
            given = outputTables.get(role)  # filled in place, keeping its name
            tables[role] = dataFrameToTableNode(
                frame.reset_index(drop=True),
                self.scene,
                given.GetName() if given else f"{name} {role}",
                tableNode=given,
            )
        chart, made = kaplanMeierChart(self.scene, km.curves, km.censoring, f"{name} Kaplan–Meier", title, timeLabel)
        nodes = [*tables.values(), *made]
        if subject:
            placeInSubjectHierarchy(self.scene, nodes, subject, OUTCOME_STUDY)
        logger.info("%s: %d table(s) and a chart with %d group(s)", name, len(tables), len(km.groups))
        return SurvivalNodes(tables=tables, chart=chart, result=result, nodes=nodes, kaplanMeier=km)


def _requireColumns(frame: pd.DataFrame, columns: Sequence[str], tableName: str) -> None:
    absent = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if absent:
        raise InputError(
            f"Table '{tableName}' has no column(s) {', '.join(map(repr, absent))}; it has: "
            f"{', '.join(map(str, frame.columns[:20]))}. Give the right column names."
        )
