"""Discrimination metrics: AUC by ranks (vectorized for the bootstrap), its bootstrap
confidence interval and the Youden threshold."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def rankAuc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each row (Mann–Whitney: ties count one half).

    :param labels: 0/1, shape ``(n,)`` or ``(rows, n)``.
    :param scores: same shape; larger means more likely positive.
    :returns: one AUC per row (a scalar array for 1-D input); NaN for a row with one class only.
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=bool))
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    ranks = rankdata(scores, axis=1)
    positives = labels.sum(axis=1).astype(float)
    negatives = labels.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * labels).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)
    auc[(positives == 0) | (negatives == 0)] = np.nan
    return auc if auc.shape[0] > 1 else auc[0]


def bootstrapAuc(
    labels: np.ndarray, scores: np.ndarray, samples: int = 2000, level: float = 0.95, randomSeed: int = 0
) -> tuple[float, float, float, int]:
    """AUC of pooled out-of-fold scores and its percentile bootstrap confidence interval.

    Patients are resampled with replacement (``samples`` times, seeded); each resample's AUC is
    the mean over the repeats (columns of ``scores``) of the AUC of that repeat's out-of-fold
    scores of the resampled patients. Resamples with one class only are discarded.

    :param labels: 0/1 per patient, shape ``(n,)``.
    :param scores: out-of-fold scores, shape ``(n,)`` or ``(n, repeats)``.
    :returns: ``(auc, lower, upper, resamplesUsed)``; ``auc`` is the mean over repeats of the pooled AUC.
    """
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float).reshape(len(labels), -1)
    estimate = float(np.mean([rankAuc(labels, scores[:, r]) for r in range(scores.shape[1])]))
    rng = np.random.default_rng(randomSeed)
    indices = rng.integers(0, len(labels), size=(samples, len(labels)))
    resampledLabels = labels[indices]
    total = np.zeros(samples)
    for repeat in range(scores.shape[1]):
        total += np.atleast_1d(rankAuc(resampledLabels, scores[indices, repeat]))
    values = total / scores.shape[1]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return estimate, float("nan"), float("nan"), 0
    alpha = (1 - level) / 2
    lower, upper = np.quantile(values, [alpha, 1 - alpha])
    return estimate, float(lower), float(upper), int(values.size)


def youdenThreshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold that maximizes sensitivity + specificity − 1 (predict positive when
    ``score >= threshold``); the highest such threshold on ties.

    :raises ValueError: when ``labels`` hold one class only.
    """
    from sklearn.metrics import roc_curve

    labels = np.asarray(labels, dtype=int)
    if labels.min() == labels.max():
        raise ValueError("The Youden threshold needs both classes.")
    falsePositive, truePositive, thresholds = roc_curve(labels, np.asarray(scores, dtype=float))
    youden = truePositive[1:] - falsePositive[1:]
    return float(thresholds[1:][int(np.argmax(youden))])


def sensitivitySpecificity(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity of ``score >= threshold`` (NaN for a class that is absent)."""
    labels = np.asarray(labels, dtype=int)
    predicted = np.asarray(scores, dtype=float) >= threshold
    positives, negatives = labels == 1, labels == 0
    sensitivity = predicted[positives].mean() if positives.any() else float("nan")
    specificity = (~predicted[negatives]).mean() if negatives.any() else float("nan")
    return float(sensitivity), float(specificity)
