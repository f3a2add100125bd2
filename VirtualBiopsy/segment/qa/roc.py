"""Area under the ROC curve of voxel-wise scores, by the Mann–Whitney rank statistic."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def rocAuc(scores: np.ndarray, truth: np.ndarray) -> float | None:
    """The probability that a random inside voxel scores higher than a random outside one (ties count half).

    This equals the trapezoidal area under the ROC curve that scikit-learn's
    ``roc_auc_score`` computes.

    :param scores: real scores (probabilities, logits), any shape, finite.
    :param truth: boolean labels of the same shape.
    :returns: the AUC, or ``None`` when ``truth`` holds a single class (the AUC is undefined).
    """
    scores = np.asarray(scores, dtype=float).ravel()
    truth = np.asarray(truth, dtype=bool).ravel()
    positives = int(np.count_nonzero(truth))
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)  # average ranks for ties
    rankSum = float(ranks[truth].sum())
    return (rankSum - positives * (positives + 1) / 2.0) / (float(positives) * float(negatives))
