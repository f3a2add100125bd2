"""Virtual Biopsy Segmentation: automatic tumour segmentation, reviewed in the Segment Editor
(3D Slicer module)."""

import pathlib
import sys
from typing import Annotated

import slicer
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import Choice, Minimum, WithinRange, parameterNodeWrapper, parameterPack
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

from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsy.segment.config import INFERENCE_DEVICES, SEGMENTATION_METHODS, SegmentationConfig
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    configFromParameterNode,
    describeModule,
    workerRunner,
)
from VirtualBiopsyWidgets.segmentationDicomSection import SegmentationDicomSection
from VirtualBiopsyWidgets.segmentationText import modelDetails, reviewSummary

#: Defaults of the parameter node come from the config dataclass.
SEGMENTATION_DEFAULTS = SegmentationConfig()


class VirtualBiopsySegmentation(ScriptedLoadableModule):
    """Module description (see ``slicer.ScriptedLoadableModule``)."""

    def __init__(self, parent) -> None:
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(
            self.parent,
            _("Virtual Biopsy Segmentation"),
            _(
                "Segments the tumour of a harmonized FLAIR (whole tumour) or T1c (enhancing tumour) volume "
                "automatically (threshold, closing, "
                "hole filling, largest island), or with an AI model (nnU-Net, MONAI) of the model registry, "
                "then opens the result in the Segment Editor for a clinician to review and correct."
            ),
            dependencies=["Segmentations", "SegmentEditor"],
        )


@parameterPack
class SegmentationSection:
    """The Inputs, Outputs, Automatic segmentation and AI model sections: the settings of
    :class:`VirtualBiopsy.segment.config.SegmentationConfig`, field for field, plus the input volume
    and the output segmentation.
    """

    method: Annotated[str, Choice(SEGMENTATION_METHODS)] = SEGMENTATION_DEFAULTS.method
    threshold: Annotated[float, WithinRange(-10.0, 10.0)] = SEGMENTATION_DEFAULTS.threshold
    headMarginMm: Annotated[float, WithinRange(0.0, 100.0)] = SEGMENTATION_DEFAULTS.headMarginMm
    closingRadiusMm: Annotated[float, WithinRange(0.0, 50.0)] = SEGMENTATION_DEFAULTS.closingRadiusMm
    fillHoles: bool = SEGMENTATION_DEFAULTS.fillHoles
    minimumSizeMm3: Annotated[float, Minimum(0.0)] = SEGMENTATION_DEFAULTS.minimumSizeMm3
    segmentName: str = SEGMENTATION_DEFAULTS.segmentName
    modelId: str = SEGMENTATION_DEFAULTS.modelId
    device: Annotated[str, Choice(INFERENCE_DEVICES)] = SEGMENTATION_DEFAULTS.device
    testTimeAugmentation: bool = SEGMENTATION_DEFAULTS.testTimeAugmentation
    folds: str = SEGMENTATION_DEFAULTS.folds
    keepLargestComponent: bool = SEGMENTATION_DEFAULTS.keepLargestComponent
    probabilities: bool = SEGMENTATION_DEFAULTS.probabilities
    uncertainty: bool = SEGMENTATION_DEFAULTS.uncertainty
    # Nodes after the settings: Slicer tells a stored pack by its first member, and a batch run stores only
    # the settings (saveStageConfig(..., pack="segmentation")).
    inputVolume: vtkMRMLScalarVolumeNode
    outputSegmentation: vtkMRMLSegmentationNode


@parameterPack
class ReviewSection:
    """Review in Segment Editor and Compare with the AI result (no settings): the table of the review's changes."""

    changesTable: vtkMRMLTableNode


@parameterNodeWrapper
class VirtualBiopsySegmentationParameterNode:
    """One parameter pack per panel section; the ``.ui`` binds ``segmentation.method`` and so on."""

    segmentation: SegmentationSection
    review: ReviewSection


