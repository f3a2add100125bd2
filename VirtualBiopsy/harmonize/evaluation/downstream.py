"""The downstream task: a classifier of the task (e.g. grade) trained on one batch and tested on another.

For each ordered pair (training batch, test batch) and each model (the pipelines of
:func:`~VirtualBiopsy.harmonize.evaluation.sitePredictability.makeClassifier`):

1. the decision threshold is chosen on the training batch alone: the scores of its cases
   out of a stratified cross-validation inside it (up to 5 folds, seeded) and the threshold
   that maximizes Youden's J = sensitivity + specificity − 1 on them;
2. the model is fitted on every case of the training batch;
3. on the test batch: the AUC of its scores (threshold-free) and the accuracy of
   "score ≥ threshold".

Scores are log-odds for the logistic regression (probabilities of cases far from the
training batch round to exactly 0 or 1 and would tie) and probabilities for the forest.

The positive class is the second task class in sorted order; the AUC does not depend on
that choice. No case of the test batch is seen before step 3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.evaluation.sitePredictability import makeClassifier
from VirtualBiopsy.progress import CancelToken

INNER_FOLDS = 5


def youdenThreshold(positive: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict positive when score ≥ it) that maximizes Youden's J.

    Among equally good thresholds the highest is taken; when no threshold beats chance the
    result lies above every score (everything predicted negative).
    """
    from sklearn.metrics import roc_curve

    falsePositive, truePositive, thresholds = roc_curve(np.asarray(positive, dtype=bool), scores)
    best = int(np.argmax(truePositive - falsePositive))
    threshold = float(thresholds[best])
    return threshold if np.isfinite(threshold) else float(np.nextafter(np.max(scores), np.inf))


def allPairs(batches: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair of distinct batches."""
    return [(train, test) for train in batches for test in batches if train != test]


def downstreamTask(
    features: pd.DataFrame,
    batch: pd.Series,
    task: pd.Series,
    pairs: Sequence[tuple[str, str]] | None = None,
    models: Sequence[str] = ("logisticRegression",),
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """Train on one batch, test on another (see the module).

    :param pairs: ``(training batch, test batch)`` pairs; ``None``: every ordered pair.
    :returns: one row per pair and model: ``train, test, model, auc, accuracy, threshold,
        trainCases, testCases, positiveClass``.
    :raises InputError: for a task without two classes, an unknown batch in ``pairs``, a
        training batch with fewer than two cases of a class, or a test batch without both classes.
    """
    classes = sorted(set(task))
    if len(classes) != 2:
        raise InputError(f"The downstream task needs exactly two classes, got {len(classes)} ({classes}).")
    batches = sorted(set(batch))
    pairs = allPairs(batches) if pairs is None else [(str(a), str(b)) for a, b in pairs]
    for train, test in pairs:
        unknown = [name for name in (train, test) if name not in batches]
        if unknown or train == test:
            raise InputError(
                f"Downstream pair {train}→{test} is not two different batches of the cohort "
                f"({', '.join(batches)}); name two of them."
            )
    positive = (task == classes[1]).to_numpy()
    values = features.to_numpy(dtype=np.float64)
    labels = batch.to_numpy()
    rows = []
    for train, test in pairs:
        trainRows, testRows = labels == train, labels == test
        _requireClasses(positive[trainRows], train, classes, minimum=2, role="training")
        _requireClasses(positive[testRows], test, classes, minimum=1, role="test")
        for model in models:
            if cancel:
                cancel.raiseIfCancelled()
            threshold = trainingThreshold(values[trainRows], positive[trainRows], model, seed)
            pipeline = makeClassifier(model, seed).fit(values[trainRows], positive[trainRows])
            scores = positiveScores(pipeline, values[testRows])
            rows.append(
                {
                    "train": train,
                    "test": test,
                    "model": model,
                    "auc": _auc(positive[testRows], scores),
                    "accuracy": float(np.mean((scores >= threshold) == positive[testRows])),
                    "threshold": threshold,
                    "trainCases": int(trainRows.sum()),
                    "testCases": int(testRows.sum()),
                    "positiveClass": classes[1],
                }
            )
    return pd.DataFrame(rows)


def positiveScores(pipeline, values: np.ndarray) -> np.ndarray:
    """The positive class's score: the decision function (log-odds) where the model has one, else its probability.

    Log-odds keep their order where probabilities round to exactly 0 or 1 (cases far from the training batch).
    """
    if hasattr(pipeline, "decision_function"):
        return pipeline.decision_function(values)
    return pipeline.predict_proba(values)[:, list(pipeline.classes_).index(True)]


def trainingThreshold(values: np.ndarray, positive: np.ndarray, model: str, seed: int) -> float:
    """Youden threshold on out-of-fold scores (:func:`positiveScores`) inside the training batch."""
    from sklearn.model_selection import StratifiedKFold

    folds = min(INNER_FOLDS, int(positive.sum()), int((~positive).sum()))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = np.empty(len(positive))
    for train, test in split.split(values, positive):
        scores[test] = positiveScores(makeClassifier(model, seed).fit(values[train], positive[train]), values[test])
    return youdenThreshold(positive, scores)


def _auc(positive: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


def _requireClasses(positive: np.ndarray, name: str, classes: list[str], minimum: int, role: str) -> None:
    counts = {classes[1]: int(positive.sum()), classes[0]: int((~positive).sum())}
    if min(counts.values()) < minimum:
        raise InputError(
            f"The {role} batch '{name}' has {counts} cases of the task classes; a {role} batch needs at "
            f"least {minimum} of each. Choose other pairs (--pairs) or a larger cohort."
        )
