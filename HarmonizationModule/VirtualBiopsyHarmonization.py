"""Virtual Biopsy Harmonization: preprocessing, registration and intensity normalization of MR volumes,
ComBat on feature tables and deep style transfer (3D Slicer module)."""

import pathlib
import sys
from typing import Annotated

import qt
import slicer
from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
    vtkMRMLTransformNode,
)
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
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

from VirtualBiopsy.harmonize.combatConfig import COMBAT_METHODS, ComBatConfig
from VirtualBiopsy.harmonize.config import (
    MASK_MODES,
    NORMALIZATION_METHODS,
    WHITE_STRIPE_CONTRASTS,
    HarmonizationConfig,
)
from VirtualBiopsy.harmonize.preprocessingConfig import (
    DENOISING_METHOD_NAMES,
    INTERPOLATOR_NAMES,
    REGISTRATION_STAGE_CHOICES,
    PreprocessingConfig,
    RegistrationConfig,
)
from VirtualBiopsy.harmonize.resampling import RESAMPLING_PRESETS
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import STYLE_DEVICES, StyleTransferConfig
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    configFromParameterNode,
    describeModule,
    harmonizationSelfTests,
    workerRunner,
)
from VirtualBiopsyWidgets.harmonizationSections import HarmonizationSectionsMixin