class VirtualBiopsySegmentationWidget(VirtualBiopsyModuleWidget):
    """Panel: input volume, output segmentation, settings, Apply, progress and Cancel,
    "Review in Segment Editor", "Compare with the AI result" and the DICOM section ("Export to DICOM SEG…").
    """

    def createLogic(self) -> "VirtualBiopsySegmentationLogic":
        return VirtualBiopsySegmentationLogic()

    def setupConnections(self) -> None:
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.reviewButton.connect("clicked(bool)", self.onReviewButton)
        self.ui.compareButton.connect("clicked(bool)", self.onCompareButton)
        self.ui.fetchModelButton.connect("clicked(bool)", self.onFetchModelButton)
        self.ui.modelSelector.connect("activated(int)", self.onModelSelected)
        self.ui.modelIdLineEdit.connect("textChanged(QString)", self.updateModelInfo)
        self.dicomSection = SegmentationDicomSection(self)
        self.dicomSection.setup()
        self.populateModels()

    def populateModels(self) -> None:
        """List every model in the selector: shipped, imported and catalogue models (marked "download on first
        use, N MB, licence X"). The manifest needs ``jsonschema``: until the AI model packages are installed, the
        selector says so (the model id can still be typed)."""
        self.ui.modelSelector.clear()
        try:
            entries = self.logic.models()
        except ImportError:
            self.ui.modelSelector.addItem(_("(models are listed once the AI model packages are installed)"), "")
            return
        self._models = {entry.id: entry for entry in entries}
        for entry in entries:
            self.ui.modelSelector.addItem(f"{entry.id} ({describeModel(entry)})", entry.id)
        self.updateModelInfo()

    def onModelSelected(self, index: int) -> None:
        """Put the chosen model's id in the (parameter-bound) model id field."""
        modelId = self.ui.modelSelector.itemData(index)
        if modelId:
            self.ui.modelIdLineEdit.text = modelId

    def updateModelInfo(self, *_args) -> None:
        """Show the chosen model's intended use and, for a catalogue model, its download and licence."""
        entry = getattr(self, "_models", {}).get(self.ui.modelIdLineEdit.text.strip())
        self.ui.modelInfoLabel.text = modelDetails(entry) if entry else ""
        self.ui.fetchModelButton.enabled = bool(entry and entry.isCatalogue and not entry.isFetched)

    def onFetchModelButton(self) -> None:
        """Download the chosen catalogue model now, with the progress bar and Cancel (verified before use)."""
        modelId = self.ui.modelIdLineEdit.text.strip()
        entry = self.runStage(
            _("Fetching the model failed."),
            "model",
            lambda progress, cancel: self.logic.fetchModel(modelId, progress, cancel),
        )
        if entry is not None:
            self.populateModels()

    def selectDefaultInputs(self, parameterNode: VirtualBiopsySegmentationParameterNode) -> None:
        if not parameterNode.segmentation.inputVolume:
            parameterNode.segmentation.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def updateButtons(self) -> None:
        parameterNode = self._parameterNode
        ready = bool(parameterNode and parameterNode.segmentation.inputVolume) and not self.isRunning
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = _("Segment the tumour") if ready else _("Select an input volume")
        self.ui.reviewButton.enabled = ready and bool(parameterNode.segmentation.outputSegmentation)
        self.ui.compareButton.enabled = ready and self.logic.isUnderReview(parameterNode)
        if getattr(self, "dicomSection", None) is not None:
            self.dicomSection.updateButtons(idle=not self.isRunning)

    def onApplyButton(self) -> None:
        """Segment the tumour and show the segmentation over the input volume."""
        parameterNode = self._parameterNode
        otherVolumes = list(self.ui.additionalVolumesSelector.checkedNodes())
        segmentation = self.runStage(
            _("Segmentation failed."),
            "model" if parameterNode.segmentation.method == "model" else "threshold",
            lambda progress, cancel: self.logic.process(parameterNode, progress, cancel, otherVolumes=otherVolumes),
        )
        if parameterNode.segmentation.method == "model":
            self.populateModels()  # a catalogue model fetched on first use is now cached
        if segmentation is not None:
            segmentation.CreateDefaultDisplayNodes()
            slicer.util.setSliceViewerLayers(background=parameterNode.segmentation.inputVolume, fit=True)
            self.showDomainWarnings(segmentation)

    def showDomainWarnings(self, segmentation) -> None:
        """Say so, in the panel and in a dialog, when the model ran on images far from those it was trained on."""
        from VirtualBiopsy.segment.modelLogic import domainWarningsOf

        warnings = domainWarningsOf(segmentation)
        text = (
            _("The images lie outside the model's training domain; check the segmentation closely:")
            + "\n- "
            + "\n- ".join(warnings)
            if warnings
            else ""
        )
        self.ui.domainWarningLabel.text = text
        if warnings:
            slicer.util.warningDisplay(text, windowTitle=_("Outside the model's training domain"))

    def onReviewButton(self) -> None:
        """Keep the AI result as the review's hidden reference and open the Segment Editor."""
        with slicer.util.tryWithErrorDisplay(_("Could not open the Segment Editor."), waitCursor=True):
            self.logic.reviewInSegmentEditor(self._parameterNode)
        self.updateButtons()

    def onCompareButton(self) -> None:
        """Show what the clinician changed against the AI result, per segment."""
        parameterNode = self._parameterNode
        table = self.runStage(
            _("Comparison with the AI result failed."),
            "review",
            lambda progress, cancel: self.logic.compareWithAiResult(parameterNode, progress, cancel),
        )
        if table is not None:
            self.ui.reviewSummaryLabel.text = reviewSummary(table)
            layoutManager = slicer.app.layoutManager()
            layoutManager.setLayout(slicer.modules.tables.logic().GetLayoutWithTable(layoutManager.layout))
            slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(table.GetID())
            slicer.app.applicationLogic().PropagateTableSelection()


