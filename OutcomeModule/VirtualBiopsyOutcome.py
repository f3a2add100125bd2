"""Virtual Biopsy Outcome: radiomics features of a segment, survival of patient clusters, and
exploration of a cohort's features against a two-class outcome (3D Slicer module)."""

import pathlib
import re
import sys

import slicer
from slicer import vtkMRMLTableNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import parameterNodeWrapper
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

from VirtualBiopsy.cohort.runProcess import CohortRunProcess
from VirtualBiopsy.cohort.runRequest import CohortRunRequest
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.exploration.config import ExplorationConfig
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.deep.config import DeepOutcomeConfig
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    configFromParameterNode,
    describeModule,
    slicerPythonExecutable,
    workerRunner,
)
from VirtualBiopsyWidgets.outcomeModelSections import (
    ClassifierSection,
    DeepLearningSection,
    PatientSummarySection,
    SurvivalSection,
)
from VirtualBiopsyWidgets.outcomeParameters import (
    ClassifierParameters,
    CohortParameters,
    CohortRunParameters,
    DeepLearningParameters,
    ExplorationParameters,
    FeaturesParameters,
    PatientSummaryParameters,
    SurvivalParameters,
)
from VirtualBiopsyWidgets.outcomeRunSection import CohortRunSection
from VirtualBiopsyWidgets.outcomeSections import CohortSection, ExplorationSection, FeaturesSection


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
                "in the cohort, the top Shapley contributions and a Grad-CAM thumbnail. "
                "Cohort run: checks and runs the whole pipeline (virtual-biopsy run) over a cohort manifest in the "
                "background, with per-stage progress and Cancel (resume later), then opens the HTML report, the "
                "failures and each finished patient's scene."
            ),
            dependencies=["Tables", "Plots"],
        )


@parameterNodeWrapper
class VirtualBiopsyOutcomeParameterNode:
    """One parameter pack per section (``VirtualBiopsyWidgets.outcomeParameters``), each mirroring the section's
    config dataclass field for field, then holding the section's nodes. Feature exploration, Classifiers and
    Patient summary work on the tables of ``cohort``.
    """

    features: FeaturesParameters
    cohort: CohortParameters
    exploration: ExplorationParameters
    survival: SurvivalParameters
    classifiers: ClassifierParameters
    deepLearning: DeepLearningParameters
    patientSummary: PatientSummaryParameters
    cohortRun: CohortRunParameters


