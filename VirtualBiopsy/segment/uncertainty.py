"""Per-voxel uncertainty of a segmentation: normalised softmax entropy and the spread of ensemble members."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from VirtualBiopsy.errors import InputError


def normalizedEntropy(probabilities: np.ndarray) -> np.ndarray:
    """Softmax entropy ``-Σ p log p / log C`` of class probabilities ``(C, ...)``, in [0, 1].

    0 where one class has probability 1, 1 where all ``C`` classes are equally likely
    (``0 log 0`` is taken as 0).

    :raises InputError: for fewer than two classes, or values that are not probabilities.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = probabilities.shape[0] if probabilities.ndim else 0
    if probabilities.ndim < 2 or classes < 2:
        raise InputError(f"Entropy needs probabilities of shape (classes ≥ 2, ...), got shape {probabilities.shape}.")
    if not np.isfinite(probabilities).all() or probabilities.min() < -1e-6 or probabilities.max() > 1 + 1e-6:
        raise InputError(
            f"Probabilities must be finite and in [0, 1] (got [{probabilities.min()}, "
            f"{probabilities.max()}]); pass softmax outputs, not logits."
        )
    clipped = np.clip(probabilities, 0.0, 1.0)
    terms = np.where(clipped > 0, clipped * np.log(np.where(clipped > 0, clipped, 1.0)), 0.0)
    return np.clip(-terms.sum(axis=0) / np.log(classes), 0.0, 1.0).astype(np.float32)


def memberVariance(members: Sequence[np.ndarray]) -> np.ndarray:
    """Variance across ensemble members (folds) of the class probabilities, averaged over classes.

    Each member is ``(C, ...)``; the variance is the population variance (divisor = number of members),
    per class and voxel, then the mean over the ``C`` classes. 0 where every member agrees.

    :raises InputError: for fewer than two members or members of different shapes.
    """
    if len(members) < 2:
        raise InputError(
            f"The variance across members needs at least two (folds or networks), got {len(members)}; "
            "run more folds or ask for the entropy only."
        )
    shapes = {np.shape(member) for member in members}
    if len(shapes) != 1:
        raise InputError(f"Ensemble members have different shapes {sorted(shapes)}; they must share one grid.")
    stacked = np.stack([np.asarray(member, dtype=np.float64) for member in members])
    return stacked.var(axis=0).mean(axis=0).astype(np.float32)