class VirtualBiopsySegmentationLogic(ScriptedLoadableModuleLogic):
    """Runs :class:`VirtualBiopsy.segment.logic.SegmentationLogic` on the settings of a
    parameter node; all computation lives in the library.
    """

    def getParameterNode(self) -> VirtualBiopsySegmentationParameterNode:
        return VirtualBiopsySegmentationParameterNode(super().getParameterNode())

    def process(
        self,
        parameterNode: VirtualBiopsySegmentationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        otherVolumes: list | None = None,
    ) -> vtkMRMLSegmentationNode:
        """Segment ``parameterNode.segmentation.inputVolume`` into its ``outputSegmentation`` (created and
        stored in the parameter node when empty), with the section's settings.

        :param otherVolumes: the patient's other sequences, for an AI model with several inputs; each
            volume's name must name its sequence (``VB0001_FLAIR``).
        :returns: the segmentation node.
        """
        from VirtualBiopsy.segment.logic import SegmentationLogic

        config = configFromParameterNode(SegmentationConfig, parameterNode.segmentation)
        if config.method == "model":  # a catalogue model is fetched on first use, with this action's progress bar
            self.fetchModel(config.modelId, progress, cancel)
        pack = parameterNode.segmentation  # read only
        # An AI model takes the other sequences too; the library tells each one from its volume's name.
        inputs = [pack.inputVolume, *otherVolumes] if config.method == "model" and otherVolumes else pack.inputVolume
        segmentation = SegmentationLogic(slicer.mrmlScene, runner=workerRunner()).run(
            inputs, config=config, outputSegmentation=pack.outputSegmentation, progress=progress, cancel=cancel
        )
        # Written through a fresh pack: a pack read before the run would write back its stale settings too.
        parameterNode.segmentation.outputSegmentation = segmentation
        return segmentation

    @staticmethod
    def models() -> list:
        """The models of the registry (shipped, imported, catalogue), without downloading anything."""
        from VirtualBiopsy.models.registry import ModelRegistry

        return ModelRegistry().list()

    @staticmethod
    def fetchModel(modelId: str, progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """The model ``modelId`` ready to load: a catalogue model not in the cache is downloaded and verified first
        (its licence terms are logged); any other model is returned as it is."""
        from VirtualBiopsy.models.registry import ModelRegistry

        return ModelRegistry().get(modelId.strip(), progress=progress, cancel=cancel)

    @staticmethod
    def reviewInSegmentEditor(parameterNode: VirtualBiopsySegmentationParameterNode) -> None:
        """Keep a hidden copy of the AI result as the review's reference (a review already started keeps
        its reference), then switch to the Segment Editor with the segmentation and its source volume
        selected (Slicer 5.10+ editor API).
        """
        from VirtualBiopsy.segment.review import ReviewLogic

        section = parameterNode.segmentation
        if not section.outputSegmentation or not section.inputVolume:
            raise ValueError("Segment the tumour first: there is no output segmentation or input volume to review.")
        ReviewLogic(slicer.mrmlScene).startReview(section.outputSegmentation)
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(section.outputSegmentation)
        editor.setSourceVolumeNode(section.inputVolume)

    @staticmethod
    def isUnderReview(parameterNode: VirtualBiopsySegmentationParameterNode) -> bool:
        """Whether a review of the output segmentation was started (its AI reference exists)."""
        from VirtualBiopsy.segment.review import ReviewLogic

        segmentation = parameterNode.segmentation.outputSegmentation if parameterNode else None
        return bool(segmentation) and ReviewLogic(slicer.mrmlScene).referenceOf(segmentation) is not None

    def compareWithAiResult(
        self,
        parameterNode: VirtualBiopsySegmentationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> vtkMRMLTableNode:
        """What the clinician changed in ``parameterNode.segmentation.outputSegmentation`` since the review
        started, into ``parameterNode.review.changesTable`` (created when empty); the segmentation's
        provenance records that it was edited.
        """
        from VirtualBiopsy.segment.review import ReviewLogic

        table = ReviewLogic(slicer.mrmlScene).compare(
            parameterNode.segmentation.outputSegmentation,
            outputTable=parameterNode.review.changesTable,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.review.changesTable = table
        return table

    @staticmethod
    def segmentOriginsOf(parameterNode: VirtualBiopsySegmentationParameterNode):
        """How each segment of the output segmentation was made: ``"AI"`` when equal to the review's AI reference,
        ``"manual"`` when edited (:func:`VirtualBiopsy.mrml.dicomExportNodes.segmentOrigins`)."""
        from VirtualBiopsy.mrml.dicomExportNodes import segmentOrigins
        from VirtualBiopsy.segment.review import ReviewLogic

        section = parameterNode.segmentation
        reference = ReviewLogic(slicer.mrmlScene).referenceOf(section.outputSegmentation)
        return segmentOrigins(section.outputSegmentation, reference, section.inputVolume)

    def exportToDicom(
        self,
        parameterNode: VirtualBiopsySegmentationParameterNode,
        referenceFiles: list[str],
        outFolder: str,
        algorithms: dict[str, str],
        modelId: str = "",
        modelVersion: str = "",
        featuresTable: vtkMRMLTableNode | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Write ``outFolder/seg.dcm`` (and ``sr.dcm`` with ``featuresTable``) for the output segmentation, on the
        input volume's grid, referring to the DICOM series of ``referenceFiles`` (the input volume's, from
        Slicer's DICOM database).

        :param algorithms: segment name → ``"AI"`` or ``"manual"`` (:meth:`segmentOriginsOf`, or the user's answer).
        """
        from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

        section = parameterNode.segmentation
        return exportSegmentationNode(
            section.outputSegmentation,
            section.inputVolume,
            referenceFiles,
            outFolder,
            algorithms,
            modelId,
            modelVersion,
            featuresTableNode=featuresTable,
            progress=progress,
            cancel=cancel,
        )


def describeModel(entry) -> str:
    """One phrase for the model selector: its backend and, for a catalogue model, "download on first use, N MB,
    licence X" or "cached"."""
    if not entry.isCatalogue:
        return entry.backend
    from VirtualBiopsy.models.catalogue import downloadSummary

    return f"{entry.backend}, {downloadSummary(entry)}"


class VirtualBiopsySegmentationTest(ScriptedLoadableModuleTest):
    """Self-test: segment a synthetic tumour through the module logic, review it and compare the correction
    (bodies in ``VirtualBiopsyWidgets.segmentationSelfTests``)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        from VirtualBiopsyWidgets import segmentationSelfTests
        from VirtualBiopsyWidgets.requirements import ensureForSelfTest

        # Installed first: the tests must pass in a Slicer that has only what the extension installs.
        ensureForSelfTest(__file__, "VirtualBiopsySegmentation", ("threshold", "review"))
        for test in segmentationSelfTests.SELF_TESTS:
            self.setUp()
            test(self, VirtualBiopsySegmentationLogic())
