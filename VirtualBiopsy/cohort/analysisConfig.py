"""Settings of the cohort analyses that follow the clusters: Cox model, Shapley values, CNN and Grad-CAM.

The classifier comparison uses :class:`~VirtualBiopsy.outcome.classification.config.ClassificationConfig`
(section ``analyses.classification``); which analyses run is :meth:`AnalysesSection.active`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.config import MODEL_NAMES
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.deep.config import GRADCAM_METHODS
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Covariate of the Cox model that is not a clinical column: the patient's k-means cluster.
CLUSTER_COVARIATE = "cluster"


@dataclass
class CoxAnalysisConfig(StageConfig):
    """A Cox model of the clinical survival on a few covariates.

    :ivar covariates: clinical columns, or ``cluster`` (the k-means cluster, 0/1 for two clusters).
    :ivar penalizer: lifelines' L2 penalizer (keeps a small cohort's fit converging).
    :ivar riskPercentile: percentile of the prognostic index that splits low from high risk.
    :ivar cindexBootstrap: bootstrap resamples of the C-index CI.
    """

    covariates: list[str] = field(default_factory=lambda: ["age", CLUSTER_COVARIATE])
    penalizer: float = 0.1
    riskPercentile: float = 50.0
    cindexBootstrap: int = 200

    def validate(self) -> None:
        if not self.covariates or len(set(self.covariates)) != len(self.covariates) or not all(self.covariates):
            raise InputError(f"CoxAnalysisConfig.covariates is {self.covariates}; name each column once, at least one.")
        requireRange(self, "penalizer", 0.0, 1e6)
        requireRange(self, "riskPercentile", 1.0, 99.0)
        requireRange(self, "cindexBootstrap", 0, 100000)

    def survivalConfig(self, outcome: OutcomeConfig) -> SurvivalConfig:
        """The :class:`~VirtualBiopsy.outcome.survivalConfig.SurvivalConfig` of this Cox model on the columns of
        ``outcome`` (its seed drives the C-index bootstrap)."""
        return SurvivalConfig(
            timeColumn=outcome.timeColumn,
            eventColumn=outcome.eventColumn,
            patientColumn=outcome.patientColumn,
            covariates=list(self.covariates),
            penalizer=self.penalizer,
            riskPercentile=self.riskPercentile,
            cindexBootstrap=self.cindexBootstrap,
            randomSeed=outcome.randomSeed,
        )


@dataclass
class ExplanationConfig(StageConfig):
    """Shapley values (shapiq) of one compared classifier.

    :ivar model: the classifier explained: one of the compared models, or ``best`` (highest pooled AUC).
    :ivar backgroundSize: background patients (their mean score is the base value).
    """

    model: str = "lr"
    backgroundSize: int = 24

    def validate(self) -> None:
        requireChoice(self, "model", ("best", *MODEL_NAMES))
        requireRange(self, "backgroundSize", 1, 10000)


@dataclass
class DeepLearningConfig(StageConfig):
    """A small 3D CNN on tumour-centred crops and its Grad-CAM maps.

    :ivar targetColumn: binary clinical column the CNN predicts.
    :ivar sequences: the CNN's input channels (manifest sequence names).
    :ivar cropSize: crop voxels per side; :ivar cropSpacing: crop spacing in mm.
    :ivar network: ``DenseNet`` or ``ResNet``; :ivar networkSize: ``small`` or ``full``.
    :ivar epochs: most training epochs; :ivar patience: epochs without a better validation AUC before stopping.
    :ivar gradCamPatients: patients to map; empty: the first patient of each class, in cohort order.
    :ivar gradCamMethod: ``gradcam`` or ``gradcampp``.
    """

    targetColumn: str = "grade"
    sequences: list[str] = field(default_factory=lambda: ["T1c", "FLAIR"])
    cropSize: int = 32
    cropSpacing: float = 3.0
    network: str = "DenseNet"
    networkSize: str = "small"
    epochs: int = 15
    batchSize: int = 4
    patience: int = 15
    learningRate: float = 1e-3
    validationFraction: float = 0.25
    randomSeed: int = 0
    gradCamPatients: list[str] = field(default_factory=list)
    gradCamMethod: str = "gradcam"

    def validate(self) -> None:
        if not self.sequences or len(set(self.sequences)) != len(self.sequences):
            raise InputError(
                f"DeepLearningConfig.sequences is {self.sequences}; list each sequence once, at least one."
            )
        requireRange(self, "cropSize", 16, 256)
        requireRange(self, "cropSpacing", 0.1, 20.0)
        requireChoice(self, "network", ("DenseNet", "ResNet"))
        requireChoice(self, "networkSize", ("small", "full"))
        requireRange(self, "epochs", 1, 10000)
        requireRange(self, "batchSize", 1, 1024)
        requireRange(self, "patience", 1, 10000)
        requireRange(self, "learningRate", 1e-8, 1.0)
        requireRange(self, "validationFraction", 0.05, 0.95)
        requireRange(self, "randomSeed", 0, 2**63 - 1)
        requireChoice(self, "gradCamMethod", GRADCAM_METHODS)

    def trainingArguments(self) -> dict:
        """The training task's settings (:class:`~VirtualBiopsy.outcome.deep.training.TrainingSettings` and crop)."""
        return {
            "sequences": list(self.sequences),
            "cropSize": self.cropSize,
            "cropSpacing": self.cropSpacing,
            "network": self.network,
            "networkSize": self.networkSize,
            "epochs": self.epochs,
            "batchSize": self.batchSize,
            "patience": self.patience,
            "learningRate": self.learningRate,
            "validationFraction": self.validationFraction,
            "seed": self.randomSeed,
            "device": "cpu",
        }
