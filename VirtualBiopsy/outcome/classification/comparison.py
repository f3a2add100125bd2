"""Compare classifiers on one cohort: cross-validate each, tabulate, refit on all patients."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.metrics import bootstrapAuc
from VirtualBiopsy.outcome.classification.models import (
    EXPLAINED_QUANTITY,
    buildPipeline,
)
from VirtualBiopsy.outcome.classification.trainingData import (
    BinaryTarget,
    PreparedFeatures,
    binaryTarget,
    prepareFeatures,
)
from VirtualBiopsy.outcome.classification.validation import (
    CrossValidation,
    crossValidate,
    requireEnoughPerClass,
    trainingThreshold,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


@dataclass
class FittedClassifier:
    """A classifier refitted on every patient, with what it needs to be saved and used.

    :ivar pipeline: the fitted scikit-learn pipeline (input: :attr:`features`, in order).
    :ivar threshold: Youden threshold on the score, from inner cross-validation on all patients.
    :ivar performance: the model's row of the comparison table.
    """

    name: str
    pipeline: object
    features: list[str]
    target: BinaryTarget
    threshold: float
    performance: dict
    inputColumns: list[tuple[str, str]] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    trainingHash: str = ""
    settings: dict = field(default_factory=dict)

    @property
    def explainedQuantity(self) -> str:
        """What the model's score (and its SHAP values) measure."""
        return EXPLAINED_QUANTITY[self.name]


@dataclass
class ClassifierComparison:
    """What :func:`compareClassifiers` produced.

    :ivar performance: one row per model (see :func:`performanceRow`).
    :ivar validations: per model, the folds, out-of-fold scores and ROC curves.
    :ivar models: per model, the classifier refitted on all patients.
    :ivar labels: 0/1 per patient (index = patient).
    """

    performance: pd.DataFrame
    validations: dict[str, CrossValidation]
    models: dict[str, FittedClassifier]
    target: BinaryTarget
    labels: pd.Series
    prepared: PreparedFeatures


def compareClassifiers(
    features: pd.DataFrame,
    target: pd.Series,
    config: ClassificationConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ClassifierComparison:
    """Cross-validate each of ``config.models`` and refit it on all patients.

    :param features: numeric features, one row per patient (index = patient).
    :param target: the diagnosis per patient (same index as ``features``).
    :raises InputError: for unusable features or target, mismatched patients, or too few patients per class.
    """
    config = config or ClassificationConfig()
    progress = progress or noProgress
    if not features.index.equals(target.index):
        raise InputError(
            "The features and the target must list the same patients in the same order; join them with "
            "the cohort table first."
        )
    labels, encoding = binaryTarget(target, config.positiveClass, config.targetColumn)
    prepared = prepareFeatures(features, config.imputation)
    y = labels.to_numpy()
    requireEnoughPerClass(y, config.folds, (encoding.negativeLabel, encoding.positiveClass))
    x = prepared.frame.to_numpy(dtype=float)
    trainingHash = dataHash(prepared.frame, labels)
    settings = config.toDict()
    rows, validations, models = [], {}, {}
    share = 1.0 / len(config.models)
    for index, name in enumerate(config.models):
        makePipeline = functools.partial(
            buildPipeline, name, config.randomSeed, config.imputation, config.l1, config.trees
        )
        base = index * share

        def modelProgress(fraction: float, message: str, base: float = base) -> None:
            progress(base + 0.9 * share * fraction, message)

        validation = crossValidate(
            name,
            makePipeline,
            x,
            y,
            config.folds,
            config.repeats,
            config.randomSeed,
            config.thresholdFolds,
            modelProgress,
            cancel,
        )
        validations[name] = validation
        row = performanceRow(validation, y, config)
        rows.append(row)
        progress(base + 0.9 * share, f"{name}: refitting on all {len(y)} patients")
        pipeline = makePipeline().fit(x, y)
        threshold = trainingThreshold(makePipeline, name, x, y, config.thresholdFolds, config.randomSeed)
        models[name] = FittedClassifier(
            name,
            pipeline,
            list(map(str, prepared.frame.columns)),
            encoding,
            threshold,
            row,
            prepared.inputColumns,
            prepared.dropped,
            trainingHash,
            settings,
        )
    progress(1.0, "Classifiers compared")
    return ClassifierComparison(pd.DataFrame(rows), validations, models, encoding, labels, prepared)


def performanceRow(validation: CrossValidation, labels: np.ndarray, config: ClassificationConfig) -> dict:
    """The comparison table's row of one model.

    ``auc_mean``/``auc_sd`` are over the folds × repeats; ``auc_pooled`` is the AUC of the
    out-of-fold scores pooled per repeat (mean over repeats), with its bootstrap CI over
    patients (:func:`~VirtualBiopsy.outcome.classification.metrics.bootstrapAuc`); the other
    metrics are fold means at the Youden threshold chosen on each training part.
    """
    folds = validation.folds
    auc, lower, upper, used = bootstrapAuc(
        labels, validation.outOfFold, config.bootstrapSamples, config.confidenceLevel, config.randomSeed
    )
    return {
        "model": validation.model,
        "auc_mean": float(folds["auc"].mean()),
        "auc_sd": float(folds["auc"].std(ddof=1)) if len(folds) > 1 else float("nan"),
        "auc_pooled": auc,
        "auc_ci_lower": lower,
        "auc_ci_upper": upper,
        "ci_level": config.confidenceLevel,
        "bootstrap_samples": used,
        "balanced_accuracy_mean": float(folds["balancedAccuracy"].mean()),
        "balanced_accuracy_sd": float(folds["balancedAccuracy"].std(ddof=1)) if len(folds) > 1 else float("nan"),
        "sensitivity_mean": float(folds["sensitivity"].mean()),
        "specificity_mean": float(folds["specificity"].mean()),
        "folds": config.folds,
        "repeats": config.repeats,
        "patients": int(len(labels)),
        "positives": int(np.sum(labels)),
        "score": EXPLAINED_QUANTITY[validation.model],
    }


def dataHash(features: pd.DataFrame, labels: pd.Series) -> str:
    """SHA-256 of the training data: feature names, patient ids, values and labels."""
    import hashlib

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, features.columns)).encode())
    digest.update("\x1f".join(map(str, features.index)).encode())
    digest.update(np.ascontiguousarray(features.to_numpy(dtype=np.float64)).tobytes())
    digest.update(np.ascontiguousarray(labels.to_numpy(dtype=np.int64)).tobytes())
    return digest.hexdigest()
