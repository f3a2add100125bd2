"""A patient's outcome summary: prediction and confidence of a saved classifier, the patient's
place in the cohort's scores, the largest Shapley contributions and a Grad-CAM thumbnail.

Pure pandas/numpy: the Outcome module only displays the :class:`PatientSummary`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig  # noqa: F401 (re-exported)

#: What each saved classifier's score is (see ``classification.models.EXPLAINED_QUANTITY``).
SCORE_KINDS = {"lr": "logOdds", "gb": "logOdds", "rf": "probability", "svm": "decision"}
#: Columns of a Shapley table that are not features.
SHAP_EXTRA_COLUMNS = ("base_value", "model_output")
#: A Shapley row whose ``model_output`` differs from the score by more than this (relative) is refused.
OUTPUT_TOLERANCE = 1e-6


@dataclass
class Contribution:
    """One feature's Shapley value for the patient (in the units of the explained score)."""

    feature: str
    shapValue: float
    featureValue: float | None = None


@dataclass
class PatientSummary:
    """What the summary panel shows for one patient.

    :ivar score: the classifier's score of the patient; :ivar quantity: what the score is.
    :ivar prediction: the predicted class (score at or above ``threshold``: the positive class).
    :ivar probability: probability of the positive class, ``None`` when the score is not one (SVM).
    :ivar confidence: probability of the predicted class, ``None`` when undefined (see ``confidenceNote``).
    :ivar percentile: mid-rank percentile (0–100) of the score among the cohort's scores.
    :ivar contributions: the largest Shapley values, largest magnitude first (empty without a table).
    :ivar thumbnailPng: a PNG of the Grad-CAM overlay, or ``None``.
    """

    patient: str
    score: float
    quantity: str
    threshold: float
    prediction: str
    probability: float | None
    confidence: float | None
    confidenceNote: str
    percentile: float
    cohortSize: int
    contributions: list[Contribution] = field(default_factory=list)
    baseValue: float | None = None
    thumbnailPng: bytes | None = None

    def lines(self) -> list[str]:
        """The summary as short lines of text."""
        confidence = f"{100 * self.confidence:.0f}%" if self.confidence is not None else self.confidenceNote
        lines = [
            f"Prediction: {self.prediction} (confidence {confidence})",
            f"Score {self.score:.3g} ({self.quantity}), threshold {self.threshold:.3g}",
            f"Cohort: {self.percentile:.0f}th percentile of {self.cohortSize} patients",
        ]
        if self.contributions:
            lines.append("Top contributions:")
            lines += [f"  {c.feature} {c.shapValue:+.3g}" for c in self.contributions]
        return lines


def cohortPercentile(scores: pd.Series | np.ndarray, value: float) -> float:
    """Mid-rank percentile of ``value`` among ``scores``: 100 × (#below + ½ #equal) / #scores.

    :raises InputError: for no scores or non-finite values.
    """
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        raise InputError("The cohort has no scores; give the scores of at least one patient.")
    if not np.all(np.isfinite(values)) or not math.isfinite(value):
        raise InputError(
            f"The cohort scores include {int(np.sum(~np.isfinite(values)))} non-finite value(s) "
            "(or the patient's score is not finite); fix the features that produced them."
        )
    return float(100.0 * (np.sum(values < value) + 0.5 * np.sum(values == value)) / values.size)


def scoreProbability(score: float, scoreKind: str) -> float | None:
    """Probability of the positive class for a score of kind ``logOdds`` or ``probability``;
    ``None`` for ``decision`` values (an SVM's distance to its boundary is not a probability)."""
    if scoreKind not in ("logOdds", "probability", "decision"):
        raise InputError(f"Score kind '{scoreKind}' is not known; use logOdds, probability or decision.")
    if scoreKind == "logOdds":
        return float(1.0 / (1.0 + math.exp(-score))) if score >= 0 else float(math.exp(score) / (1.0 + math.exp(score)))
    if scoreKind == "probability":
        if not 0.0 <= score <= 1.0:
            raise InputError(f"A probability score must lie in [0, 1]; got {score}. Check the model's score kind.")
        return float(score)
    return None


