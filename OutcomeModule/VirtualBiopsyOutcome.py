"""Virtual Biopsy Outcome: radiomics features of a segment, survival of patient clusters, and
exploration of a cohort's features against a two-class outcome (3D Slicer module)."""

import pathlib
import re
import sys
from typing import Annotated

import slicer
from slicer import vtkMRMLPlotChartNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import Choice, Minimum, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
)

# From a source checkout ("Additional module paths"), the shared packages sit one
# folder up; in a built extension they are on Slicer's Python path already.
_CHECKOUT = pathlib.Path(__file__).resolve().parents[1]
if (_CHECKOUT / "VirtualBiopsy").is_dir() and str(_CHECKOUT) not in sys.path:
    sys.path.append(str(_CHECKOUT))

from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.exploration.config import IMPUTATIONS, MAXIMUM_DISTRIBUTION_FEATURES, ExplorationConfig
from VirtualBiopsy.extract.radiomicsSettings import presetNames
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.deep.config import GRADCAM_METHODS, DeepOutcomeConfig
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import VirtualBiopsyModuleWidget, configFromParameterNode, describeModule, workerRunner
from VirtualBiopsyWidgets.outcomeModelSections import (
    ClassifierSection,
    DeepLearningSection,
    PatientSummarySection,
    SurvivalSection,
)
from VirtualBiopsyWidgets.outcomeSections import CohortSection, ExplorationSection, FeaturesSection

#: Defaults of the parameter node come from the config dataclasses.
EXTRACTION_DEFAULTS = ExtractionConfig()
OUTCOME_DEFAULTS = OutcomeConfig()
EXPLORATION_DEFAULTS = ExplorationConfig()
SURVIVAL_DEFAULTS = SurvivalConfig()
CLASSIFIER_DEFAULTS = ClassifierPanelConfig()
DEEP_DEFAULTS = DeepOutcomeConfig()
SUMMARY_DEFAULTS = PatientSummaryConfig()

#: The shipped radiomics presets (``VirtualBiopsy/resources/presets/radiomics``).
RADIOMICS_PRESETS = tuple(presetNames())


class VirtualBiopsyOutcome(ScriptedLoadableModule):
    """Module description (see ``slicer.ScriptedLoadableModule``)."""

    def __init__(self, parent) -> None:
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(
            self.parent,
            _("Virtual Biopsy Outcome"),
            _(
                "Features: computes pyradiomics features of segments on one or more volumes into a table, "
                "with a radiomics preset or a pyradiomics parameter file. "
                "Cohort outcome: groups the patients of a features table by k-means and compares "
                "the survival of the groups (Kaplan-Meier curves, log-rank test). "
                "Feature exploration: compares the features of the same tables between two classes of an outcome "
                "column (missing values, statistics, Mann-Whitney U with Bonferroni correction, ROC AUC, Spearman "
                "correlation, correlation with tumour volume) and writes tables and figures into a new folder. "
                "Survival: Kaplan-Meier curves (step plots with log-rank and median tables) of a clinical table, "
                "and a Cox model (coefficients, C-index, risk-group curves). "
                "Classifiers: cross-validated comparison of logistic regression, random forest, SVM and gradient "
                "boosting (performance table, ROC chart); a saved model's Shapley values with the patient's top "
                "contributions as a bar chart. "
                "Deep learning: the Grad-CAM map of a trained 3D CNN as a coloured overlay on the image, under "
                "the patient in the subject hierarchy. "
                "Patient summary: the prediction and confidence of the saved classifier, the patient's percentile "
                "in the cohort, the top Shapley contributions and a Grad-CAM thumbnail."
            ),
            dependencies=["Tables", "Plots"],
        )


