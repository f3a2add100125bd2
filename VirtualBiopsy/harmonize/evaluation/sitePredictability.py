"""How well the batch (site, scanner, field strength) can be predicted from the features.

Cross-validated AUC, lower is better: 0.5 means the batch cannot be told from the features.
The pipeline, refitted in every training fold so that no test case informs it:

1. for the ComBat methods, ComBat (:class:`HarmonizerSpec`) fitted on the training fold and
   applied to the test fold's cases with the fitted model. (ComBat fitted on every case
   before the split would make the test cases pull their own batch's estimate, and the
   AUC would fall *below* 0.5: the training folds then carry the opposite of each test
   case's deviation.);
2. standardization (``StandardScaler``: each feature's mean and SD from the training fold);
3. a classifier: ``logisticRegression`` (L2, C = 1, lbfgs) or ``randomForest`` (100 trees);

repeated ``repeats`` times over stratified ``folds``-fold splits (shuffled with the seeds
``seed``, ``seed + 1``, ...; fewer folds when the smallest batch has fewer cases). In each
repeat the out-of-fold probabilities of every case are pooled and scored once: the AUC for
two batches, the one-vs-rest macro AUC (each batch against the rest, averaged) for more.
The table gives the mean and SD of these AUCs over the repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.progress import CancelToken

MODELS = ("logisticRegression", "randomForest")
RANDOM_FOREST_TREES = 100


@dataclass(frozen=True)
class HarmonizerSpec:
    """ComBat to fit inside each training fold.

    :ivar covariates: covariates to preserve (patients × covariates, the features' index), or ``None``.
    :ivar method: ComBat's empirical Bayes (``parametric``, ``nonparametric``, ``meanonly``).
    """

    covariates: pd.DataFrame | None = None
    method: str = "parametric"

    def fitApply(
        self, features: pd.DataFrame, batch: pd.Series, train: np.ndarray, test: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(training values, test values)``, harmonized by ComBat fitted on the training rows."""
        from VirtualBiopsy.errors import InputError
        from VirtualBiopsy.harmonize.combat import fitAndHarmonize

        covariates = None if self.covariates is None else self.covariates.iloc[train]
        try:
            model, trained = fitAndHarmonize(features.iloc[train], batch.iloc[train], covariates, self.method)
        except InputError as error:
            raise InputError(f"ComBat could not be fitted in a cross-validation fold: {error}") from error
        covariates = None if self.covariates is None else self.covariates.iloc[test]
        tested = model.apply(features.iloc[test], batch.iloc[test], covariates)
        return trained.to_numpy(dtype=np.float64), tested.to_numpy(dtype=np.float64)


def makeClassifier(model: str, seed: int = 0):
    """The scikit-learn pipeline of ``model``: standardization, then the classifier.

    :raises InputError: for an unknown model.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "logisticRegression":
        classifier = LogisticRegression(C=1.0, max_iter=10000)
    elif model == "randomForest":
        classifier = RandomForestClassifier(n_estimators=RANDOM_FOREST_TREES, random_state=seed, n_jobs=1)
    else:
        raise InputError(f"Unknown classifier '{model}'; choose one of {', '.join(MODELS)}.")
    return make_pipeline(StandardScaler(), classifier)


def batchAuc(labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]) -> float:
    """AUC of class probabilities (columns in ``classes`` order): binary for two classes, else one-vs-rest macro."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(classes) == 2:
        return float(roc_auc_score(labels == classes[1], probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=list(classes)))


def outOfFoldProbabilities(
    features: pd.DataFrame,
    batch: pd.Series,
    model: str,
    folds: int,
    seed: int,
    modelSeed: int = 0,
    harmonizer: HarmonizerSpec | None = None,
) -> np.ndarray:
    """Probabilities of each batch (sorted) for every case, each from the pipeline fitted without its fold."""
    from sklearn.model_selection import StratifiedKFold

    classes = sorted(set(batch))
    labels = batch.to_numpy()
    values = features.to_numpy(dtype=np.float64)
    result = np.full((len(labels), len(classes)), np.nan)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(values, labels):
        trainValues, testValues = values[train], values[test]
        if harmonizer is not None:
            trainValues, testValues = harmonizer.fitApply(features, batch, train, test)
        pipeline = makeClassifier(model, modelSeed).fit(trainValues, labels[train])
        columns = [classes.index(c) for c in pipeline.classes_]
        result[np.ix_(test, columns)] = pipeline.predict_proba(testValues)
    return result


def sitePredictability(
    features: pd.DataFrame,
    batch: pd.Series,
    models: Sequence[str] = MODELS,
    repeats: int = 5,
    folds: int = 5,
    seed: int = 0,
    harmonizer: HarmonizerSpec | None = None,
    cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """Cross-validated AUC of predicting ``batch`` from ``features`` (see the module).

    :param features: patients × features, finite.
    :param batch: each patient's batch (same index).
    :param harmonizer: ComBat to fit in each training fold, or ``None`` for the features as they are.
    :returns: one row per model: ``model, auc, aucSd, repeats, folds, batches, cases``.
    :raises InputError: for fewer than two batches, a batch of one case, or bad ``repeats``/``folds``.
    """
    if repeats < 1 or folds < 2:
        raise InputError(f"Site predictability needs repeats ≥ 1 and folds ≥ 2, got {repeats} and {folds}.")
    counts = batch.value_counts()
    if len(counts) < 2 or counts.min() < 2:
        raise InputError(
            f"Site predictability needs at least two batches of two or more cases; got {dict(counts.sort_index())}."
        )
    folds = min(folds, int(counts.min()))
    classes = sorted(counts.index)
    rows = []
    for model in models:
        aucs = []
        for repeat in range(repeats):
            if cancel:
                cancel.raiseIfCancelled()
            probabilities = outOfFoldProbabilities(features, batch, model, folds, seed + repeat, seed, harmonizer)
            aucs.append(batchAuc(batch.to_numpy(), probabilities, classes))
        rows.append(
            {
                "model": model,
                "auc": float(np.mean(aucs)),
                "aucSd": float(np.std(aucs, ddof=1)) if repeats > 1 else 0.0,
                "repeats": repeats,
                "folds": folds,
                "batches": len(classes),
                "cases": len(batch),
            }
        )
    return pd.DataFrame(rows)
