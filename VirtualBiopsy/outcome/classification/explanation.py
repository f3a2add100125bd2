"""Explain a saved classifier on a feature table: Shapley values and permutation importance."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from VirtualBiopsy.outcome.classification.artifact import SavedClassifier
from VirtualBiopsy.outcome.classification.shapley import (
    DEFAULT_BUDGET,
    ShapleyExplanation,
    chooseBackground,
    permutationImportance,
    shapleyValues,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


@dataclass
class ClassifierExplanation:
    """Shapley values of the model's score and permutation importance (the cross-check)."""

    shapley: ShapleyExplanation
    importance: pd.DataFrame
    modelInput: pd.DataFrame


def explainClassifier(
    model: SavedClassifier,
    features: pd.DataFrame,
    backgroundSize: int = 50,
    randomSeed: int = 0,
    budget: int = DEFAULT_BUDGET,
    labels: pd.Series | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    reference: pd.DataFrame | None = None,
) -> ClassifierExplanation:
    """Shapley values of ``model``'s score (:attr:`SavedClassifier.explainedQuantity`) for every patient.

    The background patients are ``backgroundSize`` patients of ``reference`` (default: ``features``)
    drawn with ``randomSeed`` (all of them when there are fewer).

    :param features: feature columns matching the model's schema, index = patient.
    :param reference: feature table the background is drawn from (e.g. the training cohort's).
    :param labels: 0/1 per patient (1 = the model's positive class): importance as AUC drop; else as output change.
    :raises InputError: when the features do not match the model.
    """
    progress = progress or noProgress
    modelInput = model.modelInput(features)

    def score(values):
        from VirtualBiopsy.outcome.classification.models import modelScore

        return modelScore(model.pipeline, model.name, values)

    source = modelInput if reference is None else model.modelInput(reference)
    background = chooseBackground(source, backgroundSize, randomSeed)
    shapley = shapleyValues(
        score,
        modelInput,
        background,
        model.explainedQuantity,
        budget,
        randomSeed,
        lambda fraction, message: progress(0.9 * fraction, message),
        cancel,
        allowMissing="impute" in dict(model.pipeline.steps),
    )
    progress(0.9, "Permutation importance")
    importance = permutationImportance(score, modelInput, labels, randomSeed=randomSeed)
    progress(1.0, "Explained")
    return ClassifierExplanation(shapley, importance, modelInput)