def summarizePatient(
    patient: str,
    scores: pd.Series,
    threshold: float,
    positiveClass: str,
    negativeClass: str,
    scoreKind: str,
    quantity: str = "",
    shap: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
    topContributions: int = 5,
    patientColumn: str = "patient",
    thumbnailPng: bytes | None = None,
) -> PatientSummary:
    """Summarize ``patient`` from the cohort's classifier scores and its Shapley values.

    :param scores: the classifier's score of every patient of the cohort (patients as the index).
    :param threshold: the classifier's decision threshold on the score (e.g. its Youden threshold).
    :param scoreKind: ``logOdds``, ``probability`` or ``decision`` (see :data:`SCORE_KINDS`).
    :param shap: a Shapley table (``patientColumn``, one column per feature, ``base_value``,
        ``model_output``) of the same classifier; its ``model_output`` must equal the patient's score.
    :param features: the feature values (patients as the index), shown beside the contributions.
    :raises InputError: for an unknown patient, non-finite scores or a Shapley table of another model.
    """
    if topContributions < 1:
        raise InputError(f"topContributions is {topContributions}; list at least 1 contribution.")
    scores = pd.Series(scores, dtype=float)
    scores.index = scores.index.astype(str)
    patient = str(patient)
    if patient not in scores.index:
        raise InputError(
            f"Patient '{patient}' has no score (the cohort has {len(scores)} patients, e.g. "
            f"{', '.join(list(scores.index[:3]))}); choose a patient of the features table."
        )
    if scores.index.duplicated().any():
        twice = ", ".join(scores.index[scores.index.duplicated()][:5])
        raise InputError(f"Patients appear twice in the scores: {twice}; give each patient once.")
    score = float(scores[patient])
    percentile = cohortPercentile(scores, score)
    probability = scoreProbability(score, scoreKind)
    positive = score >= threshold
    prediction = str(positiveClass if positive else negativeClass)
    confidence, note = None, ""
    if probability is None:
        note = "undefined: the score is a decision value, not a probability"
    else:
        confidence = probability if positive else 1.0 - probability
    contributions: list[Contribution] = []
    baseValue: float | None = None
    if shap is not None:
        contributions, baseValue = _contributions(shap, patient, score, features, topContributions, patientColumn)
    return PatientSummary(
        patient,
        score,
        quantity or scoreKind,
        float(threshold),
        prediction,
        probability,
        confidence,
        note,
        percentile,
        int(scores.size),
        contributions,
        baseValue,
        thumbnailPng,
    )


def _contributions(
    shap: pd.DataFrame, patient: str, score: float, features: pd.DataFrame | None, top: int, patientColumn: str
) -> tuple[list[Contribution], float]:
    missing = [c for c in (patientColumn, *SHAP_EXTRA_COLUMNS) if c not in shap.columns]
    if missing:
        raise InputError(
            f"The Shapley table lacks column(s) {', '.join(missing)}; give the table made by "
            "'virtual-biopsy outcome explain' or ClassificationLogic.explain."
        )
    rows = shap[shap[patientColumn].astype(str) == patient]
    if len(rows) != 1:
        raise InputError(
            f"The Shapley table has {len(rows)} rows for patient '{patient}'; explain the "
            "classifier on a table that holds the patient once."
        )
    row = rows.iloc[0]
    output = float(row["model_output"])
    if abs(output - score) > OUTPUT_TOLERANCE * (1.0 + abs(score)):
        raise InputError(
            f"The Shapley table's model output for '{patient}' is {output:.6g} but the classifier "
            f"scores {score:.6g}: the table explains another model or other features. Explain the "
            "chosen classifier again."
        )
    values = row.drop([patientColumn, *SHAP_EXTRA_COLUMNS]).astype(float)
    order = values.abs().sort_values(ascending=False, kind="stable").index[:top]
    known = features is not None and patient in features.index.astype(str)
    frame = features.set_axis(features.index.astype(str)) if features is not None and known else None
    contributions = [
        Contribution(
            str(name),
            float(values[name]),
            float(frame.loc[patient, name]) if frame is not None and name in frame.columns else None,
        )
        for name in order
    ]
    return contributions, float(row["base_value"])