@parameterNodeWrapper
class VirtualBiopsyOutcomeParameterNode:
    """The settings of the section configs (``ExtractionConfig``, ``OutcomeConfig``,
    ``ExplorationConfig``, ``SurvivalConfig``, ``ClassifierPanelConfig``, ``DeepOutcomeConfig``,
    ``PatientSummaryConfig``), field for field (their names do not collide), plus the input and
    output nodes of the sections. Exploration, Survival and Classifiers use the patient, time and
    event columns and the tables of the cohort section.
    """

    volume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    featuresOutputTable: vtkMRMLTableNode
    preset: Annotated[str, Choice(RADIOMICS_PRESETS)] = EXTRACTION_DEFAULTS.preset
    parameterFile: str = EXTRACTION_DEFAULTS.parameterFile
    featureClasses: list[str] = list(EXTRACTION_DEFAULTS.featureClasses)
    binWidth: Annotated[float, Minimum(0.0)] = EXTRACTION_DEFAULTS.binWidth
    resampledPixelSpacing: list[float] | None = EXTRACTION_DEFAULTS.resampledPixelSpacing
    minimumRoiVoxels: Annotated[int, Minimum(1)] = EXTRACTION_DEFAULTS.minimumRoiVoxels
    resampleMaskToImage: bool = EXTRACTION_DEFAULTS.resampleMaskToImage
    cropToRoi: bool = EXTRACTION_DEFAULTS.cropToRoi

    featuresTable: vtkMRMLTableNode
    clinicalTable: vtkMRMLTableNode
    outcomeTable: vtkMRMLTableNode
    outcomeChart: vtkMRMLPlotChartNode
    numberOfClusters: Annotated[int, WithinRange(2, 20)] = OUTCOME_DEFAULTS.numberOfClusters
    randomSeed: Annotated[int, Minimum(0)] = OUTCOME_DEFAULTS.randomSeed
    patientColumn: str = OUTCOME_DEFAULTS.patientColumn
    timeColumn: str = OUTCOME_DEFAULTS.timeColumn
    eventColumn: str = OUTCOME_DEFAULTS.eventColumn

    explorationTable: vtkMRMLTableNode
    outcomeColumn: str = EXPLORATION_DEFAULTS.outcomeColumn
    positiveClass: str = EXPLORATION_DEFAULTS.positiveClass
    maxMissingFraction: Annotated[float, WithinRange(0.0, 1.0)] = EXPLORATION_DEFAULTS.maxMissingFraction
    imputation: Annotated[str, Choice(IMPUTATIONS)] = EXPLORATION_DEFAULTS.imputation
    volumeColumn: str = EXPLORATION_DEFAULTS.volumeColumn
    volumeThreshold: Annotated[float, WithinRange(0.0, 1.0)] = EXPLORATION_DEFAULTS.volumeThreshold
    alpha: Annotated[float, WithinRange(0.0, 1.0)] = EXPLORATION_DEFAULTS.alpha
    distributionFeatures: Annotated[int, WithinRange(1, MAXIMUM_DISTRIBUTION_FEATURES)] = (
        EXPLORATION_DEFAULTS.distributionFeatures
    )
    outputFolder: str = EXPLORATION_DEFAULTS.outputFolder

    survivalTable: vtkMRMLTableNode
    survivalChart: vtkMRMLPlotChartNode
    coxChart: vtkMRMLPlotChartNode
    groupColumn: str = SURVIVAL_DEFAULTS.groupColumn
    covariates: list[str] = list(SURVIVAL_DEFAULTS.covariates)
    penalizer: Annotated[float, Minimum(0.0)] = SURVIVAL_DEFAULTS.penalizer
    riskPercentile: Annotated[float, WithinRange(1.0, 99.0)] = SURVIVAL_DEFAULTS.riskPercentile
    cindexBootstrap: Annotated[int, WithinRange(0, 100000)] = SURVIVAL_DEFAULTS.cindexBootstrap

    performanceTable: vtkMRMLTableNode
    rocChart: vtkMRMLPlotChartNode
    shapTable: vtkMRMLTableNode
    contributionsChart: vtkMRMLPlotChartNode
    targetColumn: str = CLASSIFIER_DEFAULTS.targetColumn
    targetPositiveClass: str = CLASSIFIER_DEFAULTS.targetPositiveClass
    classifierModels: list[str] = list(CLASSIFIER_DEFAULTS.classifierModels)
    folds: Annotated[int, WithinRange(2, 100)] = CLASSIFIER_DEFAULTS.folds
    repeats: Annotated[int, WithinRange(1, 1000)] = CLASSIFIER_DEFAULTS.repeats
    classifierModelFolder: str = CLASSIFIER_DEFAULTS.classifierModelFolder
    shapBackgroundSize: Annotated[int, WithinRange(1, 10000)] = CLASSIFIER_DEFAULTS.shapBackgroundSize

    deepImage: vtkMRMLScalarVolumeNode
    deepSegmentation: vtkMRMLSegmentationNode
    gradCamVolume: vtkMRMLScalarVolumeNode
    deepModel: str = DEEP_DEFAULTS.deepModel
    gradCamMethod: Annotated[str, Choice(GRADCAM_METHODS)] = DEEP_DEFAULTS.gradCamMethod
    gradCamClass: str = DEEP_DEFAULTS.gradCamClass
    gradCamLayer: str = DEEP_DEFAULTS.gradCamLayer
    overlayOpacity: Annotated[float, WithinRange(0.0, 1.0)] = DEEP_DEFAULTS.overlayOpacity

    summaryPatient: str = SUMMARY_DEFAULTS.summaryPatient
    topContributions: Annotated[int, WithinRange(1, 50)] = SUMMARY_DEFAULTS.topContributions


