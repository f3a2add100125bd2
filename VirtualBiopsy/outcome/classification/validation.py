"""Repeated stratified cross-validation of one classifier, without leakage.

In every outer fold the pipeline (imputer, scaler, model) is fitted on the training
patients only; the Youden threshold is chosen on the training patients too, from
inner cross-validated scores (``thresholdFolds`` folds), and then applied to the test
fold. Out-of-fold scores are pooled per repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.metrics import (
    rankAuc,
    sensitivitySpecificity,
    youdenThreshold,
)
from VirtualBiopsy.outcome.classification.models import modelScore
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

#: False-positive rates at which fold ROC curves are interpolated for the mean curve.
ROC_GRID = np.linspace(0.0, 1.0, 101)


@dataclass
class CrossValidation:
    """Results of :func:`crossValidate` for one model.

    :ivar folds: one row per (repeat, fold): ``repeat``, ``fold``, ``patients``, ``auc``,
        ``balancedAccuracy``, ``sensitivity``, ``specificity``, ``threshold``.
    :ivar outOfFold: out-of-fold score per patient (rows, same order as the input) and repeat (columns).
    :ivar rocTruePositive: per fold, the true-positive rate at each false-positive rate of :data:`ROC_GRID`.
    """

    model: str
    folds: pd.DataFrame
    outOfFold: np.ndarray
    rocTruePositive: np.ndarray


def requireEnoughPerClass(
    labels: np.ndarray, folds: int, classNames: tuple[str, str] = ("negative", "positive")
) -> None:
    """Raise :class:`InputError` unless each class has at least ``folds`` patients (every test fold needs both).

    :param classNames: names of class 0 and class 1 for the message.
    """
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=2)
    if counts.min() < folds:
        shown = ", ".join(f"{name}: {count}" for name, count in zip(classNames, counts))
        raise InputError(
            f"Stratified {folds}-fold cross-validation needs at least {folds} patients of each class "
            f"({shown}); lower the number of folds to at most {max(int(counts.min()), 0)} "
            "(--folds) or add patients of the smaller class."
        )


def trainingThreshold(
    makePipeline: Callable, name: str, features: np.ndarray, labels: np.ndarray, thresholdFolds: int, randomSeed: int
) -> float:
    """Youden threshold of a model chosen on these (training) patients only, from inner
    stratified cross-validated scores; in-sample scores when a class has fewer than two patients."""
    from sklearn.model_selection import StratifiedKFold

    inner = min(thresholdFolds, int(np.bincount(labels, minlength=2).min()))
    if inner < 2:
        scores = modelScore(makePipeline().fit(features, labels), name, features)
        return youdenThreshold(labels, scores)
    scores = np.empty(len(labels))
    splitter = StratifiedKFold(n_splits=inner, shuffle=True, random_state=randomSeed)
    for train, test in splitter.split(features, labels):
        scores[test] = modelScore(makePipeline().fit(features[train], labels[train]), name, features[test])
    return youdenThreshold(labels, scores)


def crossValidate(
    name: str,
    makePipeline: Callable,
    features: np.ndarray,
    labels: np.ndarray,
    folds: int = 5,
    repeats: int = 10,
    randomSeed: int = 0,
    thresholdFolds: int = 3,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CrossValidation:
    """Repeated stratified k-fold cross-validation of ``makePipeline()`` (see the module docstring).

    :param makePipeline: returns a new unfitted pipeline (seeded) on each call.
    :param labels: 0/1, 1 = positive.
    :raises InputError: when a class has fewer patients than folds.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    progress = progress or noProgress
    features = np.asarray(features, dtype=float)
    labels = np.asarray(labels, dtype=int)
    requireEnoughPerClass(labels, folds)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=randomSeed)
    outOfFold = np.full((len(labels), repeats), np.nan)
    rows, curves = [], []
    for index, (train, test) in enumerate(splitter.split(features, labels)):
        if cancel:
            cancel.raiseIfCancelled()
        repeat, fold = divmod(index, folds)
        progress(index / (folds * repeats), f"{name}: repeat {repeat + 1}/{repeats}, fold {fold + 1}/{folds}")
        pipeline = makePipeline().fit(features[train], labels[train])
        scores = modelScore(pipeline, name, features[test])
        outOfFold[test, repeat] = scores
        threshold = trainingThreshold(
            makePipeline, name, features[train], labels[train], thresholdFolds, randomSeed + index
        )
        sensitivity, specificity = sensitivitySpecificity(labels[test], scores, threshold)
        rows.append(
            {
                "repeat": repeat,
                "fold": fold,
                "patients": len(test),
                "auc": float(rankAuc(labels[test], scores)),
                "balancedAccuracy": (sensitivity + specificity) / 2,
                "sensitivity": sensitivity,
                "specificity": specificity,
                "threshold": threshold,
            }
        )
        curves.append(interpolatedRoc(labels[test], scores))
    progress(1.0, f"{name}: cross-validated")
    return CrossValidation(name, pd.DataFrame(rows), outOfFold, np.array(curves))


def interpolatedRoc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """True-positive rate at each false-positive rate of :data:`ROC_GRID` (0 at FPR 0)."""
    from sklearn.metrics import roc_curve

    falsePositive, truePositive, _ = roc_curve(labels, scores)
    curve = np.interp(ROC_GRID, falsePositive, truePositive)
    curve[0] = 0.0
    return curve
