"""Widget glue of the Outcome module's first sections: Features, Cohort outcome and Feature
exploration (3D Slicer only). Each section connects its widgets, enables its button and shows
what the module logic returns; the module file keeps the widget class that owns them."""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

from VirtualBiopsy.extract.config import FEATURE_CLASSES


class OutcomeSection:
    """One collapsible section of the Outcome module, bound to the module widget ``widget``."""

    #: The action whose requirements file (``Resources/Requirements/VirtualBiopsyOutcome/<ACTION>.txt``)
    #: is ensured before the section's buttons run.
    ACTION = ""

    def __init__(self, widget) -> None:
        self.widget = widget
        self.ui = widget.ui

    @property
    def parameterNode(self):
        return self.widget._parameterNode

    @property
    def logic(self):
        return self.widget.logic

    def setup(self) -> None:
        """Connect the section's widgets."""

    def updateGui(self) -> None:
        """Show parameter-node values that no ``SlicerParameterName`` binds."""

    def updateButtons(self, idle: bool) -> None:
        """Enable the section's buttons when ``idle`` and their inputs are set."""

    def cleanup(self) -> None:
        """Release what the section holds when the module widget is destroyed."""

    def run(self, failureMessage: str, function):
        """Ensure the section's :attr:`ACTION` requirements, then run ``function(progress, cancel)`` with the
        module's progress bar (``None`` after an error)."""
        return self.widget.runStage(failureMessage, self.ACTION, function)


def enableButton(button, enabled: bool, readyTip: str, missingTip: str) -> None:
    """Enable ``button`` and explain with its tool tip what it does or what it lacks."""
    button.enabled = enabled
    button.toolTip = readyTip if enabled else missingTip


def showTable(table) -> None:
    """Switch to a layout with a table view and show ``table`` in it."""
    layoutManager = slicer.app.layoutManager()
    layoutManager.setLayout(slicer.modules.tables.logic().GetLayoutWithTable(layoutManager.layout))
    slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
    slicer.app.applicationLogic().PropagateTableSelection()


def showChart(chart) -> None:
    """Show ``chart`` in the layout's plot view."""
    slicer.modules.plots.logic().ShowChartInLayout(chart)


