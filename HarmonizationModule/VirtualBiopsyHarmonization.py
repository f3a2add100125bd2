"""Virtual Biopsy Harmonization: preprocessing, registration and intensity normalization of MR volumes,
ComBat on feature tables and deep style transfer (3D Slicer module)."""

import pathlib
import sys

import qt
import slicer
from slicer import vtkMRMLScalarVolumeNode
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

from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig, RegistrationConfig
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    configFromParameterNode,
    describeModule,
    harmonizationSelfTests,
    workerRunner,
)
from VirtualBiopsyWidgets.harmonizationParameters import (
    ComBatParameters,
    NormalizationParameters,
    PreprocessingParameters,
    RegistrationParameters,
    StyleTransferParameters,
)
from VirtualBiopsyWidgets.harmonizationSections import HarmonizationSectionsMixin


class VirtualBiopsyHarmonization(ScriptedLoadableModule):
    """Module description (see ``slicer.ScriptedLoadableModule``)."""

    def __init__(self, parent) -> None:
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(
            self.parent,
            _("Virtual Biopsy Harmonization"),
            _(
                "Makes MR images from different scanners and sites comparable, in pipeline order. "
                "Preprocessing: N4 bias-field correction, denoising, resampling (isotropic, in-plane or onto "
                "a reference volume) and a head mask. Registration: aligns a moving volume of the patient onto "
                "a fixed one (rigid, affine, optional B-spline; an optional tumour mask) into a transform and a "
                "resampled volume, with a quality-control line. Intensity normalization: z-score, WhiteStripe, "
                "Nyúl standardization (a cohort's standard scale), histogram matching to a reference volume, "
                "percentile rescaling, histogram equalization or CLAHE, with statistics from the head (Otsu "
                "foreground), a segmentation or every voxel. ComBat: fits ComBat on a cohort's features table "
                "with a clinical table (batch column, covariates to preserve) and writes a harmonized table, "
                "optionally saving the model for new patients. Style transfer: translates a volume into another "
                "site's appearance with a trained CycleGAN. Every action makes new nodes; inputs are never "
                "modified. Long actions show progress and can be cancelled."
            ),
            dependencies=["Tables"],
        )


@parameterNodeWrapper
class VirtualBiopsyHarmonizationParameterNode:
    """One parameter pack per section of the panel (:mod:`VirtualBiopsyWidgets.harmonizationParameters`), each
    the section's config field for field plus its input and output nodes; the ``.ui`` file binds
    ``<section>.<field>``.
    """

    preprocessing: PreprocessingParameters
    registration: RegistrationParameters
    normalization: NormalizationParameters
    combat: ComBatParameters
    styleTransfer: StyleTransferParameters


#: Normalization → the widgets of its options (the others are disabled).
METHOD_OPTION_WIDGETS = {
    "whitestripe": ("whiteStripeContrastComboBox", "whiteStripeWidthSpinBox"),
    "nyul": ("nyulModelFileLineEdit", "nyulModelFileBrowseButton"),
    "histmatch": ("histogramLevelsSpinBox", "histogramMatchPointsSpinBox"),
    "percentile": ("percentileLowSpinBox", "percentileHighSpinBox", "percentileClipCheckBox"),
    "histeq": ("equalizationBinsSpinBox",),
    "clahe": ("equalizationBinsSpinBox", "claheClipLimitSpinBox", "claheKernelSizeMmSpinBox"),
}


