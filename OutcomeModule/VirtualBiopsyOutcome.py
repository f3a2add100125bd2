"""Virtual Biopsy Outcome: radiomics features of a segment, survival of patient clusters, and
exploration of a cohort's features against a two-class outcome (3D Slicer module)."""

import pathlib
import re
import sys
from typing import Annotated

import qt

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

from VirtualBiopsy.extract.config import FEATURE_CLASSES, ExtractionConfig
from VirtualBiopsy.extract.exploration.config import IMPUTATIONS, MAXIMUM_DISTRIBUTION_FEATURES, ExplorationConfig
from VirtualBiopsy.extract.radiomicsSettings import presetNames
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    addSyntheticTumourVolume,
    configFromParameterNode,
    describeModule,
)

#: Defaults of the parameter node come from the config dataclasses.
EXTRACTION_DEFAULTS = ExtractionConfig()
OUTCOME_DEFAULTS = OutcomeConfig()
EXPLORATION_DEFAULTS = ExplorationConfig()

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
                "correlation, correlation with tumour volume) and writes tables and figures into a new folder."
            ),
            dependencies=["Tables", "Plots"],
        )


@parameterNodeWrapper
class VirtualBiopsyOutcomeParameterNode:
    """The settings of :class:`VirtualBiopsy.extract.config.ExtractionConfig`,
    :class:`VirtualBiopsy.outcome.config.OutcomeConfig` and
    :class:`VirtualBiopsy.extract.exploration.config.ExplorationConfig`, field for field (their
    names do not collide), plus the input and output nodes of the sections. Feature exploration
    uses the tables and the patient column of the cohort section.
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


class VirtualBiopsyOutcomeWidget(VirtualBiopsyModuleWidget):
    """Panel: "Features" (extraction), "Cohort outcome" (clusters and survival) and "Feature
    exploration" (two-class comparison of a features table)."""

    def createLogic(self) -> "VirtualBiopsyOutcomeLogic":
        return VirtualBiopsyOutcomeLogic()

    def setupConnections(self) -> None:
        # One check box per feature class, made from the config so they cannot drift.
        self._featureClassCheckBoxes = {}
        layout = self.ui.featureClassesFrame.layout()
        for index, name in enumerate(FEATURE_CLASSES):
            checkBox = qt.QCheckBox(name)
            checkBox.toolTip = _("Compute only the checked classes ({name}: all its features); none checked: the preset's").format(name=name)
            checkBox.connect("toggled(bool)", self._onFeatureClassToggled)
            layout.addWidget(checkBox, index // 4, index % 4)
            self._featureClassCheckBoxes[name] = checkBox
        self.ui.extractButton.connect("clicked(bool)", self.onExtractButton)
        self.ui.parameterFileBrowseButton.connect("clicked(bool)", self.onBrowseParameterFile)
        self.ui.segmentSelector.multiSelection = True
        self.ui.segmentSelector.segmentationNodeSelectorVisible = False
        self.ui.outcomeButton.connect("clicked(bool)", self.onOutcomeButton)
        self.ui.exploreButton.connect("clicked(bool)", self.onExploreButton)
        self.ui.outputFolderBrowseButton.connect("clicked(bool)", self.onBrowseOutputFolder)

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyOutcomeParameterNode) -> None:
        if not parameterNode.volume:
            parameterNode.volume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        if not parameterNode.segmentation:
            parameterNode.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")

    def updateGuiFromParameterNode(self) -> None:
        if not self._parameterNode:
            return
        if self.ui.segmentSelector.currentNode() is not self._parameterNode.segmentation:
            self.ui.segmentSelector.setCurrentNode(self._parameterNode.segmentation)
        selected = set(self._parameterNode.featureClasses)
        for name, checkBox in self._featureClassCheckBoxes.items():
            wasBlocked = checkBox.blockSignals(True)
            checkBox.checked = name in selected
            checkBox.blockSignals(wasBlocked)

    def updateButtons(self) -> None:
        parameterNode = self._parameterNode
        idle = bool(parameterNode) and not self.isRunning
        canExtract = idle and bool(parameterNode.volume and parameterNode.segmentation)
        canModel = idle and bool(parameterNode.featuresTable and parameterNode.clinicalTable)
        self.ui.extractButton.enabled = canExtract
        self.ui.extractButton.toolTip = (
            _("Compute the features of the segment") if canExtract
            else _("Select a volume and a segmentation")
        )
        self.ui.outcomeButton.enabled = canModel
        self.ui.outcomeButton.toolTip = (
            _("Cluster the patients and compare their survival") if canModel
            else _("Select a features table and a clinical table")
        )
        self.ui.exploreButton.enabled = canModel
        self.ui.exploreButton.toolTip = (
            _("Compare the features between the two classes of the outcome column") if canModel
            else _("Select a features table and a clinical table in Cohort outcome")
        )

    def _onFeatureClassToggled(self, checked: bool) -> None:
        if self._parameterNode:
            self._parameterNode.featureClasses = [
                name for name, checkBox in self._featureClassCheckBoxes.items() if checkBox.checked
            ]

    def onBrowseParameterFile(self) -> None:
        """Pick a pyradiomics parameter file (or radiomics preset file)."""
        path = qt.QFileDialog.getOpenFileName(
            self.parent, _("pyradiomics parameter file"), "", _("Parameter files (*.yaml *.yml *.json)")
        )
        if path and self._parameterNode:
            self._parameterNode.parameterFile = path

    def onBrowseOutputFolder(self) -> None:
        """Pick the folder that receives the exploration's tables and figures."""
        path = qt.QFileDialog.getExistingDirectory(self.parent, _("Exploration output folder"))
        if path and self._parameterNode:
            self._parameterNode.outputFolder = path

    def onExtractButton(self) -> None:
        """Extract the features and show the table in the layout."""
        parameterNode = self._parameterNode
        additionalVolumes = list(self.ui.additionalVolumesSelector.checkedNodes())
        segmentIds = list(self.ui.segmentSelector.selectedSegmentIDs()) or None
        table = self.runStage(
            _("Feature extraction failed."),
            lambda progress, cancel: self.logic.extractFeatures(
                parameterNode, progress, cancel, additionalVolumes=additionalVolumes, segmentIds=segmentIds
            ),
        )
        if table is not None:
            _showTable(table)

    def onOutcomeButton(self) -> None:
        """Cluster the patients, show the Kaplan-Meier chart and the log-rank p-value."""
        parameterNode = self._parameterNode
        self.ui.pValueLabel.text = "-"
        result = self.runStage(
            _("Outcome analysis failed."),
            lambda progress, cancel: self.logic.analyzeCohort(parameterNode, progress, cancel),
        )
        if result is not None:
            self.ui.pValueLabel.text = _("p = {pValue:.3g} ({count} clusters)").format(
                pValue=result.logRankPValue, count=parameterNode.numberOfClusters
            )
            slicer.modules.plots.logic().ShowChartInLayout(result.chart)

    def onExploreButton(self) -> None:
        """Explore the features against the outcome, show the univariate tests and a summary."""
        parameterNode = self._parameterNode
        self.ui.explorationSummaryLabel.text = "-"
        result = self.runStage(
            _("Feature exploration failed."),
            lambda progress, cancel: self.logic.exploreFeatures(parameterNode, progress, cancel),
        )
        if result is not None:
            summary = result.summary
            volume = (
                _("{count} flagged for correlation with volume").format(count=len(summary["volumeCorrelatedFeatures"]))
                if result.volumeCorrelation is not None else _("volume correlation skipped (no usable volume feature)")
            )
            self.ui.explorationSummaryLabel.text = _(
                "{analysed} features analysed, {significant} significant after Bonferroni (alpha = {alpha}), "
                "{volume}.\nFiles: {folder}"
            ).format(
                analysed=summary["featuresAnalysed"], significant=len(summary["significantFeatures"]),
                alpha=parameterNode.alpha, volume=volume, folder=result.outputFolder,
            )
            _showTable(result.univariate)


