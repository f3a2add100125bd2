"""Shapley values of a classifier's score per patient and feature (shapiq), and permutation
importance (scikit-learn) as a cross-check.

The game of a patient ``x`` is interventional: the value of a coalition ``S`` of features is
the mean, over the background patients ``b``, of the score of ``x`` with the features
outside ``S`` replaced by ``b``'s (shapiq's ``MarginalImputer`` with every background row).
So the base value is the mean score of the background, the value of all features is the
patient's score, and efficiency holds: the Shapley values plus the base value sum to the
score. Values are exact (all ``2**n`` coalitions, shapiq's ``ExactComputer``) when
``2**n <= budget``, else estimated by shapiq's ``KernelSHAP`` from ``budget`` seeded coalitions
(its regression keeps efficiency).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

#: Default number of coalitions per patient: exact up to 11 features.
DEFAULT_BUDGET = 2048


@dataclass
class ShapleyExplanation:
    """Shapley values of a score.

    :ivar values: one row per patient (index), one column per feature.
    :ivar baseValue: mean score over the background patients.
    :ivar modelOutput: the score of each patient (= the row sum of :attr:`values` + :attr:`baseValue`).
    :ivar method: ``exact`` or ``kernelSHAP`` (sampled).
    :ivar quantity: what the score is (e.g. log-odds of the positive class).
    """

    values: pd.DataFrame
    baseValue: float
    modelOutput: pd.Series
    method: str
    quantity: str
    backgroundPatients: list[str]

    def table(self, patientColumn: str = "patient") -> pd.DataFrame:
        """``patient``, one column per feature, ``base_value``, ``model_output`` (a default index)."""
        frame = self.values.copy()
        frame["base_value"] = self.baseValue
        frame["model_output"] = self.modelOutput
        frame.index.name = patientColumn
        return frame.reset_index()


def shapleyValues(
    score: Callable[[np.ndarray], np.ndarray],
    features: pd.DataFrame,
    background: pd.DataFrame,
    quantity: str = "score",
    budget: int = DEFAULT_BUDGET,
    randomSeed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    allowMissing: bool = False,
) -> ShapleyExplanation:
    """Shapley values of ``score`` for every patient of ``features`` (see the module docstring).

    :param score: maps an ``(rows, features)`` array to one number per row.
    :param background: reference patients (same columns); their mean score is the base value.
    :param allowMissing: accept missing values (for a score whose model imputes them).
    :raises InputError: for mismatched columns, missing values, an empty background or a budget below 2.
    """
    shapiq = requirePackage("shapiq")
    progress = progress or noProgress
    if list(background.columns) != list(features.columns):
        raise InputError("The background patients must have the same feature columns as the explained ones.")
    if len(background) == 0 or len(features) == 0:
        raise InputError(
            f"Shapley values need patients to explain ({len(features)}) and background patients "
            f"({len(background)}); give at least one of each."
        )
    for what, frame in (("explained", features), ("background", background)):
        if not allowMissing and frame.isna().to_numpy().any():
            raise InputError(
                f"The {what} patients have missing feature values; Shapley values need complete rows. "
                "Impute or remove them first."
            )
    if budget < 2:
        raise InputError(f"The Shapley budget is {budget}; give at least 2 coalitions (exact needs 2**features).")
    count = features.shape[1]
    exact = count <= 30 and 2**count <= budget
    x = features.to_numpy(dtype=float)
    backgroundValues = background.to_numpy(dtype=float)
    rows, outputs, base = [], [], float(np.mean(score(backgroundValues)))
    for index in range(len(x)):
        if cancel:
            cancel.raiseIfCancelled()
        progress(index / len(x), f"Shapley values: patient {index + 1}/{len(x)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            game = shapiq.MarginalImputer(
                score,
                backgroundValues,
                x=x[index : index + 1],
                sample_size=len(backgroundValues),
                random_state=randomSeed,
            )
        if exact:
            interactions = shapiq.ExactComputer(game, n_players=count)("SV", 1)
        else:
            approximator = shapiq.KernelSHAP(n=count, max_order=1, random_state=randomSeed)
            interactions = approximator(budget=budget, game=game)
        rows.append([float(interactions[(feature,)]) for feature in range(count)])
        outputs.append(float(score(x[index : index + 1])[0]))
    progress(1.0, "Shapley values computed")
    values = pd.DataFrame(rows, index=features.index, columns=features.columns)
    return ShapleyExplanation(
        values,
        base,
        pd.Series(outputs, index=features.index, name="model_output"),
        "exact" if exact else "kernelSHAP",
        quantity,
        list(map(str, background.index)),
    )


def chooseBackground(features: pd.DataFrame, size: int, randomSeed: int = 0) -> pd.DataFrame:
    """``size`` patients drawn without replacement (seeded), or all when there are fewer."""
    if size < 1:
        raise InputError(f"The background size is {size}; give at least 1 patient.")
    if size >= len(features):
        return features
    rng = np.random.default_rng(randomSeed)
    return features.iloc[np.sort(rng.choice(len(features), size=size, replace=False))]


def permutationImportance(
    score: Callable[[np.ndarray], np.ndarray],
    features: pd.DataFrame,
    labels: pd.Series | None = None,
    repeats: int = 10,
    randomSeed: int = 0,
) -> pd.DataFrame:
    """scikit-learn's permutation importance of each feature.

    With ``labels`` (0/1): the drop in AUC of the score when the feature is permuted. Without:
    the mean squared change of the score itself (the score of the intact table is the reference),
    so no labels are needed.

    :returns: ``feature``, ``importance_mean``, ``importance_sd``, ``rank`` (1 = most important), ``scoring``;
        sorted by rank.
    """
    from sklearn.inspection import permutation_importance

    from VirtualBiopsy.outcome.classification.metrics import rankAuc

    x = features.to_numpy(dtype=float)
    if labels is not None:
        reference, scoring = np.asarray(labels, dtype=int), "auc"
        if reference.min() == reference.max():
            raise InputError(
                "Permutation importance by AUC needs patients of both classes; drop the labels to use "
                "the change of the model output instead."
            )

        def scorer(estimator, data, target):
            return float(rankAuc(target, score(data)))
    else:
        reference, scoring = score(x), "output_mean_squared_change"

        def scorer(estimator, data, target):
            return -float(np.mean((score(data) - target) ** 2))

    result = permutation_importance(_Fitted(), x, reference, scoring=scorer, n_repeats=repeats, random_state=randomSeed)
    table = pd.DataFrame(
        {
            "feature": list(map(str, features.columns)),
            "importance_mean": result.importances_mean,
            "importance_sd": result.importances_std,
        }
    )
    table["rank"] = table["importance_mean"].rank(ascending=False, method="min").astype(int)
    table["scoring"] = scoring
    return table.sort_values(["rank", "feature"]).reset_index(drop=True)


class _Fitted:
    """Stands for the model in scikit-learn's permutation_importance; the scorer calls the score."""

    def fit(self, *arguments):
        return self