class VirtualBiopsyHarmonizationWidget(HarmonizationSectionsMixin, VirtualBiopsyModuleWidget):
    """Panel, in pipeline order: Preprocessing, Registration, Intensity normalization, ComBat and
    Style transfer (their glue: :class:`~VirtualBiopsyWidgets.harmonizationSections.HarmonizationSectionsMixin`),
    one progress bar and Cancel button for all.
    """

    def createLogic(self) -> "VirtualBiopsyHarmonizationLogic":
        return VirtualBiopsyHarmonizationLogic()

    def setupConnections(self) -> None:
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.nyulModelFileBrowseButton.connect("clicked(bool)", self.onBrowseNyulModelFile)
        self.setupSectionConnections()

    def updateGuiFromParameterNode(self) -> None:
        """Enable the options of the chosen method, the mask selector with maskMode 'mask' and the
        reference selector with histogram matching (and the other sections' dependent widgets)."""
        if not self._parameterNode:
            return
        normalization = self._parameterNode.normalization
        enabled = set(METHOD_OPTION_WIDGETS.get(normalization.normalization, ()))
        for name in {widget for widgets in METHOD_OPTION_WIDGETS.values() for widget in widgets}:
            getattr(self.ui, name).enabled = name in enabled
        self.ui.maskSelector.enabled = normalization.maskMode == "mask"
        self.ui.referenceSelector.enabled = normalization.normalization == "histmatch"
        self.updateSectionsFromParameterNode()

    def onBrowseNyulModelFile(self) -> None:
        """Pick the Nyúl standard scale written by ``virtual-biopsy nyul fit``."""
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Nyúl standard scale"), "", _("Nyúl models (*.json)"))
        if path and self._parameterNode:
            self._parameterNode.normalization.nyulModelFile = path

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyHarmonizationParameterNode) -> None:
        self.selectSectionDefaults(parameterNode)

    def updateButtons(self) -> None:
        section = self._parameterNode.normalization if self._parameterNode else None
        missing = None
        if not (section and section.inputVolume):
            missing = _("Select an input volume")
        elif section.maskMode == "mask" and not section.maskSegmentation:
            missing = _("Select a mask segmentation, or take the statistics from the foreground")
        elif section.normalization == "histmatch" and not section.referenceVolume:
            missing = _("Select the reference volume to match")
        elif section.normalization == "nyul" and not section.nyulModelFile.strip():
            missing = _("Choose the Nyúl model file (written by virtual-biopsy nyul fit) under Options")
        self.ui.applyButton.enabled = missing is None and not self.isRunning
        self.ui.applyButton.toolTip = missing or _("Normalize the input volume")
        self.updateSectionButtons()

    def onApplyButton(self) -> None:
        """Harmonize the input volume and show the result in the slice views."""
        parameterNode = self._parameterNode
        outputVolume = self.runStage(
            _("Harmonization failed."),
            "normalization",
            lambda progress, cancel: self.logic.process(parameterNode, progress, cancel),
        )
        if outputVolume is not None:
            slicer.util.setSliceViewerLayers(background=outputVolume, fit=True)


