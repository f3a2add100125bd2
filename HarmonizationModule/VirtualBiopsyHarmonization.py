"""Virtual Biopsy Harmonization: intensity normalization of MR volumes (3D Slicer module)."""

import pathlib
import sys
from typing import Annotated

import qt
import slicer
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
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

from VirtualBiopsy.harmonize.config import (
    MASK_MODES,
    NORMALIZATION_METHODS,
    WHITE_STRIPE_CONTRASTS,
    HarmonizationConfig,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets import (
    VirtualBiopsyModuleWidget,
    addSyntheticTumourVolume,
    configFromParameterNode,
    describeModule,
)

#: Defaults of the parameter node come from the config dataclass.
HARMONIZATION_DEFAULTS = HarmonizationConfig()


class VirtualBiopsyHarmonization(ScriptedLoadableModule):
    """Module description (see ``slicer.ScriptedLoadableModule``)."""

    def __init__(self, parent) -> None:
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(
            self.parent,
            _("Virtual Biopsy Harmonization"),
            _(
                "Normalizes the intensities of an MR volume so that images from different "
                "scanners and sites can be compared: z-score, WhiteStripe, Nyúl standardization "
                "(a cohort's standard scale), histogram matching to a reference volume, percentile "
                "rescaling, histogram equalization or CLAHE, with statistics from the head "
                "(Otsu foreground), a segmentation or every voxel. The input volume is not modified."
            ),
        )


@parameterNodeWrapper
class VirtualBiopsyHarmonizationParameterNode:
    """The settings of :class:`VirtualBiopsy.harmonize.config.HarmonizationConfig`, field for
    field, plus the input and output volumes.
    """

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


#: Normalization → the widgets of its options (the others are disabled).
METHOD_OPTION_WIDGETS = {
    "whitestripe": ("whiteStripeContrastComboBox", "whiteStripeWidthSpinBox"),
    "nyul": ("nyulModelFileLineEdit", "nyulModelFileBrowseButton"),
    "histmatch": ("histogramLevelsSpinBox", "histogramMatchPointsSpinBox"),
    "percentile": ("percentileLowSpinBox", "percentileHighSpinBox", "percentileClipCheckBox"),
    "histeq": ("equalizationBinsSpinBox",),
    "clahe": ("equalizationBinsSpinBox", "claheClipLimitSpinBox", "claheKernelSizeMmSpinBox"),
}


class VirtualBiopsyHarmonizationWidget(VirtualBiopsyModuleWidget):
    """Panel: input and output volume, normalization settings, Apply, progress and Cancel."""

    def createLogic(self) -> "VirtualBiopsyHarmonizationLogic":
        return VirtualBiopsyHarmonizationLogic()

    def setupConnections(self) -> None:
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.nyulModelFileBrowseButton.connect("clicked(bool)", self.onBrowseNyulModelFile)

    def updateGuiFromParameterNode(self) -> None:
        """Enable the options of the chosen method, the mask selector with maskMode 'mask' and the
        reference selector with histogram matching."""
        parameterNode = self._parameterNode
        if not parameterNode:
            return
        enabled = set(METHOD_OPTION_WIDGETS.get(parameterNode.normalization, ()))
        for name in {widget for widgets in METHOD_OPTION_WIDGETS.values() for widget in widgets}:
            getattr(self.ui, name).enabled = name in enabled
        self.ui.maskSelector.enabled = parameterNode.maskMode == "mask"
        self.ui.referenceSelector.enabled = parameterNode.normalization == "histmatch"

    def onBrowseNyulModelFile(self) -> None:
        """Pick the Nyúl standard scale written by ``virtual-biopsy nyul fit``."""
        path = qt.QFileDialog.getOpenFileName(self.parent, _("Nyúl standard scale"), "", _("Nyúl models (*.json)"))
        if path and self._parameterNode:
            self._parameterNode.nyulModelFile = path

    def selectDefaultInputs(self, parameterNode: VirtualBiopsyHarmonizationParameterNode) -> None:
        if not parameterNode.inputVolume:
            parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

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

    def onApplyButton(self) -> None:
        """Harmonize the input volume and show the result in the slice views."""
        parameterNode = self._parameterNode
        outputVolume = self.runStage(
            _("Harmonization failed."),
            lambda progress, cancel: self.logic.process(parameterNode, progress, cancel),
        )
        if outputVolume is not None:
            slicer.util.setSliceViewerLayers(background=outputVolume, fit=True)


class VirtualBiopsyHarmonizationLogic(ScriptedLoadableModuleLogic):
    """Runs :class:`VirtualBiopsy.harmonize.logic.HarmonizationLogic` on the settings of a
    parameter node; all computation lives in the library.
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


class VirtualBiopsyHarmonizationTest(ScriptedLoadableModuleTest):
    """Self-test: harmonize a synthetic volume through the module logic."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_zScoreInHead()
        self.setUp()
        self.test_cancelLeavesNoOutput()
        self.setUp()
        self.test_percentileInSegmentation()

    def test_zScoreInHead(self) -> None:
        """The output has mean 0 and SD 1 inside the head, the background value outside."""
        import numpy as np

        self.delayDisplay("Harmonizing a synthetic volume")
        inputVolume, head, _tumour = addSyntheticTumourVolume()
        inputBefore = slicer.util.arrayFromVolume(inputVolume).copy()
        logic = VirtualBiopsyHarmonizationLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.inputVolume = inputVolume
        parameterNode.backgroundValue = -5.0
        reports = []
        outputVolume = logic.process(parameterNode, progress=lambda fraction, message: reports.append(fraction))

        self.assertIsNotNone(outputVolume)
        self.assertIs(parameterNode.outputVolume, outputVolume)
        self.assertNotEqual(outputVolume.GetID(), inputVolume.GetID())
        output = slicer.util.arrayFromVolume(outputVolume)
        self.assertAlmostEqual(float(output[head].mean()), 0.0, delta=1e-2)
        self.assertAlmostEqual(float(output[head].std()), 1.0, delta=1e-2)
        self.assertTrue(np.all(output[~head] == -5.0))
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(inputVolume), inputBefore)
        self.assertEqual(reports[-1], 1.0)
        self.delayDisplay("Test passed")

    def test_cancelLeavesNoOutput(self) -> None:
        """A cancelled run raises CancelledError and adds no volume to the scene."""
        from VirtualBiopsy.errors import CancelledError

        inputVolume, _head, _tumour = addSyntheticTumourVolume(size=24)
        logic = VirtualBiopsyHarmonizationLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.inputVolume = inputVolume
        volumesBefore = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
        cancel = CancelToken()
        cancel.cancel()
        with self.assertRaises(CancelledError):
            logic.process(parameterNode, cancel=cancel)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode"), volumesBefore)
        self.assertIsNone(parameterNode.outputVolume)
        self.delayDisplay("Test passed")

    def test_percentileInSegmentation(self) -> None:
        """Percentile rescaling with statistics from a segmentation: the tumour spans [0, 1], 0 outside."""
        import numpy as np
        import SimpleITK as sitk

        from VirtualBiopsy.mrml import labelmapImageToSegmentation, volumeNodeToImage

        inputVolume, _head, tumour = addSyntheticTumourVolume(size=32)
        tumourImage = sitk.GetImageFromArray(tumour.astype(np.uint8))
        tumourImage.CopyInformation(volumeNodeToImage(inputVolume))
        segmentation = labelmapImageToSegmentation(tumourImage, slicer.mrmlScene, "Tumour", referenceVolume=inputVolume)
        logic = VirtualBiopsyHarmonizationLogic()
        parameterNode = logic.getParameterNode()
        parameterNode.inputVolume = inputVolume
        parameterNode.normalization = "percentile"
        parameterNode.maskMode = "mask"
        parameterNode.maskSegmentation = segmentation
        output = slicer.util.arrayFromVolume(logic.process(parameterNode))
        self.assertAlmostEqual(float(output[tumour].min()), 0.0, delta=1e-6)
        self.assertAlmostEqual(float(output[tumour].max()), 1.0, delta=1e-6)
        self.assertTrue(np.all(output[~tumour] == 0.0))
        self.delayDisplay("Test passed")