class FeaturesSection(OutcomeSection):
    """Features: radiomics of segments of one or more volumes into a table."""

    ACTION = "features"

    def setup(self) -> None:
        # One check box per feature class, made from the config so they cannot drift.
        self._checkBoxes = {}
        layout = self.ui.featureClassesFrame.layout()
        for index, name in enumerate(FEATURE_CLASSES):
            checkBox = qt.QCheckBox(name)
            checkBox.toolTip = _(
                "Compute only the checked classes ({name}: all its features); none checked: the preset's"
            ).format(name=name)
            checkBox.connect("toggled(bool)", self._onToggled)
            layout.addWidget(checkBox, index // 4, index % 4)
            self._checkBoxes[name] = checkBox
        self.ui.extractButton.connect("clicked(bool)", self.onExtract)
        self.ui.parameterFileBrowseButton.connect("clicked(bool)", self.onBrowseParameterFile)
        self.ui.segmentSelector.multiSelection = True
        self.ui.segmentSelector.segmentationNodeSelectorVisible = False

    def updateGui(self) -> None:
        if self.ui.segmentSelector.currentNode() is not self.parameterNode.features.segmentation:
            self.ui.segmentSelector.setCurrentNode(self.parameterNode.features.segmentation)
        selected = set(self.parameterNode.features.featureClasses)
        for name, checkBox in self._checkBoxes.items():
            wasBlocked = checkBox.blockSignals(True)
            checkBox.checked = name in selected
            checkBox.blockSignals(wasBlocked)

    def updateButtons(self, idle: bool) -> None:
        ready = idle and bool(self.parameterNode.features.volume and self.parameterNode.features.segmentation)
        enableButton(
            self.ui.extractButton,
            ready,
            _("Compute the features of the segment"),
            _("Select a volume and a segmentation"),
        )

    def _onToggled(self, checked: bool) -> None:
        if self.parameterNode:
            checked = [name for name, box in self._checkBoxes.items() if box.checked]
            self.parameterNode.features.featureClasses = checked

    def onBrowseParameterFile(self) -> None:
        """Pick a pyradiomics parameter file (or radiomics preset file)."""
        path = qt.QFileDialog.getOpenFileName(
            self.widget.parent, _("pyradiomics parameter file"), "", _("Parameter files (*.yaml *.yml *.json)")
        )
        if path and self.parameterNode:
            self.parameterNode.features.parameterFile = path

    def onExtract(self) -> None:
        """Extract the features and show the table."""
        parameterNode = self.parameterNode
        additionalVolumes = list(self.ui.additionalVolumesSelector.checkedNodes())
        segmentIds = list(self.ui.segmentSelector.selectedSegmentIDs()) or None
        table = self.run(
            _("Feature extraction failed."),
            lambda progress, cancel: self.logic.extractFeatures(
                parameterNode, progress, cancel, additionalVolumes=additionalVolumes, segmentIds=segmentIds
            ),
        )
        if table is not None:
            showTable(table)


class CohortSection(OutcomeSection):
    """Cohort outcome: k-means clusters of a features table and their Kaplan–Meier curves."""

    ACTION = "cohortOutcome"

    def setup(self) -> None:
        self.ui.outcomeButton.connect("clicked(bool)", self.onCluster)

    def updateButtons(self, idle: bool) -> None:
        ready = idle and bool(self.parameterNode.cohort.featuresTable and self.parameterNode.cohort.clinicalTable)
        enableButton(
            self.ui.outcomeButton,
            ready,
            _("Cluster the patients and compare their survival"),
            _("Select a features table and a clinical table"),
        )

    def onCluster(self) -> None:
        """Cluster the patients, show the Kaplan-Meier chart and the log-rank p-value."""
        parameterNode = self.parameterNode
        self.ui.pValueLabel.text = "-"
        result = self.run(
            _("Outcome analysis failed."),
            lambda progress, cancel: self.logic.analyzeCohort(parameterNode, progress, cancel),
        )
        if result is not None:
            self.ui.pValueLabel.text = _("p = {pValue:.3g} ({count} clusters)").format(
                pValue=result.logRankPValue, count=parameterNode.cohort.numberOfClusters
            )
            showChart(result.chart)


class ExplorationSection(OutcomeSection):
    """Feature exploration: two-class comparison of the cohort's features table."""

    ACTION = "exploration"

    def setup(self) -> None:
        self.ui.exploreButton.connect("clicked(bool)", self.onExplore)
        self.ui.outputFolderBrowseButton.connect("clicked(bool)", self.onBrowseOutputFolder)

    def updateButtons(self, idle: bool) -> None:
        ready = idle and bool(self.parameterNode.cohort.featuresTable and self.parameterNode.cohort.clinicalTable)
        enableButton(
            self.ui.exploreButton,
            ready,
            _("Compare the features between the two classes of the outcome column"),
            _("Select a features table and a clinical table in Cohort outcome"),
        )

    def onBrowseOutputFolder(self) -> None:
        """Pick the folder that receives the exploration's tables and figures."""
        path = qt.QFileDialog.getExistingDirectory(self.widget.parent, _("Exploration output folder"))
        if path and self.parameterNode:
            self.parameterNode.exploration.outputFolder = path

    def onExplore(self) -> None:
        """Explore the features against the outcome, show the univariate tests and a summary."""
        parameterNode = self.parameterNode
        self.ui.explorationSummaryLabel.text = "-"
        result = self.run(
            _("Feature exploration failed."),
            lambda progress, cancel: self.logic.exploreFeatures(parameterNode, progress, cancel),
        )
        if result is None:
            return
        summary = result.summary
        volume = (
            _("{count} flagged for correlation with volume").format(count=len(summary["volumeCorrelatedFeatures"]))
            if result.volumeCorrelation is not None
            else _("volume correlation skipped (no usable volume feature)")
        )
        self.ui.explorationSummaryLabel.text = _(
            "{analysed} features analysed, {significant} significant after Bonferroni (alpha = {alpha}), "
            "{volume}.\nFiles: {folder}"
        ).format(
            analysed=summary["featuresAnalysed"],
            significant=len(summary["significantFeatures"]),
            alpha=parameterNode.exploration.alpha,
            volume=volume,
            folder=result.outputFolder,
        )
        showTable(result.univariate)