class VirtualBiopsyOutcomeWidget(VirtualBiopsyModuleWidget):
    """Panel of eight sections (Features, Cohort outcome, Feature exploration, Survival, Classifiers,
    Deep learning, Patient summary, Cohort run); their glue lives in ``VirtualBiopsyWidgets.outcome*Section(s)``."""

    def createLogic(self) -> "VirtualBiopsyOutcomeLogic":
        return VirtualBiopsyOutcomeLogic()

    def setupConnections(self) -> None:
        self.sections = [
            section(self)
            for section in (
                FeaturesSection,
                CohortSection,
                ExplorationSection,
                SurvivalSection,
                ClassifierSection,
                DeepLearningSection,
                PatientSummarySection,
                CohortRunSection,
            )
        ]
        for section in self.sections:
            section.setup()

    def cleanup(self) -> None:
        for section in getattr(self, "sections", []):
            section.cleanup()
        super().cleanup()

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyOutcomeParameterNode) -> None:
        if not parameterNode.features.volume:
            parameterNode.features.volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        if not parameterNode.features.segmentation:
            parameterNode.features.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")

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

    def extractFeatures(
        self,
        parameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        additionalVolumes: list | None = None,
        segmentIds: list[str] | None = None,
    ) -> vtkMRMLTableNode:
        """Features of segments ``segmentIds`` (default all) of ``features.segmentation`` on ``features.volume``
        into ``features.outputTable`` (created when empty).

        :param additionalVolumes: more sequences; features are then prefixed by each volume's name.
        """
        from VirtualBiopsy.extract.logic import ExtractionLogic

        config = configFromParameterNode(ExtractionConfig, parameterNode.features)
        features = parameterNode.features
        volumes = features.volume
        others = [node for node in additionalVolumes or [] if node is not features.volume]
        if others:
            volumes = {_sequenceName(node): node for node in [features.volume, *others]}
        table = ExtractionLogic(slicer.mrmlScene).run(
            volumes,
            features.segmentation,
            config=config,
            segmentIds=segmentIds,
            outputTable=features.outputTable,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.features.outputTable = table
        return table

    def analyzeCohort(self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """k-means clusters of ``cohort.featuresTable`` and their survival: the library's ``SurvivalNodes``."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(OutcomeConfig, parameterNode.cohort)
        cohort = parameterNode.cohort
        result = SurvivalLogic(slicer.mrmlScene).cluster(
            cohort.featuresTable,
            cohort.clinicalTable,
            config,
            outputTable=cohort.outputTable,
            progress=progress,
            cancel=cancel,
        )
        cohort = parameterNode.cohort
        cohort.outputTable, cohort.chart = result.tables["clusters"], result.chart
        return result

    def exploreFeatures(
        self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ):
        """The cohort's features against the two classes of ``exploration.outcomeColumn``: the library's
        ``ExplorationNodes``."""
        from VirtualBiopsy.extract.exploration.logic import ExplorationLogic

        config = configFromParameterNode(ExplorationConfig, parameterNode.exploration)
        cohort = parameterNode.cohort
        result = ExplorationLogic(slicer.mrmlScene).run(
            cohort.featuresTable,
            cohort.clinicalTable,
            config,
            patientColumn=cohort.patientColumn,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.exploration.univariateTable = result.univariate
        return result

    def kaplanMeier(self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Kaplan–Meier curves of ``survival.table`` (per ``groupColumn``): the library's ``SurvivalNodes``."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(SurvivalConfig, parameterNode.survival)
        table = parameterNode.survival.table
        nodes = SurvivalLogic(slicer.mrmlScene).kaplanMeier(
            table, config, subject=table.GetName(), name=f"{table.GetName()} KM"
        )
        parameterNode.survival.kaplanMeierChart = nodes.chart
        return nodes

    def cox(self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """A Cox model of ``survival.table`` on ``covariates`` with risk-group curves (``SurvivalNodes``)."""
        from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

        config = configFromParameterNode(SurvivalConfig, parameterNode.survival)
        table = parameterNode.survival.table
        nodes = SurvivalLogic(slicer.mrmlScene).cox(
            table, config, subject=table.GetName(), name=f"{table.GetName()} Cox", progress=progress, cancel=cancel
        )
        parameterNode.survival.coxChart = nodes.chart
        return nodes

    @staticmethod
    def concordanceText(nodes) -> str:
        """Harrell's C with its bootstrap interval (or why it is undefined) of a Cox result."""
        row = nodes.result.concordance.iloc[0]
        if row["cindex"] != row["cindex"]:
            return _("C-index undefined: {note}").format(note=row["note"])
        return _("C-index {c:.3f} (95% CI {low:.3f}-{high:.3f})").format(
            c=row["cindex"], low=row["ci_lower"], high=row["ci_upper"]
        )

    def compareClassifiers(
        self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ):
        """Cross-validated classifiers on the cohort tables: the library's ``ClassificationResult``."""
        from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic

        panel = configFromParameterNode(ClassifierPanelConfig, parameterNode.classifiers)
        cohort = parameterNode.cohort
        result = ClassificationLogic(slicer.mrmlScene).run(
            cohort.featuresTable,
            cohort.clinicalTable,
            panel.classificationConfig(),
            subject=cohort.featuresTable.GetName(),
            progress=progress,
            cancel=cancel,
        )
        classifiers = parameterNode.classifiers
        classifiers.performanceTable, classifiers.rocChart = result.performanceTable, result.rocChart
        return result

    def explainPatient(
        self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ):
        """Shapley values of the saved classifier on the cohort's features table and the bar chart of
        ``patientSummary.summaryPatient``'s largest ones.

        :returns: ``(ExplanationResult, chartNode)``.
        """
        from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic
        from VirtualBiopsy.outcome.patientSummaryLogic import PatientSummaryLogic

        panel = configFromParameterNode(ClassifierPanelConfig, parameterNode.classifiers)
        summaryConfig = configFromParameterNode(PatientSummaryConfig, parameterNode.patientSummary)
        featuresTable = parameterNode.cohort.featuresTable
        explanation = ClassificationLogic(slicer.mrmlScene).explain(
            panel.classifierModelFolder,
            featuresTable,
            panel,
            subject=featuresTable.GetName(),
            progress=progress,
            cancel=cancel,
        )
        summaryLogic = PatientSummaryLogic(slicer.mrmlScene)
        summary = summaryLogic.summarize(
            panel.classifierModelFolder, featuresTable, summaryConfig, shapTable=explanation.shapTable
        )
        _table, chart = summaryLogic.contributionsChart(summary)
        classifiers = parameterNode.classifiers
        classifiers.shapTable, classifiers.contributionsChart = explanation.shapTable, chart
        return explanation, chart

    def gradCam(
        self,
        parameterNode,
        additionalVolumes: list | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """The Grad-CAM map of ``deepLearning.deepModel`` for the patient, shown over ``deepLearning.image``
        (a one-sequence model takes it; otherwise volumes are matched to the model's sequences by name).

        :returns: ``(node or None, GradCamResult)``.
        """
        from VirtualBiopsy.outcome.deep.logic import DeepOutcomeLogic

        config = configFromParameterNode(DeepOutcomeConfig, parameterNode.deepLearning)
        deep = parameterNode.deepLearning
        volumes = [deep.image, *[node for node in additionalVolumes or [] if node is not deep.image]]
        node, result = DeepOutcomeLogic(slicer.mrmlScene).gradCamNodeInWorker(
            volumes,
            deep.segmentation,
            config,
            subject=parameterNode.patientSummary.summaryPatient or None,
            runner=workerRunner(),
            progress=progress,
            cancel=cancel,
        )
        if node is not None:
            parameterNode.deepLearning.gradCamVolume = node
        return node, result

    def setOverlayOpacity(self, opacity: float) -> None:
        """Opacity of the Grad-CAM map in the slice views that show it as foreground (other views, and all
        views while there is no map, are left alone: binding the slider when the module opens calls this)."""
        gradCamVolume = self.getParameterNode().deepLearning.gradCamVolume
        if gradCamVolume is None:
            return
        for composite in slicer.util.getNodesByClass("vtkMRMLSliceCompositeNode"):
            if composite.GetForegroundVolumeID() == gradCamVolume.GetID():
                composite.SetForegroundOpacity(float(opacity))

    def summarizePatient(
        self, parameterNode, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ):
        """The library's ``PatientSummary`` of ``patientSummary.summaryPatient`` (with the Shapley table of
        Classifiers and the Grad-CAM map of Deep learning when they are set)."""
        from VirtualBiopsy.outcome.patientSummaryLogic import PatientSummaryLogic

        config = configFromParameterNode(PatientSummaryConfig, parameterNode.patientSummary)
        classifiers = parameterNode.classifiers
        return PatientSummaryLogic(slicer.mrmlScene).summarize(
            classifiers.classifierModelFolder,
            parameterNode.cohort.featuresTable,
            config,
            shapTable=classifiers.shapTable,
            gradCamVolume=parameterNode.deepLearning.gradCamVolume,
        )

    def startCohortRun(self, parameterNode, check: bool = False) -> CohortRunProcess:
        """Start ``virtual-biopsy run`` (``--check`` when ``check``) on the settings of ``cohortRun`` in a
        background PythonSlicer process, and return it (poll it; it is not waited for).

        :raises VirtualBiopsy.errors.InputError: for a setting the run would refuse (named, with the fix).
        """
        request = configFromParameterNode(CohortRunRequest, parameterNode.cohortRun)
        python = slicerPythonExecutable()
        if not python:
            raise RuntimeError("PythonSlicer executable not found")
        return CohortRunProcess.start(request, python, check=check)


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
