"""Widget glue of the Outcome module's modelling sections: Survival, Classifiers, Deep learning
and Patient summary (3D Slicer only). The content comes from the module logic and the library
(:class:`VirtualBiopsy.outcome.patientSummary.PatientSummary`); these classes only display it."""

from __future__ import annotations

import qt
from slicer.i18n import tr as _

from VirtualBiopsy.outcome.classification.config import MODEL_NAMES
from VirtualBiopsy.outcome.classification.models import MODEL_TITLES
from VirtualBiopsyWidgets.outcomeSections import OutcomeSection, enableButton, showChart, showTable


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class SurvivalSection(OutcomeSection):
    """Survival: Kaplan–Meier curves of a clinical table and a Cox model with risk groups."""

    ACTION = "survival"

    def setup(self) -> None:
        self.ui.kaplanMeierButton.connect("clicked(bool)", self.onKaplanMeier)
        self.ui.coxButton.connect("clicked(bool)", self.onCox)
        self.ui.covariatesLineEdit.connect("editingFinished()", self._onCovariatesEdited)

    def updateGui(self) -> None:
        text = ", ".join(self.parameterNode.survival.covariates)
        if self.ui.covariatesLineEdit.text != text:
            self.ui.covariatesLineEdit.text = text

    def updateButtons(self, idle: bool) -> None:
        hasTable = idle and bool(self.parameterNode.survival.table)
        enableButton(
            self.ui.kaplanMeierButton,
            hasTable,
            _("Draw Kaplan-Meier curves (per group) with log-rank tests"),
            _("Select a survival table"),
        )
        enableButton(
            self.ui.coxButton,
            hasTable and bool(self.parameterNode.survival.covariates),
            _("Fit a Cox model and draw its risk groups"),
            _("Select a survival table and covariates"),
        )

    def _onCovariatesEdited(self) -> None:
        if self.parameterNode:
            self.parameterNode.survival.covariates = _names(self.ui.covariatesLineEdit.text)

    def onKaplanMeier(self) -> None:
        """Kaplan-Meier curves in the plot view, log-rank and median tables in the table view."""
        parameterNode = self.parameterNode
        self.ui.survivalResultLabel.text = "-"
        nodes = self.run(
            _("Kaplan-Meier analysis failed."),
            lambda progress, cancel: self.logic.kaplanMeier(parameterNode, progress, cancel),
        )
        if nodes is not None:
            overall = nodes.result.logRank.iloc[0]
            self.ui.survivalResultLabel.text = (
                _("log-rank p = {p:.3g}").format(p=overall["p"])
                if len(nodes.result.groups) > 1
                else _("one group: no log-rank test")
            )
            showTable(nodes.tables["median"])
            showChart(nodes.chart)

    def onCox(self) -> None:
        """Cox coefficients in the table view, the C-index in the label, the risk groups' curves in the plot view."""
        parameterNode = self.parameterNode
        self.ui.cIndexLabel.text = "-"
        nodes = self.run(
            _("Cox model failed."), lambda progress, cancel: self.logic.cox(parameterNode, progress, cancel)
        )
        if nodes is not None:
            self.ui.cIndexLabel.text = self.logic.concordanceText(nodes)
            showTable(nodes.tables["coefficients"])
            showChart(nodes.chart)


class ClassifierSection(OutcomeSection):
    """Classifiers: cross-validated comparison, then the Shapley values of a saved model for a patient."""

    ACTION = "classifiers"

    def setup(self) -> None:
        self._checkBoxes = {}
        layout = self.ui.classifierModelsFrame.layout()
        for index, name in enumerate(MODEL_NAMES):
            checkBox = qt.QCheckBox(MODEL_TITLES[name])
            checkBox.connect("toggled(bool)", self._onToggled)
            layout.addWidget(checkBox, index // 2, index % 2)
            self._checkBoxes[name] = checkBox
        self.ui.compareClassifiersButton.connect("clicked(bool)", self.onCompare)
        self.ui.explainButton.connect("clicked(bool)", self.onExplain)
        self.ui.classifierModelFolderBrowseButton.connect("clicked(bool)", self.onBrowseModelFolder)

    def updateGui(self) -> None:
        selected = set(self.parameterNode.classifiers.classifierModels)
        for name, checkBox in self._checkBoxes.items():
            wasBlocked = checkBox.blockSignals(True)
            checkBox.checked = name in selected
            checkBox.blockSignals(wasBlocked)

    def updateButtons(self, idle: bool) -> None:
        parameterNode = self.parameterNode
        tables = idle and bool(parameterNode.cohort.featuresTable and parameterNode.cohort.clinicalTable)
        enableButton(
            self.ui.compareClassifiersButton,
            tables and bool(parameterNode.classifiers.classifierModels),
            _("Cross-validate the checked classifiers"),
            _("Select the tables in Cohort outcome and check at least one classifier"),
        )
        ready = idle and bool(
            parameterNode.cohort.featuresTable
            and parameterNode.classifiers.classifierModelFolder
            and parameterNode.patientSummary.summaryPatient
        )
        enableButton(
            self.ui.explainButton,
            ready,
            _("Shapley values of the saved classifier; the patient's largest as a bar chart"),
            _("Select a features table, a saved model folder and a patient"),
        )

    def _onToggled(self, checked: bool) -> None:
        if self.parameterNode:
            checked = [name for name, box in self._checkBoxes.items() if box.checked]
            self.parameterNode.classifiers.classifierModels = checked

    def onBrowseModelFolder(self) -> None:
        """Pick a saved classifier folder (``<out>/models/<name>``)."""
        path = qt.QFileDialog.getExistingDirectory(self.widget.parent, _("Saved classifier folder"))
        if path and self.parameterNode:
            self.parameterNode.classifiers.classifierModelFolder = path

    def onCompare(self) -> None:
        """The comparison table in the table view, the ROC curves in the plot view."""
        parameterNode = self.parameterNode
        self.ui.classifierResultLabel.text = "-"
        result = self.run(
            _("Classifier comparison failed."),
            lambda progress, cancel: self.logic.compareClassifiers(parameterNode, progress, cancel),
        )
        if result is not None:
            best = result.comparison.performance.sort_values("auc_mean", ascending=False).iloc[0]
            self.ui.classifierResultLabel.text = _("best: {model} (AUC {auc:.2f})").format(
                model=MODEL_TITLES.get(best["model"], best["model"]), auc=best["auc_mean"]
            )
            showTable(result.performanceTable)
            showChart(result.rocChart)

    def onExplain(self) -> None:
        """The Shapley table in the table view, the patient's top contributions in the plot view."""
        parameterNode = self.parameterNode
        result = self.run(
            _("Explaining the classifier failed."),
            lambda progress, cancel: self.logic.explainPatient(parameterNode, progress, cancel),
        )
        if result is not None:
            explanation, chart = result
            showTable(explanation.shapTable)
            showChart(chart)


class DeepLearningSection(OutcomeSection):
    """Deep learning: a Grad-CAM map over the image, under the patient in the subject hierarchy."""

    ACTION = "deepLearning"

    def setup(self) -> None:
        self.ui.gradCamButton.connect("clicked(bool)", self.onGradCam)
        self.ui.deepModelBrowseButton.connect("clicked(bool)", self.onBrowseModel)
        self.ui.overlayOpacitySlider.connect("valueChanged(double)", self.logic.setOverlayOpacity)

    def updateButtons(self, idle: bool) -> None:
        parameterNode = self.parameterNode
        deep = parameterNode.deepLearning
        ready = idle and bool(deep.deepModel and deep.image and deep.segmentation)
        enableButton(
            self.ui.gradCamButton,
            ready,
            _("Compute the Grad-CAM map and show it over the image"),
            _("Select a model, an image and a tumour segmentation"),
        )

    def onBrowseModel(self) -> None:
        """Pick a model folder written by ``virtual-biopsy outcome cnn train``."""
        path = qt.QFileDialog.getExistingDirectory(self.widget.parent, _("CNN model folder"))
        if path and self.parameterNode:
            self.parameterNode.deepLearning.deepModel = path

    def onGradCam(self) -> None:
        """Compute the map; say why when it is undefined."""
        parameterNode = self.parameterNode
        others = list(self.ui.deepAdditionalVolumesSelector.checkedNodes())
        self.ui.gradCamResultLabel.text = "-"
        result = self.run(
            _("Grad-CAM failed."), lambda progress, cancel: self.logic.gradCam(parameterNode, others, progress, cancel)
        )
        if result is not None:
            node, gradCam = result
            probabilities = ", ".join(f"{p:.2f}" for p in gradCam.probabilities)
            self.ui.gradCamResultLabel.text = (
                _("{name}: class {className}, probabilities {probabilities}").format(
                    name=node.GetName(), className=gradCam.className, probabilities=probabilities
                )
                if node is not None
                else _("Undefined: {reason}").format(reason=gradCam.reason)
            )


class PatientSummarySection(OutcomeSection):
    """Patient summary: prediction, confidence, cohort percentile, top contributions and a Grad-CAM thumbnail."""

    ACTION = "patientSummary"

    def setup(self) -> None:
        self.ui.summaryButton.connect("clicked(bool)", self.onSummarize)

    def updateButtons(self, idle: bool) -> None:
        parameterNode = self.parameterNode
        ready = idle and bool(
            parameterNode.cohort.featuresTable
            and parameterNode.classifiers.classifierModelFolder
            and parameterNode.patientSummary.summaryPatient
        )
        enableButton(
            self.ui.summaryButton,
            ready,
            _("Summarize the patient"),
            _("Select a features table, a saved classifier and a patient in Classifiers"),
        )

    def onSummarize(self) -> None:
        """Show the library's summary as text and its thumbnail as a picture."""
        parameterNode = self.parameterNode
        summary = self.run(
            _("Patient summary failed."),
            lambda progress, cancel: self.logic.summarizePatient(parameterNode, progress, cancel),
        )
        if summary is None:
            return
        self.ui.summaryLabel.text = "\n".join(summary.lines())
        self.ui.summaryThumbnailLabel.clear()
        if summary.thumbnailPng:
            pixmap = qt.QPixmap()
            pixmap.loadFromData(qt.QByteArray(summary.thumbnailPng), "PNG")
            self.ui.summaryThumbnailLabel.setPixmap(pixmap)
        else:
            self.ui.summaryThumbnailLabel.text = _("No Grad-CAM map (compute one in Deep learning)")
