"""The Harmonization panel's parameter packs, one per section (3D Slicer only: ``slicer.parameterNodeWrapper``).

Each pack mirrors its section's config dataclass field for field (same names, same types, defaults read
from the dataclass), then holds the section's input and output nodes. The config fields come first:
Slicer's pack serializer decides whether a scene already has a pack by its first member, and a batch run
writes only the config fields (:func:`VirtualBiopsy.mrml.parameters.saveStageConfig` with ``pack=``), so
that the panel then shows the settings the run used. The ``.ui`` file binds them by dotted name
(``preprocessing.n4ShrinkFactor``); the module builds each config with
``configFromParameterNode(PreprocessingConfig, parameterNode.preprocessing)``.
"""

from typing import Annotated

from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
    vtkMRMLTransformNode,
)
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterPack

from VirtualBiopsy.harmonize.combatConfig import COMBAT_METHODS, UNSEEN_BATCH_CHOICES, ComBatConfig
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

#: Defaults of the packs come from the config dataclasses.
PREPROCESSING_DEFAULTS = PreprocessingConfig()
REGISTRATION_DEFAULTS = RegistrationConfig()
HARMONIZATION_DEFAULTS = HarmonizationConfig()
COMBAT_DEFAULTS = ComBatConfig()
STYLE_TRANSFER_DEFAULTS = StyleTransferConfig()


@parameterPack
class PreprocessingParameters:
    """:class:`~VirtualBiopsy.harmonize.preprocessingConfig.PreprocessingConfig`, then the nodes of N4, denoising,
    resampling and the head mask."""

    n4ShrinkFactor: Annotated[int, WithinRange(1, 16)] = PREPROCESSING_DEFAULTS.n4ShrinkFactor
    n4Levels: Annotated[int, WithinRange(1, 10)] = PREPROCESSING_DEFAULTS.n4Levels
    n4Iterations: Annotated[int, WithinRange(1, 10000)] = PREPROCESSING_DEFAULTS.n4Iterations
    n4ConvergenceThreshold: Annotated[float, WithinRange(1e-9, 1.0)] = PREPROCESSING_DEFAULTS.n4ConvergenceThreshold
    denoisingMethod: Annotated[str, Choice(DENOISING_METHOD_NAMES)] = PREPROCESSING_DEFAULTS.denoisingMethod
    resamplingPreset: Annotated[str, Choice(RESAMPLING_PRESETS)] = PREPROCESSING_DEFAULTS.resamplingPreset
    resamplingSpacingMm: Annotated[float, WithinRange(0.01, 100.0)] = PREPROCESSING_DEFAULTS.resamplingSpacingMm
    resamplingInterpolator: Annotated[str, Choice(INTERPOLATOR_NAMES)] = PREPROCESSING_DEFAULTS.resamplingInterpolator
    inputVolume: vtkMRMLScalarVolumeNode
    n4MaskSegmentation: vtkMRMLSegmentationNode
    resamplingReferenceVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode
    headMaskLabelmap: vtkMRMLLabelMapVolumeNode


@parameterPack
class RegistrationParameters:
    """:class:`~VirtualBiopsy.harmonize.preprocessingConfig.RegistrationConfig`, then the volumes, the tumour mask
    and the outputs."""

    registrationStages: Annotated[str, Choice(REGISTRATION_STAGE_CHOICES)] = REGISTRATION_DEFAULTS.registrationStages
    registrationBspline: bool = REGISTRATION_DEFAULTS.registrationBspline
    focusOnMask: bool = REGISTRATION_DEFAULTS.focusOnMask
    maskDilationMm: Annotated[float, WithinRange(0.1, 100.0)] = REGISTRATION_DEFAULTS.maskDilationMm
    registrationRetry: bool = REGISTRATION_DEFAULTS.registrationRetry
    qcMinimumNmi: Annotated[float, WithinRange(1.0, 2.0)] = REGISTRATION_DEFAULTS.qcMinimumNmi
    registrationSeed: Annotated[int, WithinRange(0, 2**31 - 2)] = REGISTRATION_DEFAULTS.registrationSeed
    fixedVolume: vtkMRMLScalarVolumeNode
    movingVolume: vtkMRMLScalarVolumeNode
    maskSegmentation: vtkMRMLSegmentationNode
    outputTransform: vtkMRMLTransformNode
    outputVolume: vtkMRMLScalarVolumeNode


@parameterPack
class NormalizationParameters:
    """:class:`~VirtualBiopsy.harmonize.config.HarmonizationConfig`, then the input, its mask, the histogram-matching
    reference and the output."""

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
    inputVolume: vtkMRMLScalarVolumeNode
    maskSegmentation: vtkMRMLSegmentationNode
    referenceVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode


@parameterPack
class ComBatParameters:
    """:class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig`, then the features and clinical tables and the
    harmonized table."""

    batchColumn: str = COMBAT_DEFAULTS.batchColumn
    combatCovariates: str = COMBAT_DEFAULTS.combatCovariates
    combatMethod: Annotated[str, Choice(COMBAT_METHODS)] = COMBAT_DEFAULTS.combatMethod
    referenceBatch: str = COMBAT_DEFAULTS.referenceBatch
    combatModelFile: str = COMBAT_DEFAULTS.combatModelFile
    categoricalCovariates: str = COMBAT_DEFAULTS.categoricalCovariates
    passThroughColumns: str = COMBAT_DEFAULTS.passThroughColumns
    unseenBatch: Annotated[str, Choice(UNSEEN_BATCH_CHOICES)] = COMBAT_DEFAULTS.unseenBatch
    featuresTable: vtkMRMLTableNode
    clinicalTable: vtkMRMLTableNode
    outputTable: vtkMRMLTableNode


@parameterPack
class StyleTransferParameters:
    """:class:`~VirtualBiopsy.harmonize.styleTransfer.applicationConfig.StyleTransferConfig`, then the volume to
    translate and the output."""

    styleModel: str = STYLE_TRANSFER_DEFAULTS.styleModel
    styleDevice: Annotated[str, Choice(STYLE_DEVICES)] = STYLE_TRANSFER_DEFAULTS.styleDevice
    styleBatchSize: Annotated[int, WithinRange(1, 1024)] = STYLE_TRANSFER_DEFAULTS.styleBatchSize
    inputVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode
