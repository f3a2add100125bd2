"""Settings of the diagnosis classifiers and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Short names of the classifiers, in the order they are reported.
MODEL_NAMES = ("lr", "rf", "svm", "gb")
#: How missing feature values are handled: refused, or imputed inside each training fold.
IMPUTATIONS = ("none", "median", "mean")


@dataclass
class ClassificationConfig(StageConfig):
    """Which classifiers to compare on a binary target and how they are validated.

    :ivar targetColumn: clinical column holding the diagnosis (e.g. ``grade``).
    :ivar positiveClass: the value counted as positive (e.g. ``HGG``); empty: the larger of two
        sorted values. With more than two values it is required and the task becomes
        "positive class vs the rest" (one-vs-rest).
    :ivar models: classifiers among :data:`MODEL_NAMES`.
    :ivar folds: folds of the repeated stratified cross-validation.
    :ivar repeats: repetitions of the cross-validation, each with a new split.
    :ivar randomSeed: seed of the splits, the models and the bootstrap.
    :ivar imputation: ``none`` refuses missing values; ``median``/``mean`` impute inside the training folds.
    :ivar l1: logistic regression with an L1 (instead of L2) penalty.
    :ivar bootstrapSamples: bootstrap samples of the AUC confidence interval.
    :ivar confidenceLevel: level of the AUC confidence interval.
    :ivar thresholdFolds: inner folds on the training part that give the Youden threshold.
    :ivar trees: trees of the random forest and boosting stages of gradient boosting.
    :ivar patientColumn: the column that names patients in both tables.
    """

    targetColumn: str = "grade"
    positiveClass: str = ""
    models: list[str] = field(default_factory=lambda: list(MODEL_NAMES))
    folds: int = 5
    repeats: int = 10
    randomSeed: int = 0
    imputation: str = "none"
    l1: bool = False
    bootstrapSamples: int = 2000
    confidenceLevel: float = 0.95
    thresholdFolds: int = 3
    trees: int = 300
    patientColumn: str = "patient"

    def validate(self) -> None:
        unknown = [name for name in self.models if name not in MODEL_NAMES]
        if unknown or not self.models:
            raise InputError(
                f"ClassificationConfig.models is {self.models}; choose one or more of: {', '.join(MODEL_NAMES)}."
            )
        if len(set(self.models)) != len(self.models):
            raise InputError(f"ClassificationConfig.models lists a model twice ({self.models}); give each once.")
        requireRange(self, "folds", 2, 100)
        requireRange(self, "repeats", 1, 1000)
        requireRange(self, "bootstrapSamples", 100, 100000)
        requireRange(self, "confidenceLevel", 0.5, 0.999)
        requireRange(self, "thresholdFolds", 2, 20)
        requireRange(self, "trees", 1, 10000)
        requireChoice(self, "imputation", IMPUTATIONS)
