"""Settings of the Outcome module's Classifiers panel: the classifier comparison and the Shapley values of a
saved classifier (:meth:`~VirtualBiopsy.outcome.classificationLogic.ClassificationLogic.explain` takes this config;
``virtual-biopsy outcome explain`` and the pipeline build it too).

:meth:`~ClassifierPanelConfig.classificationConfig` gives the comparison's
:class:`~VirtualBiopsy.outcome.classification.config.ClassificationConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.config import (
    MODEL_NAMES,
    ClassificationConfig,
)
from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class ClassifierPanelConfig(StageConfig):
    """Classifier comparison and explanation settings of the Outcome module.

    :ivar targetColumn: clinical column holding the diagnosis.
    :ivar targetPositiveClass: its positive value; empty: the larger of two sorted values.
    :ivar classifierModels: classifiers among ``lr``, ``rf``, ``svm``, ``gb``.
    :ivar folds: folds of the repeated stratified cross-validation; :ivar repeats: its repetitions.
    :ivar classifierModelFolder: a saved classifier (``<out>/models/<name>``) to explain and summarize.
    :ivar shapBackgroundSize: background patients of the Shapley values.
    :ivar patientColumn: the column that names patients in both tables.
    :ivar randomSeed: seed of the cross-validation splits, the models and the Shapley background.
    """

    targetColumn: str = "grade"
    targetPositiveClass: str = ""
    classifierModels: list[str] = field(default_factory=lambda: list(MODEL_NAMES))
    folds: int = 5
    repeats: int = 10
    classifierModelFolder: str = ""
    shapBackgroundSize: int = 50
    patientColumn: str = "patient"
    randomSeed: int = 0

    def validate(self) -> None:
        requireRange(self, "shapBackgroundSize", 1, 10000)
        requireRange(self, "randomSeed", 0)
        if not self.patientColumn.strip():
            raise InputError("ClassifierPanelConfig.patientColumn is empty; name the column that names patients.")
        self.classificationConfig()

    def classificationConfig(self) -> ClassificationConfig:
        """The library's settings (other fields keep their defaults).

        :raises InputError: for models, folds or repeats the library refuses.
        """
        return ClassificationConfig.fromDict(
            {
                "targetColumn": self.targetColumn,
                "positiveClass": self.targetPositiveClass,
                "models": list(self.classifierModels),
                "folds": self.folds,
                "repeats": self.repeats,
                "randomSeed": self.randomSeed,
                "patientColumn": self.patientColumn,
            }
        )
