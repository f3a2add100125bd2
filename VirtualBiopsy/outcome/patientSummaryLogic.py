"""A patient's outcome summary from the nodes of a scene: a saved classifier's scores of a features
table node, its Shapley table node and a Grad-CAM volume node; the top contributions as a bar chart."""

from __future__ import annotations

import logging
import os

import pandas as pd
import SimpleITK as sitk
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.deep.config import SOURCE_ATTRIBUTE
from VirtualBiopsy.outcome.deep.thumbnail import gradCamThumbnail
from VirtualBiopsy.outcome.patientSummary import (
    SCORE_KINDS,
    PatientSummary,
    summarizePatient,
)
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.survivalLogic import OUTCOME_STUDY

logger = logging.getLogger(__name__)


class PatientSummaryLogic:
    """Builds :class:`~VirtualBiopsy.outcome.patientSummary.PatientSummary` objects from nodes of ``scene``."""

    def __init__(self, scene) -> None:
        if scene is None:
            raise InputError("PatientSummaryLogic needs a scene; pass the scene that holds the nodes.")
        self.scene = scene

    def summarize(
        self, model, featuresTable, config: PatientSummaryConfig, *, shapTable=None, gradCamVolume=None
    ) -> PatientSummary:
        """Summarize ``config.summaryPatient`` with the saved classifier ``model`` (a ``SavedClassifier`` or its
        folder): its ``config.topContributions`` largest Shapley values, patients named by ``config.patientColumn``.

        :param featuresTable: the cohort's features table node (the classifier scores every patient).
        :param shapTable: the classifier's Shapley table node (``ClassificationLogic.explain``), optional.
        :param gradCamVolume: a map made by ``DeepOutcomeLogic.gradCamNode`` for the patient, optional.
        :raises InputError: for an unknown patient, a table that does not match the model, or a map
            without its source volume.
        """
        from VirtualBiopsy.outcome.classification.artifact import (
            SavedClassifier,
            loadClassifier,
        )
        from VirtualBiopsy.outcome.classification.cohortInput import featureColumns

        if not isinstance(model, SavedClassifier):
            model = loadClassifier(os.fspath(model))
        patientColumn = config.patientColumn
        features = featureColumns(tableNodeToDataFrame(featuresTable), patientColumn)
        scores = pd.Series(model.score(features), index=features.index.astype(str))
        target = model.target
        threshold = model.card.get("threshold")
        if threshold is None:
            threshold = 0.5 if SCORE_KINDS[model.name] == "probability" else 0.0
        shap = tableNodeToDataFrame(shapTable) if shapTable is not None else None
        thumbnail = self.thumbnail(gradCamVolume) if gradCamVolume is not None else None
        return summarizePatient(
            config.summaryPatient,
            scores,
            float(threshold),
            target.positiveClass,
            target.negativeLabel,
            SCORE_KINDS[model.name],
            model.explainedQuantity,
            shap,
            features,
            config.topContributions,
            patientColumn,
            thumbnail,
        )

    def thumbnail(self, gradCamNode, size: int = 192) -> bytes:
        """A PNG of the map over the volume it was computed on (its ``SOURCE_ATTRIBUTE``)."""
        sourceId = gradCamNode.GetAttribute(SOURCE_ATTRIBUTE)
        source = self.scene.GetNodeByID(sourceId) if sourceId else None
        if source is None:
            raise InputError(
                f"Grad-CAM volume '{gradCamNode.GetName()}' does not name the volume it was computed "
                f"on (attribute {SOURCE_ATTRIBUTE}); compute the map again in this scene."
            )
        image, camMap = volumeNodeToImage(source), volumeNodeToImage(gradCamNode)
        spacing = image.GetSpacing()
        return gradCamThumbnail(
            sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(camMap), size=size, aspect=spacing[1] / spacing[0]
        )

    def contributionsChart(self, summary: PatientSummary, name: str | None = None):
        """A table node (``rank``, ``feature``, ``shap``) and a bar chart node of the summary's
        contributions, placed under the patient (study ``Outcome``) in the subject hierarchy.

        :returns: ``(tableNode, chartNode)``.
        :raises InputError: when the summary has no contributions (no Shapley table was given).
        """
        if not summary.contributions:
            raise InputError(
                f"The summary of '{summary.patient}' has no Shapley contributions; explain the "
                "classifier first (Explain patient)."
            )
        name = name or f"{summary.patient} SHAP"
        frame = pd.DataFrame(
            {
                "rank": range(1, len(summary.contributions) + 1),
                "feature": [c.feature for c in summary.contributions],
                "shap": [c.shapValue for c in summary.contributions],
            }
        )
        table = dataFrameToTableNode(frame, self.scene, f"{name} contributions")
        series = plotSeriesFromTable(table, "rank", "shap", f"{name} contributions")
        series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
        series.SetLabelColumnName("feature")
        chart = plotChart(
            self.scene,
            [series],
            f"{name} chart",
            title=f"Top Shapley contributions: {summary.patient}",
            xAxisTitle="feature (rank)",
            yAxisTitle=f"Shapley value ({summary.quantity})",
        )
        placeInSubjectHierarchy(self.scene, [table, chart], summary.patient, OUTCOME_STUDY)
        return table, chart