class VirtualBiopsyOutcomeLogic(ScriptedLoadableModuleLogic):
    """Runs :class:`VirtualBiopsy.extract.logic.ExtractionLogic` and
    :class:`VirtualBiopsy.outcome.logic.OutcomeLogic` on the settings of a parameter node.
    """

    def getParameterNode(self) -> VirtualBiopsyOutcomeParameterNode:
        return VirtualBiopsyOutcomeParameterNode(super().getParameterNode())

    def extractFeatures(
        self,
        parameterNode: VirtualBiopsyOutcomeParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        additionalVolumes: list | None = None,
        segmentIds: list[str] | None = None,
    ) -> vtkMRMLTableNode:
        """Compute the features of segments of ``parameterNode.segmentation`` (``segmentIds``,
        default all) on ``parameterNode.volume`` into ``parameterNode.featuresOutputTable``
        (created when empty).

        :param additionalVolumes: more sequences; features are then prefixed by each volume's name.
        """
        from VirtualBiopsy.extract.logic import ExtractionLogic

        config = configFromParameterNode(ExtractionConfig, parameterNode)
        volumes = parameterNode.volume
        others = [node for node in additionalVolumes or [] if node is not parameterNode.volume]
        if others:
            volumes = {_sequenceName(node): node for node in [parameterNode.volume, *others]}
        table = ExtractionLogic(slicer.mrmlScene).run(
            volumes,
            parameterNode.segmentation,
            config=config,
            segmentIds=segmentIds,
            outputTable=parameterNode.featuresOutputTable,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.featuresOutputTable = table
        return table

    def analyzeCohort(
        self,
        parameterNode: VirtualBiopsyOutcomeParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Cluster the patients of ``parameterNode.featuresTable`` and compare their survival.

        :returns: the library's ``OutcomeResult`` (``table``, ``chart``, ``logRankPValue``);
            the table and chart are also stored in the parameter node.
        """
        from VirtualBiopsy.outcome.logic import OutcomeLogic

        config = configFromParameterNode(OutcomeConfig, parameterNode)
        result = OutcomeLogic(slicer.mrmlScene).run(
            parameterNode.featuresTable,
            parameterNode.clinicalTable,
            config=config,
            outputTable=parameterNode.outcomeTable,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.outcomeTable = result.table
        parameterNode.outcomeChart = result.chart
        return result

    def exploreFeatures(
        self,
        parameterNode: VirtualBiopsyOutcomeParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Compare the features of ``parameterNode.featuresTable`` between the two classes of
        ``parameterNode.outcomeColumn`` in ``parameterNode.clinicalTable``.

        :returns: the library's ``ExplorationNodes`` (``univariate``, ``statistics`` and
            ``volumeCorrelation`` table nodes, ``summary``, ``outputFolder``); the univariate
            table is also stored in the parameter node.
        """
        from VirtualBiopsy.extract.exploration.logic import ExplorationLogic

        config = configFromParameterNode(ExplorationConfig, parameterNode)
        result = ExplorationLogic(slicer.mrmlScene).run(
            parameterNode.featuresTable,
            parameterNode.clinicalTable,
            config,
            patientColumn=parameterNode.patientColumn,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.explorationTable = result.univariate
        return result


def _showTable(table) -> None:
    """Switch to a layout with a table view and show ``table`` in it."""
    layoutManager = slicer.app.layoutManager()
    layoutManager.setLayout(slicer.modules.tables.logic().GetLayoutWithTable(layoutManager.layout))
    slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
    slicer.app.applicationLogic().PropagateTableSelection()


def _sequenceName(volumeNode) -> str:
    """A volume's name as a feature prefix: letters, digits, '.' and '-' only."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", volumeNode.GetName()).strip("-") or volumeNode.GetID()


class VirtualBiopsyOutcomeTest(ScriptedLoadableModuleTest):
    """Self-test: features of a synthetic tumour, survival of a synthetic cohort, and exploration
    of a synthetic cohort's features."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_extractFeatures()
        self.setUp()
        self.test_cohortOutcome()
        self.setUp()
        self.test_featureExploration()

    def test_extractFeatures(self) -> None:
        """Only the chosen feature classes, and the tumour's voxel volume, appear in the table."""
        import importlib.util

        if importlib.util.find_spec("radiomics") is None:
            self.delayDisplay("Skipped: pyradiomics is not installed")
            return
        self.delayDisplay("Extracting features of a synthetic tumour")
        volume, _head, tumour = addSyntheticTumourVolume(size=48)
        labelmap = slicer.util.addVolumeFromArray(tumour.astype("uint8"), nodeClassName="vtkMRMLLabelMapVolumeNode")
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(labelmap, segmentation)
        logic = VirtualBiopsyOutcomeLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.volume, parameterNode.segmentation = volume, segmentation
        parameterNode.featureClasses = ["shape", "firstorder"]
        parameterNode.binWidth = 5.0

        table = logic.extractFeatures(parameterNode)
        self.assertIs(parameterNode.featuresOutputTable, table)
        frame = slicer.util.dataframeFromTable(table)
        self.assertEqual(list(frame.columns), ["Segment", "Feature", "Value"])
        self.assertEqual(len(set(frame["Segment"])), 1)
        features = dict(zip(frame["Feature"], frame["Value"]))
        self.assertTrue(any(name.startswith("original_shape_") for name in features))
        self.assertTrue(any(name.startswith("original_firstorder_") for name in features))
        self.assertFalse(any("glcm" in name for name in features))
        self.assertAlmostEqual(float(features["original_shape_VoxelVolume"]), float(tumour.sum()), delta=0.5)

        self.delayDisplay("Two sequences: features prefixed by the volume names, shape once")
        second = slicer.util.addVolumeFromArray(slicer.util.arrayFromVolume(volume) * 2.0, name="Second")
        second.CopyOrientation(volume)
        table = logic.extractFeatures(parameterNode, additionalVolumes=[second])
        names = set(slicer.util.dataframeFromTable(table)["Feature"])
        self.assertIn("Second_original_firstorder_Mean", names)
        self.assertFalse(any(name.startswith("Second_original_shape") for name in names))
        self.delayDisplay("Test passed")

    def test_cohortOutcome(self) -> None:
        """Two well-separated groups with different survival give two clusters, two curves
        and a small log-rank p-value.
        """
        import numpy as np
        import pandas as pd

        from VirtualBiopsy.mrml.tables import dataFrameToTableNode

        self.delayDisplay("Comparing the survival of a synthetic cohort")
        rng = np.random.default_rng(3)
        group = np.repeat([0, 1], 15)
        patients = [f"case{index:02d}" for index in range(group.size)]
        features = pd.DataFrame({
            "patient": patients,
            "size": 5.0 * group + rng.normal(0, 0.5, group.size),
            "contrast": -5.0 * group + rng.normal(0, 0.5, group.size),
        })
        clinical = pd.DataFrame({
            "patient": patients,
            "time": rng.exponential(np.where(group == 1, 5.0, 40.0)),
            "event": np.ones(group.size, dtype=int),
        })
        logic = VirtualBiopsyOutcomeLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.featuresTable = dataFrameToTableNode(features, slicer.mrmlScene, "features")
        parameterNode.clinicalTable = dataFrameToTableNode(clinical, slicer.mrmlScene, "clinical")

        result = logic.analyzeCohort(parameterNode)
        self.assertIs(parameterNode.outcomeTable, result.table)
        clusters = slicer.util.dataframeFromTable(result.table)["cluster"]
        self.assertEqual(len(clusters), group.size)
        self.assertEqual(len(set(clusters)), 2)
        self.assertEqual(result.chart.GetNumberOfPlotSeriesNodes(), 2)
        self.assertLess(result.logRankPValue, 0.01)
        self.delayDisplay(f"Test passed (p = {result.logRankPValue:.2g})")

    def test_featureExploration(self) -> None:
        """A feature that separates the classes is the only significant one, a volume surrogate
        is flagged, and the files land in the chosen folder.
        """
        import tempfile

        import numpy as np
        import pandas as pd

        from VirtualBiopsy.mrml.tables import dataFrameToTableNode

        self.delayDisplay("Exploring the features of a synthetic cohort")
        rng = np.random.default_rng(5)
        highGrade = np.arange(30) % 2
        volume = rng.lognormal(8.0, 0.5, highGrade.size)
        patients = [f"case{index:02d}" for index in range(highGrade.size)]
        features = pd.DataFrame({
            "patient": patients,
            "original_shape_MeshVolume": volume,
            "original_shape_SurfaceArea": volume ** (2 / 3) * (1 + rng.normal(0, 0.02, highGrade.size)),
            "original_firstorder_Mean": 4.0 * highGrade + rng.normal(0, 1, highGrade.size),
            "original_glcm_Contrast": rng.normal(0, 1, highGrade.size),
        })
        clinical = pd.DataFrame({"patient": patients, "highGrade": highGrade})
        logic = VirtualBiopsyOutcomeLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.featuresTable = dataFrameToTableNode(features, slicer.mrmlScene, "features")
        parameterNode.clinicalTable = dataFrameToTableNode(clinical, slicer.mrmlScene, "clinical")
        parameterNode.outcomeColumn = "highGrade"
        parameterNode.positiveClass = "1"

        with tempfile.TemporaryDirectory() as folder:
            parameterNode.outputFolder = str(pathlib.Path(folder) / "exploration")
            result = logic.exploreFeatures(parameterNode)
            self.assertEqual(result.outputFolder, pathlib.Path(folder) / "exploration")
            self.assertTrue((result.outputFolder / "univariate.csv").is_file())
            self.assertTrue((result.outputFolder / "statistics.xlsx").is_file())
        self.assertIs(parameterNode.explorationTable, result.univariate)
        univariate = slicer.util.dataframeFromTable(result.univariate)
        self.assertEqual(len(univariate), 4)
        self.assertEqual(result.significantFeatures, ["original_firstorder_Mean"])
        self.assertIn("original_shape_SurfaceArea", result.volumeCorrelatedFeatures)
        self.assertEqual(result.summary["positiveClass"], 1)
        self.delayDisplay("Test passed")