class VirtualBiopsyHarmonizationLogic(ScriptedLoadableModuleLogic):
    """Runs the library's harmonization logics on the sections of a parameter node: preprocessing and
    registration (:mod:`VirtualBiopsy.harmonize.preprocessingLogic`), intensity normalization
    (:class:`VirtualBiopsy.harmonize.logic.HarmonizationLogic`), ComBat
    (:class:`VirtualBiopsy.harmonize.combatLogic.ComBatLogic`) and style transfer
    (:class:`VirtualBiopsy.harmonize.styleTransfer.logic.StyleTransferLogic`). Each action builds its section's
    config and calls the library with the section's nodes, ``progress`` and ``cancel``; its outputs are new
    nodes (or the section's output nodes), stored back in the section. Outputs are stored through a fresh
    ``parameterNode.<section>``: a pack read before the run writes all its members back when one is set.
    """

    def getParameterNode(self) -> VirtualBiopsyHarmonizationParameterNode:
        return VirtualBiopsyHarmonizationParameterNode(super().getParameterNode())

    def process(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> vtkMRMLScalarVolumeNode:
        """Normalize ``normalization.inputVolume`` into ``normalization.outputVolume`` (created and stored when empty).

        :returns: the output volume.
        """
        from VirtualBiopsy.harmonize.logic import HarmonizationLogic

        section = parameterNode.normalization
        config = configFromParameterNode(HarmonizationConfig, parameterNode.normalization)
        output = HarmonizationLogic(slicer.mrmlScene).run(
            section.inputVolume,
            config,
            section.outputVolume,
            progress=progress,
            cancel=cancel,
            mask=section.maskSegmentation if config.maskMode == "mask" else None,
            reference=section.referenceVolume if config.normalization == "histmatch" else None,
        )
        parameterNode.normalization.outputVolume = output
        return output

    def correctBiasField(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """N4-correct ``preprocessing.inputVolume`` (fitted in ``n4MaskSegmentation``, default the head) into a new
        volume, stored as ``preprocessing.outputVolume``."""
        logic, config, section = self._preprocessing(parameterNode)
        output = logic.correctBiasField(
            section.inputVolume, config, mask=section.n4MaskSegmentation, progress=progress, cancel=cancel
        )
        parameterNode.preprocessing.outputVolume = output
        return output

    def denoise(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Denoise ``preprocessing.inputVolume`` into a new volume, stored as ``preprocessing.outputVolume``."""
        logic, config, section = self._preprocessing(parameterNode)
        output = logic.denoise(section.inputVolume, config, progress=progress, cancel=cancel)
        parameterNode.preprocessing.outputVolume = output
        return output

    def resample(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Resample ``preprocessing.inputVolume`` (onto ``resamplingReferenceVolume`` with preset ``reference``)
        into a new volume, stored as ``preprocessing.outputVolume``."""
        logic, config, section = self._preprocessing(parameterNode)
        reference = section.resamplingReferenceVolume if config.resamplingPreset == "reference" else None
        output = logic.resample(section.inputVolume, config, reference=reference, progress=progress, cancel=cancel)
        parameterNode.preprocessing.outputVolume = output
        return output

    def headMask(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """The head of ``preprocessing.inputVolume`` as a new labelmap, stored as ``preprocessing.headMaskLabelmap``."""
        logic, _config, section = self._preprocessing(parameterNode)
        labelmap = logic.headMask(section.inputVolume, progress=progress, cancel=cancel)
        parameterNode.preprocessing.headMaskLabelmap = labelmap
        return labelmap

    def _preprocessing(self, parameterNode: VirtualBiopsyHarmonizationParameterNode):
        from VirtualBiopsy.harmonize.preprocessingLogic import PreprocessingLogic

        config = configFromParameterNode(PreprocessingConfig, parameterNode.preprocessing)
        return PreprocessingLogic(slicer.mrmlScene), config, parameterNode.preprocessing

    def register(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Register ``registration.movingVolume`` onto ``fixedVolume`` (focused by ``maskSegmentation`` if set).

        :returns: ``(transformNode, registeredVolume, result)``; the nodes are new and stored as the section's
            ``outputTransform`` and ``outputVolume``, ``result`` is the library's ``RegistrationResult``.
        """
        from VirtualBiopsy.harmonize.preprocessingLogic import RegistrationLogic

        section = parameterNode.registration
        config = configFromParameterNode(RegistrationConfig, parameterNode.registration)
        logic = RegistrationLogic(slicer.mrmlScene)
        transformNode, registeredVolume = logic.run(
            section.fixedVolume,
            section.movingVolume,
            config,
            mask=section.maskSegmentation,
            progress=progress,
            cancel=cancel,
        )
        parameterNode.registration.outputTransform = transformNode
        parameterNode.registration.outputVolume = registeredVolume
        return transformNode, registeredVolume, logic.result

    def harmonizeFeatures(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Fit ComBat on ``combat.featuresTable`` with ``clinicalTable`` and harmonize that table into
        ``outputTable`` (a new table when empty); save the model when ``combatModelFile`` is set.

        :returns: ``(model, outputTable)``.
        :raises InputError: when the model file exists already or has no folder (checked before fitting;
            nothing is added).
        """
        from VirtualBiopsy.harmonize.combatLogic import ComBatLogic

        section = parameterNode.combat
        config = configFromParameterNode(ComBatConfig, parameterNode.combat)
        model, output = ComBatLogic(slicer.mrmlScene).harmonize(
            section.featuresTable, section.clinicalTable, config, section.outputTable, progress=progress, cancel=cancel
        )
        parameterNode.combat.outputTable = output
        return model, output

    def transferStyle(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Translate ``styleTransfer.inputVolume`` with the model ``styleModel`` into a new volume, stored as
        ``styleTransfer.outputVolume``."""
        from VirtualBiopsy.harmonize.styleTransfer.logic import StyleTransferLogic

        section = parameterNode.styleTransfer
        config = configFromParameterNode(StyleTransferConfig, parameterNode.styleTransfer)
        output = StyleTransferLogic(slicer.mrmlScene, runner=workerRunner()).run(
            section.inputVolume, config, progress=progress, cancel=cancel
        )
        parameterNode.styleTransfer.outputVolume = output
        return output


class VirtualBiopsyHarmonizationTest(ScriptedLoadableModuleTest):
    """Self-test: each section of the panel through the module logic, on synthetic data (the bodies of
    the non-normalization tests are in :mod:`VirtualBiopsyWidgets.harmonizationSelfTests`)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        from VirtualBiopsyWidgets.requirements import ensureForSelfTest

        selfTests = harmonizationSelfTests
        for action, test in (
            ("preprocessing", selfTests.testPreprocessing),
            ("registration", selfTests.testRegistration),
            ("normalization", selfTests.testZScoreInHead),
            ("normalization", selfTests.testCancelLeavesNoOutput),
            ("normalization", selfTests.testPercentileInSegmentation),
            ("combat", selfTests.testComBat),
            ("styleTransfer", selfTests.testStyleTransfer),
        ):
            # Installed first: the test must pass in a Slicer that has only what the extension installs.
            ensureForSelfTest(__file__, "VirtualBiopsyHarmonization", (action,))
            self.setUp()
            test(self, VirtualBiopsyHarmonizationLogic())