#: Defaults of the parameter node come from the config dataclasses.
PREPROCESSING_DEFAULTS = PreprocessingConfig()
REGISTRATION_DEFAULTS = RegistrationConfig()
HARMONIZATION_DEFAULTS = HarmonizationConfig()
COMBAT_DEFAULTS = ComBatConfig()
STYLE_TRANSFER_DEFAULTS = StyleTransferConfig()


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
    """The settings of :class:`~VirtualBiopsy.harmonize.preprocessingConfig.PreprocessingConfig`,
    :class:`~VirtualBiopsy.harmonize.preprocessingConfig.RegistrationConfig`,
    :class:`~VirtualBiopsy.harmonize.config.HarmonizationConfig`,
    :class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig` and
    :class:`~VirtualBiopsy.harmonize.styleTransfer.applicationConfig.StyleTransferConfig`, field for
    field (their names do not collide), plus the input and output nodes of each section.
    """

    preprocessingInputVolume: vtkMRMLScalarVolumeNode
    n4MaskSegmentation: vtkMRMLSegmentationNode
    resamplingReferenceVolume: vtkMRMLScalarVolumeNode
    preprocessingOutputVolume: vtkMRMLScalarVolumeNode
    headMaskLabelmap: vtkMRMLLabelMapVolumeNode
    n4ShrinkFactor: Annotated[int, WithinRange(1, 16)] = PREPROCESSING_DEFAULTS.n4ShrinkFactor
    n4Levels: Annotated[int, WithinRange(1, 10)] = PREPROCESSING_DEFAULTS.n4Levels
    n4Iterations: Annotated[int, WithinRange(1, 10000)] = PREPROCESSING_DEFAULTS.n4Iterations
    n4ConvergenceThreshold: Annotated[float, WithinRange(1e-9, 1.0)] = PREPROCESSING_DEFAULTS.n4ConvergenceThreshold
    denoisingMethod: Annotated[str, Choice(DENOISING_METHOD_NAMES)] = PREPROCESSING_DEFAULTS.denoisingMethod
    resamplingPreset: Annotated[str, Choice(RESAMPLING_PRESETS)] = PREPROCESSING_DEFAULTS.resamplingPreset
    resamplingSpacingMm: Annotated[float, WithinRange(0.01, 100.0)] = PREPROCESSING_DEFAULTS.resamplingSpacingMm
    resamplingInterpolator: Annotated[str, Choice(INTERPOLATOR_NAMES)] = PREPROCESSING_DEFAULTS.resamplingInterpolator

    fixedVolume: vtkMRMLScalarVolumeNode
    movingVolume: vtkMRMLScalarVolumeNode
    registrationMaskSegmentation: vtkMRMLSegmentationNode
    registrationTransform: vtkMRMLTransformNode
    registeredVolume: vtkMRMLScalarVolumeNode
    registrationStages: Annotated[str, Choice(REGISTRATION_STAGE_CHOICES)] = REGISTRATION_DEFAULTS.registrationStages
    registrationBspline: bool = REGISTRATION_DEFAULTS.registrationBspline
    focusOnMask: bool = REGISTRATION_DEFAULTS.focusOnMask
    maskDilationMm: Annotated[float, WithinRange(0.1, 100.0)] = REGISTRATION_DEFAULTS.maskDilationMm
    registrationRetry: bool = REGISTRATION_DEFAULTS.registrationRetry
    qcMinimumNmi: Annotated[float, WithinRange(1.0, 2.0)] = REGISTRATION_DEFAULTS.qcMinimumNmi
    registrationSeed: Annotated[int, WithinRange(0, 2**31 - 2)] = REGISTRATION_DEFAULTS.registrationSeed

    inputVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode
    maskSegmentation: vtkMRMLSegmentationNode
    referenceVolume: vtkMRMLScalarVolumeNode
    normalization: Annotated[str, Choice(NORMALIZATION_METHODS)] = HARMONIZATION_DEFAULTS.normalization
    maskMode: Annotated[str, Choice(MASK_MODES)] = HARMONIZATION_DEFAULTS.maskMode
    backgroundValue: Annotated[float, WithinRange(-1e6, 1e6)] = HARMONIZATION_DEFAULTS.backgroundValue
    normalizeOutsideMask: bool = HARMONIZATION_DEFAULTS.normalizeOutsideMask
    whiteStripeContrast: Annotated[str, Choice(WHITE_STRIPE_CONTRASTS)] = HARMONIZATION_DEFAULTS.whiteStripeContrast
    whiteStripeWidth: Annotated[float, WithinRange(0.001, 0.49)] = HARMONIZATION_DEFAULTS.whiteStripeWidth
    nyulModelFile: str = HARMONIZATION_DEFAULTS.nyulModelFile
    histogramLevels: Annotated[int, WithinRange(2, 65536)] = HARMONIZATION_DEFAULTS.histogramLevels
    histogramMatchPoints: Annotated[int, WithinRange(1, 1000)] = HARMONIZATION_DEFAULTS.histogramMatchPoints
    percentileLow: Annotated[float, WithinRange(0.0, 100.0)] = HARMONIZATION_DEFAULTS.percentileLow
    percentileHigh: Annotated[float, WithinRange(0.0, 100.0)] = HARMONIZATION_DEFAULTS.percentileHigh
    percentileClip: bool = HARMONIZATION_DEFAULTS.percentileClip
    equalizationBins: Annotated[int, WithinRange(2, 65536)] = HARMONIZATION_DEFAULTS.equalizationBins
    claheClipLimit: Annotated[float, WithinRange(0.0001, 1.0)] = HARMONIZATION_DEFAULTS.claheClipLimit
    claheKernelSizeMm: Annotated[float, WithinRange(0.0, 1000.0)] = HARMONIZATION_DEFAULTS.claheKernelSizeMm

    combatFeaturesTable: vtkMRMLTableNode
    combatClinicalTable: vtkMRMLTableNode
    combatOutputTable: vtkMRMLTableNode
    batchColumn: str = COMBAT_DEFAULTS.batchColumn
    combatCovariates: str = COMBAT_DEFAULTS.combatCovariates
    combatMethod: Annotated[str, Choice(COMBAT_METHODS)] = COMBAT_DEFAULTS.combatMethod
    referenceBatch: str = COMBAT_DEFAULTS.referenceBatch
    combatModelFile: str = COMBAT_DEFAULTS.combatModelFile

    styleInputVolume: vtkMRMLScalarVolumeNode
    styleOutputVolume: vtkMRMLScalarVolumeNode
    styleModel: str = STYLE_TRANSFER_DEFAULTS.styleModel
    styleDevice: Annotated[str, Choice(STYLE_DEVICES)] = STYLE_TRANSFER_DEFAULTS.styleDevice
    styleBatchSize: Annotated[int, WithinRange(1, 1024)] = STYLE_TRANSFER_DEFAULTS.styleBatchSize


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
        parameterNode = self._parameterNode
        if not parameterNode:
            return
        enabled = set(METHOD_OPTION_WIDGETS.get(parameterNode.normalization, ()))
        for name in {widget for widgets in METHOD_OPTION_WIDGETS.values() for widget in widgets}:
            getattr(self.ui, name).enabled = name in enabled
        self.ui.maskSelector.enabled = parameterNode.maskMode == "mask"
        self.ui.referenceSelector.enabled = parameterNode.normalization == "histmatch"
        self.updateSectionsFromParameterNode()

    def onBrowseNyulModelFile(self) -> None:
        """Pick the Nyúl standard scale written by ``virtual-biopsy nyul fit``."""
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Nyúl standard scale"), "", _("Nyúl models (*.json)"))
        if path and self._parameterNode:
            self._parameterNode.nyulModelFile = path

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyHarmonizationParameterNode) -> None:
        if not parameterNode.inputVolume:
            parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        self.selectSectionDefaults(parameterNode)

    def updateButtons(self) -> None:
        parameterNode = self._parameterNode
        missing = None
        if not (parameterNode and parameterNode.inputVolume):
            missing = _("Select an input volume")
        elif parameterNode.maskMode == "mask" and not parameterNode.maskSegmentation:
            missing = _("Select a mask segmentation, or take the statistics from the foreground")
        elif parameterNode.normalization == "histmatch" and not parameterNode.referenceVolume:
            missing = _("Select the reference volume to match")
        elif parameterNode.normalization == "nyul" and not parameterNode.nyulModelFile.strip():
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
    """Runs the library's harmonization logics on the settings of a parameter node: preprocessing and
    registration (:mod:`VirtualBiopsy.harmonize.preprocessingLogic`), intensity normalization
    (:class:`VirtualBiopsy.harmonize.logic.HarmonizationLogic`), ComBat
    (:class:`VirtualBiopsy.harmonize.combatLogic.ComBatLogic`) and style transfer
    (:class:`VirtualBiopsy.harmonize.styleTransfer.logic.StyleTransferLogic`). All computation lives in
    the library; every method takes ``progress`` and ``cancel`` and makes new nodes.
    """

    def getParameterNode(self) -> VirtualBiopsyHarmonizationParameterNode:
        return VirtualBiopsyHarmonizationParameterNode(super().getParameterNode())

    def process(
        self,
        parameterNode: VirtualBiopsyHarmonizationParameterNode,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> vtkMRMLScalarVolumeNode:
        """Normalize ``parameterNode.inputVolume`` into ``parameterNode.outputVolume``
        (created and stored in the parameter node when empty).

        :returns: the output volume.
        """
        from VirtualBiopsy.harmonize.logic import HarmonizationLogic

        config = configFromParameterNode(HarmonizationConfig, parameterNode)
        outputVolume = HarmonizationLogic(slicer.mrmlScene).run(
            parameterNode.inputVolume,
            config=config,
            outputVolume=parameterNode.outputVolume,
            progress=progress,
            cancel=cancel,
            maskNode=parameterNode.maskSegmentation if config.maskMode == "mask" else None,
            referenceVolume=parameterNode.referenceVolume if config.normalization == "histmatch" else None,
        )
        parameterNode.outputVolume = outputVolume
        return outputVolume


    def correctBiasField(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                         progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """N4-correct ``preprocessingInputVolume`` (fitted in ``n4MaskSegmentation``, default the head) into a
        new volume, stored as ``preprocessingOutputVolume``."""
        logic, config = self._preprocessing(parameterNode)
        output = logic.correctBiasField(parameterNode.preprocessingInputVolume,
                                        maskNode=parameterNode.n4MaskSegmentation, progress=progress,
                                        cancel=cancel, **config.biasFieldArguments())
        parameterNode.preprocessingOutputVolume = output
        return output

    def denoise(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Denoise ``preprocessingInputVolume`` into a new volume, stored as ``preprocessingOutputVolume``."""
        logic, config = self._preprocessing(parameterNode)
        output = logic.denoise(parameterNode.preprocessingInputVolume, progress=progress, cancel=cancel,
                               **config.denoisingArguments())
        parameterNode.preprocessingOutputVolume = output
        return output

    def resample(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Resample ``preprocessingInputVolume`` (onto ``resamplingReferenceVolume`` with preset ``reference``)
        into a new volume, stored as ``preprocessingOutputVolume``."""
        logic, config = self._preprocessing(parameterNode)
        reference = parameterNode.resamplingReferenceVolume if config.resamplingPreset == "reference" else None
        output = logic.resample(parameterNode.preprocessingInputVolume, referenceVolume=reference, progress=progress,
                                cancel=cancel, **config.resamplingArguments())
        parameterNode.preprocessingOutputVolume = output
        return output

    def headMask(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """The head of ``preprocessingInputVolume`` as a new labelmap, stored as ``headMaskLabelmap``."""
        logic, _config = self._preprocessing(parameterNode)
        labelmap = logic.headMask(parameterNode.preprocessingInputVolume, progress=progress, cancel=cancel)
        parameterNode.headMaskLabelmap = labelmap
        return labelmap

    def _preprocessing(self, parameterNode: VirtualBiopsyHarmonizationParameterNode):
        from VirtualBiopsy.harmonize.preprocessingLogic import PreprocessingLogic

        return PreprocessingLogic(slicer.mrmlScene), configFromParameterNode(PreprocessingConfig, parameterNode)

    def register(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Register ``movingVolume`` onto ``fixedVolume`` (focused by ``registrationMaskSegmentation`` if set).

        :returns: ``(transformNode, registeredVolume, result)``; the nodes are new and stored in the
            parameter node, ``result`` is the library's ``RegistrationResult`` (metrics and QC).
        """
        from VirtualBiopsy.harmonize.preprocessingLogic import RegistrationLogic

        config = configFromParameterNode(RegistrationConfig, parameterNode)
        logic = RegistrationLogic(slicer.mrmlScene)
        transformNode, registeredVolume = logic.run(
            parameterNode.fixedVolume, parameterNode.movingVolume, parameterNode.registrationMaskSegmentation,
            progress=progress, cancel=cancel, **config.registrationArguments())
        parameterNode.registrationTransform = transformNode
        parameterNode.registeredVolume = registeredVolume
        return transformNode, registeredVolume, logic.result

    def harmonizeFeatures(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                          progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Fit ComBat on ``combatFeaturesTable`` with ``combatClinicalTable`` and harmonize that table into
        ``combatOutputTable`` (a new table when empty); save the model when ``combatModelFile`` is set.

        :returns: ``(model, outputTable)``.
        :raises InputError: when the model file exists already or has no folder (checked before fitting;
            nothing is added).
        """
        from VirtualBiopsy.harmonize.combatLogic import ComBatLogic

        config = configFromParameterNode(ComBatConfig, parameterNode)
        model, output = ComBatLogic(slicer.mrmlScene).harmonize(
            parameterNode.combatFeaturesTable, parameterNode.combatClinicalTable,
            outputTableNode=parameterNode.combatOutputTable, progress=progress, cancel=cancel,
            modelFile=config.modelPath, **config.fitArguments())
        parameterNode.combatOutputTable = output
        return model, output

    def transferStyle(self, parameterNode: VirtualBiopsyHarmonizationParameterNode,
                      progress: ProgressCallback | None = None, cancel: CancelToken | None = None):
        """Translate ``styleInputVolume`` with the style-transfer model ``styleModel`` into a new volume,
        stored as ``styleOutputVolume``."""
        from VirtualBiopsy.harmonize.styleTransfer.logic import StyleTransferLogic

        config = configFromParameterNode(StyleTransferConfig, parameterNode)
        output = StyleTransferLogic(slicer.mrmlScene, runner=workerRunner()).run(parameterNode.styleInputVolume, progress=progress,
                                                          cancel=cancel, **config.runArguments())
        parameterNode.styleOutputVolume = output
        return output


class VirtualBiopsyHarmonizationTest(ScriptedLoadableModuleTest):
    """Self-test: each section of the panel through the module logic, on synthetic data (the bodies of
    the non-normalization tests are in :mod:`VirtualBiopsyWidgets.harmonizationSelfTests`)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        from VirtualBiopsyWidgets.requirements import ensureForSelfTest

        selfTests = harmonizationSelfTests
        for action, test in (("preprocessing", selfTests.testPreprocessing),
                             ("registration", selfTests.testRegistration),
                             ("normalization", selfTests.testZScoreInHead),
                             ("normalization", selfTests.testCancelLeavesNoOutput),
                             ("normalization", selfTests.testPercentileInSegmentation),
                             ("combat", selfTests.testComBat), ("styleTransfer", selfTests.testStyleTransfer)):
            # Installed first: the test must pass in a Slicer that has only what the extension installs.
            ensureForSelfTest(__file__, "VirtualBiopsyHarmonization", (action,))
            self.setUp()
            test(self, VirtualBiopsyHarmonizationLogic())
