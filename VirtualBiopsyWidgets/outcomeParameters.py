"""The Outcome panel's parameter packs, one per section (3D Slicer only: ``slicer.parameterNodeWrapper``).

Each pack mirrors its section's config dataclass field for field (same names, same types, defaults read from
the dataclass), then holds the section's input and output nodes. The config fields come first (Slicer's pack
serializer decides whether a scene already has a pack by its first member). The ``.ui`` file binds them by
dotted name (``survival.timeColumn``); the module builds each config with
``configFromParameterNode(SurvivalConfig, parameterNode.survival)``.

Feature exploration, Classifiers and Patient summary work on the features and clinical tables of the Cohort
outcome pack; Patient summary also reads the saved classifier and Shapley table of Classifiers and the map of
Deep learning. Cohort run mirrors :class:`~VirtualBiopsy.cohort.runRequest.CohortRunRequest` (the settings of
``virtual-biopsy run``) and holds no node.
"""

from typing import Annotated

from slicer import vtkMRMLPlotChartNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode
from slicer.parameterNodeWrapper import Choice, Minimum, WithinRange, parameterPack

from VirtualBiopsy.cohort.runRequest import PRESETS, CohortRunRequest
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.exploration.config import IMPUTATIONS, MAXIMUM_DISTRIBUTION_FEATURES, ExplorationConfig
from VirtualBiopsy.extract.radiomicsSettings import presetNames
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.deep.config import GRADCAM_METHODS, DeepOutcomeConfig
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig

#: Defaults of the packs come from the config dataclasses.
EXTRACTION_DEFAULTS = ExtractionConfig()
OUTCOME_DEFAULTS = OutcomeConfig()
EXPLORATION_DEFAULTS = ExplorationConfig()
SURVIVAL_DEFAULTS = SurvivalConfig()
CLASSIFIER_DEFAULTS = ClassifierPanelConfig()
DEEP_DEFAULTS = DeepOutcomeConfig()
SUMMARY_DEFAULTS = PatientSummaryConfig()
RUN_DEFAULTS = CohortRunRequest()

#: The shipped radiomics presets (``VirtualBiopsy/resources/presets/radiomics``).
RADIOMICS_PRESETS = tuple(presetNames())


@parameterPack
class FeaturesParameters:
    """Features: :class:`~VirtualBiopsy.extract.config.ExtractionConfig`, then the volume, the segmentation and
    the features table."""

    preset: Annotated[str, Choice(RADIOMICS_PRESETS)] = EXTRACTION_DEFAULTS.preset
    parameterFile: str = EXTRACTION_DEFAULTS.parameterFile
    featureClasses: list[str] = list(EXTRACTION_DEFAULTS.featureClasses)
    binWidth: Annotated[float, Minimum(0.0)] = EXTRACTION_DEFAULTS.binWidth
    resampledPixelSpacing: list[float] | None = EXTRACTION_DEFAULTS.resampledPixelSpacing
    minimumRoiVoxels: Annotated[int, Minimum(1)] = EXTRACTION_DEFAULTS.minimumRoiVoxels
    maximumBinCount: Annotated[int, Minimum(2)] = EXTRACTION_DEFAULTS.maximumBinCount
    resampleMaskToImage: bool = EXTRACTION_DEFAULTS.resampleMaskToImage
    cropToRoi: bool = EXTRACTION_DEFAULTS.cropToRoi
    volume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    outputTable: vtkMRMLTableNode


@parameterPack
class CohortParameters:
    """Cohort outcome: :class:`~VirtualBiopsy.outcome.config.OutcomeConfig`, then the cohort's features and
    clinical tables, the clusters table and the Kaplan–Meier chart."""

    numberOfClusters: Annotated[int, WithinRange(2, 20)] = OUTCOME_DEFAULTS.numberOfClusters
    randomSeed: Annotated[int, Minimum(0)] = OUTCOME_DEFAULTS.randomSeed
    patientColumn: str = OUTCOME_DEFAULTS.patientColumn
    timeColumn: str = OUTCOME_DEFAULTS.timeColumn
    eventColumn: str = OUTCOME_DEFAULTS.eventColumn
    featuresTable: vtkMRMLTableNode
    clinicalTable: vtkMRMLTableNode
    outputTable: vtkMRMLTableNode
    chart: vtkMRMLPlotChartNode


@parameterPack
class ExplorationParameters:
    """Feature exploration: :class:`~VirtualBiopsy.extract.exploration.config.ExplorationConfig`, then the table
    of univariate tests."""

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
    univariateTable: vtkMRMLTableNode


