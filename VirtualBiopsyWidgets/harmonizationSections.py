"""Widget glue of the Harmonization panel's Preprocessing, Registration, ComBat and Style transfer
sections (3D Slicer only: qt, slicer.util).

Mixed into the module's widget, whose ``ui``, ``logic``, ``_parameterNode``, ``isRunning`` and
``runStage`` it uses; each action runs one method of the module's logic through ``runStage``
(progress bar, Cancel, error display) and then shows its output.
"""

import qt
import slicer
from slicer.i18n import tr as _

from VirtualBiopsy.harmonize.registrationQuality import qcLine

#: Parameter-node fields (``<section>.<field>``) that default to the scene's first scalar volume.
DEFAULT_VOLUME_FIELDS = (
    "preprocessing.inputVolume",
    "registration.fixedVolume",
    "normalization.inputVolume",
    "styleTransfer.inputVolume",
)


class HarmonizationSectionsMixin:
    """Connections, enabled states and actions of the sections other than Intensity normalization."""

    def setupSectionConnections(self) -> None:
        """Connect the sections' buttons."""
        self.ui.n4Button.connect("clicked(bool)", self.onN4Button)
        self.ui.denoiseButton.connect("clicked(bool)", self.onDenoiseButton)
        self.ui.resampleButton.connect("clicked(bool)", self.onResampleButton)
        self.ui.headMaskButton.connect("clicked(bool)", self.onHeadMaskButton)
        self.ui.registerButton.connect("clicked(bool)", self.onRegisterButton)
        self.ui.combatButton.connect("clicked(bool)", self.onComBatButton)
        self.ui.combatModelFileBrowseButton.connect("clicked(bool)", self.onBrowseComBatModelFile)
        self.ui.styleTransferButton.connect("clicked(bool)", self.onStyleTransferButton)
        self.ui.styleModelBrowseButton.connect("clicked(bool)", self.onBrowseStyleModel)

    def selectSectionDefaults(self, parameterNode) -> None:
        """Take the scene's first volume as the sections' input volumes when none is selected."""
        firstVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        for name in DEFAULT_VOLUME_FIELDS:
            if firstVolume is not None and not parameterNode.getValue(name):
                parameterNode.setValue(name, firstVolume)

    def updateSectionsFromParameterNode(self) -> None:
        """Enable the widgets that the current settings use."""
        parameterNode = self._parameterNode
        onReference = parameterNode.preprocessing.resamplingPreset == "reference"
        self.ui.resamplingReferenceSelector.enabled = onReference
        self.ui.resamplingSpacingMmSpinBox.enabled = not onReference
        hasMask = parameterNode.registration.maskSegmentation is not None
        self.ui.focusOnMaskCheckBox.enabled = hasMask
        self.ui.maskDilationMmSpinBox.enabled = hasMask

    def updateSectionButtons(self) -> None:
        """Enable each action whose inputs are set; the tooltip says what is missing."""
        parameterNode = self._parameterNode
        idle = bool(parameterNode) and not self.isRunning
        preprocessing = parameterNode.preprocessing if parameterNode else None
        noVolume = (
            _("Select the input volume of Preprocessing") if not (preprocessing and preprocessing.inputVolume) else None
        )
        noReference = noVolume
        if (
            noReference is None
            and preprocessing.resamplingPreset == "reference"
            and not preprocessing.resamplingReferenceVolume
        ):
            noReference = _("Select the reference volume whose grid the input is resampled onto")
        _enable(self.ui.n4Button, idle, noVolume, _("Correct the bias field (N4) into a new volume"))
        _enable(self.ui.denoiseButton, idle, noVolume, _("Denoise into a new volume"))
        _enable(self.ui.resampleButton, idle, noReference, _("Resample into a new volume"))
        _enable(self.ui.headMaskButton, idle, noVolume, _("Make the head (foreground) mask as a new labelmap"))

        registration = parameterNode.registration if parameterNode else None
        missing = None
        if not (registration and registration.fixedVolume and registration.movingVolume):
            missing = _("Select the fixed and the moving volume")
        elif registration.fixedVolume is registration.movingVolume:
            missing = _("The fixed and the moving volume are the same; select two volumes of the patient")
        _enable(self.ui.registerButton, idle, missing, _("Register the moving volume onto the fixed volume"))

        combat = parameterNode.combat if parameterNode else None
        missing = None
        if not (combat and combat.featuresTable and combat.clinicalTable):
            missing = _("Select the features table and the clinical table")
        elif not combat.batchColumn.strip():
            missing = _("Name the batch column of the clinical table (e.g. site)")
        _enable(self.ui.combatButton, idle, missing, _("Fit ComBat on the cohort and write the harmonized table"))

        styleTransfer = parameterNode.styleTransfer if parameterNode else None
        missing = None
        if not (styleTransfer and styleTransfer.inputVolume):
            missing = _("Select the volume to translate")
        elif not styleTransfer.styleModel.strip():
            missing = _("Give a style-transfer model id or folder")
        _enable(self.ui.styleTransferButton, idle, missing, _("Translate the volume into a new volume"))

    def onN4Button(self) -> None:
        """N4-correct the input volume and show the result."""
        self._runVolumeAction(_("Bias-field correction failed."), self.logic.correctBiasField)

    def onDenoiseButton(self) -> None:
        """Denoise the input volume and show the result."""
        self._runVolumeAction(_("Denoising failed."), self.logic.denoise)

    def onResampleButton(self) -> None:
        """Resample the input volume and show the result."""
        self._runVolumeAction(_("Resampling failed."), self.logic.resample)

    def onHeadMaskButton(self) -> None:
        """Make the head mask and show it as the label layer over the input volume."""
        parameterNode = self._parameterNode
        labelmap = self.runStage(
            _("Head mask failed."),
            "preprocessing",
            lambda progress, cancel: self.logic.headMask(parameterNode, progress, cancel),
        )
        if labelmap is not None:
            slicer.util.setSliceViewerLayers(
                background=parameterNode.preprocessing.inputVolume, label=labelmap, fit=True
            )

    def onRegisterButton(self) -> None:
        """Register, show the registered volume over the fixed one and the QC line."""
        parameterNode = self._parameterNode
        self.ui.registrationQcLabel.text = "-"
        outputs = self.runStage(
            _("Registration failed."),
            "registration",
            lambda progress, cancel: self.logic.register(parameterNode, progress, cancel),
        )
        if outputs is None:
            return
        _transformNode, registeredVolume, result = outputs
        self.ui.registrationQcLabel.text = qcLine(result.metrics, result.qcPassed, result.metricMask, result.retried)
        slicer.util.setSliceViewerLayers(
            background=parameterNode.registration.fixedVolume,
            foreground=registeredVolume,
            foregroundOpacity=0.5,
            fit=True,
        )

    def onComBatButton(self) -> None:
        """Fit ComBat and harmonize the features table; show the harmonized table."""
        parameterNode = self._parameterNode
        self.ui.combatSummaryLabel.text = "-"
        outputs = self.runStage(
            _("ComBat failed."),
            "combat",
            lambda progress, cancel: self.logic.harmonizeFeatures(parameterNode, progress, cancel),
        )
        if outputs is None:
            return
        model, table = outputs
        saved = parameterNode.combat.combatModelFile.strip()
        self.ui.combatSummaryLabel.text = _(
            "{method} ComBat on {count} features, batches {batches}{reference}; {saved}"
        ).format(
            method=model.method,
            count=len(model.features),
            batches=", ".join(model.batches),
            reference=_(" (reference {batch})").format(batch=model.referenceBatch) if model.referenceBatch else "",
            saved=_("model saved to {path}").format(path=saved) if saved else _("model not saved"),
        )
        showTableInLayout(table)

    def onStyleTransferButton(self) -> None:
        """Translate the volume with the style-transfer model and show the result."""
        parameterNode = self._parameterNode
        output = self.runStage(
            _("Style transfer failed."),
            "styleTransfer",
            lambda progress, cancel: self.logic.transferStyle(parameterNode, progress, cancel),
        )
        if output is not None:
            slicer.util.setSliceViewerLayers(background=output, fit=True)

    def onBrowseComBatModelFile(self) -> None:
        """Choose the new file that receives the fitted ComBat model."""
        path = qt.QFileDialog.getSaveFileName(self.parent, _("Save the ComBat model"), "", _("ComBat models (*.json)"))
        if path and self._parameterNode:
            self._parameterNode.combat.combatModelFile = path

    def onBrowseStyleModel(self) -> None:
        """Choose a model folder written by ``virtual-biopsy styletransfer train``."""
        path = qt.QFileDialog.getExistingDirectory(self.parent, _("Style-transfer model folder"))
        if path and self._parameterNode:
            self._parameterNode.styleTransfer.styleModel = path

    def _runVolumeAction(self, failureMessage: str, action) -> None:
        parameterNode = self._parameterNode
        output = self.runStage(
            failureMessage, "preprocessing", lambda progress, cancel: action(parameterNode, progress, cancel)
        )
        if output is not None:
            slicer.util.setSliceViewerLayers(background=output, fit=True)


def showTableInLayout(table) -> None:
    """Switch to a layout with a table view and show ``table`` in it."""
    layoutManager = slicer.app.layoutManager()
    layoutManager.setLayout(slicer.modules.tables.logic().GetLayoutWithTable(layoutManager.layout))
    slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
    slicer.app.applicationLogic().PropagateTableSelection()


def _enable(button, idle: bool, missing: str | None, action: str) -> None:
    button.enabled = idle and missing is None
    button.toolTip = missing or action