class VirtualBiopsyOutcomeWidget(VirtualBiopsyModuleWidget):
    """Panel of seven sections (Features, Cohort outcome, Feature exploration, Survival, Classifiers,
    Deep learning, Patient summary); their glue lives in ``VirtualBiopsyWidgets.outcome*Sections``."""

    def createLogic(self) -> "VirtualBiopsyOutcomeLogic":
        return VirtualBiopsyOutcomeLogic()

    def setupConnections(self) -> None:
        self.sections = [
            section(self) for section in (FeaturesSection, CohortSection, ExplorationSection, SurvivalSection,
                                          ClassifierSection, DeepLearningSection, PatientSummarySection)
        ]
        for section in self.sections:
            section.setup()

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyOutcomeParameterNode) -> None:
        if not parameterNode.volume:
            parameterNode.volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        if not parameterNode.segmentation:
            parameterNode.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")

    def updateGuiFromParameterNode(self) -> None:
        if self._parameterNode:
            for section in self.sections:
                section.updateGui()

    def updateButtons(self) -> None:
        if self._parameterNode:
            for section in self.sections:
                section.updateButtons(not self.isRunning)


class VirtualBiopsyOutcomeLogic(ScriptedLoadableModuleLogic):
    """Runs the library's outcome logics (extraction, clusters, exploration, survival, classifiers,
    Grad-CAM, patient summary) on the settings of a parameter node and stores their outputs in it.
    """

    def getParameterNode(self) -> VirtualBiopsyOutcomeParameterNode:
        return VirtualBiopsyOutcomeParameterNode(super().getParameterNode())

    def extractFeatures(self, parameterNode, progress: ProgressCallback | None = None,
                        cancel: CancelToken | None = None, additionalVolumes: list | None = None,
                        segmentIds: list[str] | None = None) -> vtkMRMLTableNode:
        """Features of segments ``segmentIds`` (default all) of ``parameterNode.segmentation`` on
        ``parameterNode.volume`` into ``featuresOutputTable`` (created when empty).

        :param additionalVolumes: more sequences; features are then prefixed by each volume's name.
        """
        from VirtualBiopsy.extract.logic import ExtractionLogic

        config = configFromParameterNode(ExtractionConfig, parameterNode)
        volumes = parameterNode.volume
        others = [node for node in additionalVolumes or [] if node is not parameterNode.volume]
        if others:
            volumes = {_sequenceName(node): node for node in [parameterNode.volume, *others]}
        table = ExtractionLogic(slicer.mrmlScene).run(
            volumes, parameterNode.segmentation, config=config, segmentIds=segmentIds,
            outputTable=parameterNode.featuresOutputTable, progress=progress, cancel=cancel)
        parameterNode.featuresOutputTable = table
        return table

    def analyzeCohort(self, parameterNode, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None):
        """k-means clusters of ``featuresTable`` and their survival: the library's ``SurvivalNodes``."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(OutcomeConfig, parameterNode)
        result = SurvivalLogic(slicer.mrmlScene).cluster(
            parameterNode.featuresTable, parameterNode.clinicalTable, config.timeColumn, config.eventColumn,
            config.numberOfClusters, config.randomSeed, config.patientColumn,
            outputTable=parameterNode.outcomeTable, progress=progress, cancel=cancel)
        parameterNode.outcomeTable, parameterNode.outcomeChart = result.tables["clusters"], result.chart
        return result

    def exploreFeatures(self, parameterNode, progress: ProgressCallback | None = None,
                        cancel: CancelToken | None = None):
        """Features against the two classes of ``outcomeColumn``: the library's ``ExplorationNodes``."""
        from VirtualBiopsy.extract.exploration.logic import ExplorationLogic

        config = configFromParameterNode(ExplorationConfig, parameterNode)
        result = ExplorationLogic(slicer.mrmlScene).run(
            parameterNode.featuresTable, parameterNode.clinicalTable, config,
            patientColumn=parameterNode.patientColumn, progress=progress, cancel=cancel)
        parameterNode.explorationTable = result.univariate
        return result

    def kaplanMeier(self, parameterNode, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None):
        """Kaplan–Meier curves of ``survivalTable`` (per ``groupColumn``): the library's ``SurvivalNodes``."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(SurvivalConfig, parameterNode)
        table = parameterNode.survivalTable
        nodes = SurvivalLogic(slicer.mrmlScene).kaplanMeier(
            table, parameterNode.timeColumn, parameterNode.eventColumn, config.groupColumn or None,
            subject=table.GetName(), name=f"{table.GetName()} KM")
        parameterNode.survivalChart = nodes.chart
        return nodes

    def cox(self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """A Cox model of ``survivalTable`` on ``covariates`` with risk-group curves (``SurvivalNodes``)."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(SurvivalConfig, parameterNode)
        table = parameterNode.survivalTable
        nodes = SurvivalLogic(slicer.mrmlScene).cox(
            table, parameterNode.timeColumn, parameterNode.eventColumn, config.covariates, config.penalizer,
            config.riskPercentile, config.cindexBootstrap, parameterNode.randomSeed, parameterNode.patientColumn,
            subject=table.GetName(), name=f"{table.GetName()} Cox", progress=progress, cancel=cancel)
        parameterNode.coxChart = nodes.chart
        return nodes

    @staticmethod
    def concordanceText(nodes) -> str:
        """Harrell's C with its bootstrap interval (or why it is undefined) of a Cox result."""
        row = nodes.result.concordance.iloc[0]
        if row["cindex"] != row["cindex"]:
            return _("C-index undefined: {note}").format(note=row["note"])
        return _("C-index {c:.3f} (95% CI {low:.3f}-{high:.3f})").format(
            c=row["cindex"], low=row["ci_lower"], high=row["ci_upper"])

    def compareClassifiers(self, parameterNode, progress: ProgressCallback | None = None,
                           cancel: CancelToken | None = None):
        """Cross-validated classifiers on the cohort tables: the library's ``ClassificationResult``."""
        from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
        from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic
        from VirtualBiopsy.outcome.survivalLogic import OUTCOME_STUDY

        panel = configFromParameterNode(ClassifierPanelConfig, parameterNode)
        config = panel.classificationConfig(parameterNode.patientColumn, parameterNode.randomSeed)
        result = ClassificationLogic(slicer.mrmlScene).run(
            parameterNode.featuresTable, parameterNode.clinicalTable, config, progress, cancel)
        outputs = [result.performanceTable, result.rocChart, *result.rocTables.values()]
        placeInSubjectHierarchy(slicer.mrmlScene, outputs, parameterNode.featuresTable.GetName(), OUTCOME_STUDY)
        parameterNode.performanceTable, parameterNode.rocChart = result.performanceTable, result.rocChart
        return result

    def explainPatient(self, parameterNode, progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None):
        """Shapley values of the saved classifier on ``featuresTable`` and the bar chart of
        ``summaryPatient``'s largest ones.

        :returns: ``(ExplanationResult, chartNode)``.
        """
        from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
        from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic
        from VirtualBiopsy.outcome.patientSummaryLogic import PatientSummaryLogic
        from VirtualBiopsy.outcome.survivalLogic import OUTCOME_STUDY

        panel = configFromParameterNode(ClassifierPanelConfig, parameterNode)
        summaryConfig = configFromParameterNode(PatientSummaryConfig, parameterNode)
        explanation = ClassificationLogic(slicer.mrmlScene).explain(
            panel.classifierModelFolder, parameterNode.featuresTable, panel.shapBackgroundSize,
            parameterNode.randomSeed, parameterNode.patientColumn, progress, cancel)
        summaryLogic = PatientSummaryLogic(slicer.mrmlScene)
        summary = summaryLogic.summarize(panel.classifierModelFolder, parameterNode.featuresTable,
                                         summaryConfig.summaryPatient, explanation.shapTable, None,
                                         summaryConfig.topContributions, parameterNode.patientColumn)
        _table, chart = summaryLogic.contributionsChart(summary)
        placeInSubjectHierarchy(slicer.mrmlScene, [explanation.shapTable, explanation.importanceTable],
                                parameterNode.featuresTable.GetName(), OUTCOME_STUDY)
        parameterNode.shapTable, parameterNode.contributionsChart = explanation.shapTable, chart
        return explanation, chart

    def gradCam(self, parameterNode, additionalVolumes: list | None = None,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """The Grad-CAM map of ``deepModel`` for the patient, shown over ``deepImage``.

        A one-sequence model takes ``deepImage``; otherwise volumes are matched to the model's
        sequences by name. :returns: ``(node or None, GradCamResult)``.
        """
        from VirtualBiopsy.outcome.deep.logic import DeepOutcomeLogic
        from VirtualBiopsy.outcome.deep.modelFolder import resolveModel

        config = configFromParameterNode(DeepOutcomeConfig, parameterNode)
        entry, _root = resolveModel(config.deepModel)  # no torch here: the network runs in a worker
        channels = [modelInput.sequence for modelInput in sorted(entry.inputs, key=lambda item: item.channel)]
        volumes = [parameterNode.deepImage, *[n for n in additionalVolumes or [] if n is not parameterNode.deepImage]]
        images = ({channels[0]: volumes[0]} if len(channels) == 1
                  else {_sequenceName(node): node for node in volumes})
        node, result = DeepOutcomeLogic(slicer.mrmlScene).gradCamNodeInWorker(
            config.deepModel, channels, images, parameterNode.deepSegmentation, config.gradCamMethod,
            config.classIndex(), config.gradCamLayer or None, patient=parameterNode.summaryPatient or None,
            runner=workerRunner(), progress=progress, cancel=cancel)
        if node is not None:
            parameterNode.gradCamVolume = node
            self.setOverlayOpacity(config.overlayOpacity)
        return node, result

    def setOverlayOpacity(self, opacity: float) -> None:
        """Opacity of the Grad-CAM map in the slice views that show it as foreground (other views, and all
        views while there is no map, are left alone: binding the slider when the module opens calls this)."""
        gradCamVolume = self.getParameterNode().gradCamVolume
        if gradCamVolume is None:
            return
        for composite in slicer.util.getNodesByClass("vtkMRMLSliceCompositeNode"):
            if composite.GetForegroundVolumeID() == gradCamVolume.GetID():
                composite.SetForegroundOpacity(float(opacity))

    def summarizePatient(self, parameterNode, progress: ProgressCallback | None = None,
                         cancel: CancelToken | None = None):
        """The library's ``PatientSummary`` of ``summaryPatient`` (with the Shapley table and the
        Grad-CAM map of the parameter node when they are set)."""
        from VirtualBiopsy.outcome.patientSummaryLogic import PatientSummaryLogic

        panel = configFromParameterNode(ClassifierPanelConfig, parameterNode)
        config = configFromParameterNode(PatientSummaryConfig, parameterNode)
        return PatientSummaryLogic(slicer.mrmlScene).summarize(
            panel.classifierModelFolder, parameterNode.featuresTable, config.summaryPatient,
            parameterNode.shapTable, parameterNode.gradCamVolume, config.topContributions,
            parameterNode.patientColumn)


def _sequenceName(volumeNode) -> str:
    """A volume's name as a feature prefix: letters, digits, '.' and '-' only."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", volumeNode.GetName()).strip("-") or volumeNode.GetID()


class VirtualBiopsyOutcomeTest(ScriptedLoadableModuleTest):
    """Self-test of every section on synthetic data (bodies in ``VirtualBiopsyWidgets.outcomeSelfTests``)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        from VirtualBiopsyWidgets import outcomeSelfTests
        from VirtualBiopsyWidgets.requirements import ensureForSelfTest

        for actions, test in outcomeSelfTests.SELF_TESTS:
            ensureForSelfTest(__file__, "VirtualBiopsyOutcome", actions)
            self.setUp()
            test(self, VirtualBiopsyOutcomeLogic())