@parameterPack
class SurvivalParameters:
    """Survival: :class:`~VirtualBiopsy.outcome.survivalConfig.SurvivalConfig`, then the survival table and the
    Kaplan–Meier and Cox charts."""

    timeColumn: str = SURVIVAL_DEFAULTS.timeColumn
    eventColumn: str = SURVIVAL_DEFAULTS.eventColumn
    patientColumn: str = SURVIVAL_DEFAULTS.patientColumn
    groupColumn: str = SURVIVAL_DEFAULTS.groupColumn
    covariates: list[str] = list(SURVIVAL_DEFAULTS.covariates)
    penalizer: Annotated[float, Minimum(0.0)] = SURVIVAL_DEFAULTS.penalizer
    l1Ratio: Annotated[float, WithinRange(0.0, 1.0)] = SURVIVAL_DEFAULTS.l1Ratio
    riskPercentile: Annotated[float, WithinRange(1.0, 99.0)] = SURVIVAL_DEFAULTS.riskPercentile
    cindexBootstrap: Annotated[int, WithinRange(0, 100000)] = SURVIVAL_DEFAULTS.cindexBootstrap
    randomSeed: Annotated[int, Minimum(0)] = SURVIVAL_DEFAULTS.randomSeed
    table: vtkMRMLTableNode
    kaplanMeierChart: vtkMRMLPlotChartNode
    coxChart: vtkMRMLPlotChartNode


@parameterPack
class ClassifierParameters:
    """Classifiers: :class:`~VirtualBiopsy.outcome.classification.panelConfig.ClassifierPanelConfig`, then the
    comparison's table and ROC chart, the Shapley table and the patient's contributions chart."""

    targetColumn: str = CLASSIFIER_DEFAULTS.targetColumn
    targetPositiveClass: str = CLASSIFIER_DEFAULTS.targetPositiveClass
    classifierModels: list[str] = list(CLASSIFIER_DEFAULTS.classifierModels)
    folds: Annotated[int, WithinRange(2, 100)] = CLASSIFIER_DEFAULTS.folds
    repeats: Annotated[int, WithinRange(1, 1000)] = CLASSIFIER_DEFAULTS.repeats
    classifierModelFolder: str = CLASSIFIER_DEFAULTS.classifierModelFolder
    shapBackgroundSize: Annotated[int, WithinRange(1, 10000)] = CLASSIFIER_DEFAULTS.shapBackgroundSize
    patientColumn: str = CLASSIFIER_DEFAULTS.patientColumn
    randomSeed: Annotated[int, Minimum(0)] = CLASSIFIER_DEFAULTS.randomSeed
    performanceTable: vtkMRMLTableNode
    rocChart: vtkMRMLPlotChartNode
    shapTable: vtkMRMLTableNode
    contributionsChart: vtkMRMLPlotChartNode


@parameterPack
class DeepLearningParameters:
    """Deep learning: :class:`~VirtualBiopsy.outcome.deep.config.DeepOutcomeConfig`, then the image, the tumour
    segmentation and the Grad-CAM map."""

    deepModel: str = DEEP_DEFAULTS.deepModel
    gradCamMethod: Annotated[str, Choice(GRADCAM_METHODS)] = DEEP_DEFAULTS.gradCamMethod
    gradCamClass: str = DEEP_DEFAULTS.gradCamClass
    gradCamLayer: str = DEEP_DEFAULTS.gradCamLayer
    overlayOpacity: Annotated[float, WithinRange(0.0, 1.0)] = DEEP_DEFAULTS.overlayOpacity
    image: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    gradCamVolume: vtkMRMLScalarVolumeNode


@parameterPack
class PatientSummaryParameters:
    """Patient summary: :class:`~VirtualBiopsy.outcome.patientSummaryConfig.PatientSummaryConfig` (its inputs
    are the other sections' nodes)."""

    summaryPatient: str = SUMMARY_DEFAULTS.summaryPatient
    topContributions: Annotated[int, WithinRange(1, 50)] = SUMMARY_DEFAULTS.topContributions
    patientColumn: str = SUMMARY_DEFAULTS.patientColumn


@parameterPack
class CohortRunParameters:
    """Cohort run: :class:`~VirtualBiopsy.cohort.runRequest.CohortRunRequest` (files and folders as paths)."""

    manifest: str = RUN_DEFAULTS.manifest
    clinical: str = RUN_DEFAULTS.clinical
    preset: Annotated[str, Choice(PRESETS)] = RUN_DEFAULTS.preset
    configFile: str = RUN_DEFAULTS.configFile
    outDir: str = RUN_DEFAULTS.outDir
    workers: Annotated[int, WithinRange(1, 64)] = RUN_DEFAULTS.workers
    resume: bool = RUN_DEFAULTS.resume
