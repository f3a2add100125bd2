"""Diagnosis classifiers on table nodes: comparison table, ROC chart and Shapley-value table."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.classification.artifact import (
    SavedClassifier,
    loadClassifier,
)
from VirtualBiopsy.outcome.classification.cohortInput import (
    classificationInput,
    featureColumns,
)
from VirtualBiopsy.outcome.classification.comparison import (
    ClassifierComparison,
    compareClassifiers,
)
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.explanation import (
    ClassifierExplanation,
    explainClassifier,
)
from VirtualBiopsy.outcome.classification.figures import COLORS
from VirtualBiopsy.outcome.classification.models import MODEL_TITLES
from VirtualBiopsy.outcome.classification.outputs import rocTable, writeComparison
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.survivalLogic import OUTCOME_STUDY
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


@dataclass
class ClassificationResult:
    """What :meth:`ClassificationLogic.run` produced.

    :ivar performanceTable: table node of the model comparison (one row per model).
    :ivar rocChart: plot chart node with one mean ROC series per model.
    :ivar rocTables: per model, the table node its series plots (``fpr``, ``tpr_mean``, ``tpr_sd``).
    :ivar comparison: the same results as DataFrames, with the refitted models.
    """

    performanceTable: object
    rocChart: object
    rocTables: dict
    comparison: ClassifierComparison


@dataclass
class ExplanationResult:
    """What :meth:`ClassificationLogic.explain` produced.

    :ivar shapTable: ``patient``, one column per feature, ``base_value``, ``model_output``.
    :ivar importanceTable: permutation importance per feature.
    """

    shapTable: object
    importanceTable: object
    explanation: ClassifierExplanation


class ClassificationLogic:
    """Compare diagnosis classifiers on a cohort and explain a saved one.

    :param scene: the MRML scene that holds the input tables and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def run(
        self,
        featuresTable,
        clinicalTable,
        config: ClassificationConfig | None = None,
        *,
        subject: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ClassificationResult:
        """Cross-validate ``config.models`` on the features and the clinical target; add the outputs to the scene.

        :param featuresTable: one row per patient: the patient column and numeric feature columns.
        :param clinicalTable: one row per patient: the patient column and ``config.targetColumn``.
        :param subject: when given, the output nodes go under this subject (e.g. the cohort's name),
            study ``Outcome``, in the subject hierarchy.
        :raises InputError: for unusable tables (nothing is added to the scene).
        """
        config = config or ClassificationConfig()
        progress = progress or noProgress
        features, target = classificationInput(
            tableNodeToDataFrame(featuresTable), tableNodeToDataFrame(clinicalTable), config
        )
        comparison = compareClassifiers(
            features, target, config, lambda fraction, message: progress(0.95 * fraction, message), cancel
        )
        progress(0.95, "Adding the comparison table and ROC chart")
        performance = dataFrameToTableNode(comparison.performance, self.scene, "ClassifierPerformance")
        curves = rocTable(comparison)
        series, tables = [], {}
        for index, name in enumerate(comparison.validations):
            curve = curves[curves["model"] == name].drop(columns="model").reset_index(drop=True)
            tables[name] = dataFrameToTableNode(curve, self.scene, f"ROC_{name}")
            row = comparison.performance.set_index("model").loc[name]
            series.append(
                plotSeriesFromTable(
                    tables[name],
                    "fpr",
                    "tpr_mean",
                    f"{MODEL_TITLES[name]} (AUC {row.auc_mean:.2f})",
                    color=_rgb(COLORS[index % len(COLORS)]),
                )
            )
        target = comparison.target
        chart = plotChart(
            self.scene,
            series,
            "ClassifierROC",
            title=f"Cross-validated ROC: {target.positiveClass} vs {target.negativeLabel}",
            xAxisTitle="False-positive rate",
            yAxisTitle="True-positive rate",
        )
        if subject:
            placeInSubjectHierarchy(self.scene, [performance, *tables.values(), *series, chart], subject, OUTCOME_STUDY)
        progress(1.0, "Classifiers compared")
        return ClassificationResult(performance, chart, tables, comparison)

    def saveResults(self, result: ClassificationResult, folder: str | os.PathLike) -> list:
        """Write the comparison's tables, ROC figure and saved models into the new or empty ``folder``
        (all at once: see :func:`~VirtualBiopsy.outcome.classification.outputs.writeComparison`).

        :raises InputError: when ``folder`` is a file or not empty.
        """
        from VirtualBiopsy.files import stagedOutputFolder

        with stagedOutputFolder(folder, "Classification folder") as staging:
            names = [path.relative_to(staging) for path in writeComparison(result.comparison, staging)]
        return [os.path.join(folder, name) for name in names]

    def explain(
        self,
        model: SavedClassifier | str | os.PathLike | None,
        featuresTable,
        config: ClassifierPanelConfig | None = None,
        *,
        referenceTable=None,
        subject: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ExplanationResult:
        """Shapley values and permutation importance of a saved classifier on ``featuresTable``.

        :param model: a loaded classifier or its folder; ``None``: ``config.classifierModelFolder``.
        :param config: ``shapBackgroundSize`` background patients drawn with ``randomSeed``; patients named by
            ``patientColumn`` (default: :class:`ClassifierPanelConfig`'s).
        :param referenceTable: table node the background patients are drawn from (default: ``featuresTable``),
            e.g. the training cohort's features when explaining new patients.
        :param subject: when given, the tables go under this subject, study ``Outcome``.
        :raises InputError: when a table's features do not match the model, or no model is given.
        :raises ModelError: when the saved model is changed or unreadable.
        """
        config = config or ClassifierPanelConfig()
        if model is None:
            if not config.classifierModelFolder:
                raise InputError(
                    "No saved classifier was given (ClassifierPanelConfig.classifierModelFolder is "
                    "empty); choose the folder of a saved model (<out>/models/<name>)."
                )
            model = config.classifierModelFolder
        if not isinstance(model, SavedClassifier):
            model = loadClassifier(model)
        patientColumn = config.patientColumn
        features = featureColumns(tableNodeToDataFrame(featuresTable), patientColumn)
        reference = None
        if referenceTable is not None:
            reference = featureColumns(tableNodeToDataFrame(referenceTable), patientColumn)
        explanation = explainClassifier(
            model,
            features,
            config.shapBackgroundSize,
            config.randomSeed,
            progress=progress,
            cancel=cancel,
            reference=reference,
        )
        shap = dataFrameToTableNode(explanation.shapley.table(patientColumn), self.scene, f"SHAP_{model.name}")
        shap.SetAttribute("VirtualBiopsy.ExplainedQuantity", explanation.shapley.quantity)
        importance = dataFrameToTableNode(explanation.importance, self.scene, f"PermutationImportance_{model.name}")
        if subject:
            placeInSubjectHierarchy(self.scene, [shap, importance], subject, OUTCOME_STUDY)
        return ExplanationResult(shap, importance, explanation)


def _rgb(color: str) -> tuple[float, float, float]:
    return int(color[1:3], 16) / 255, int(color[3:5], 16) / 255, int(color[5:7], 16) / 255
