"""Files of a classifier comparison and of an explanation (written into a staging folder)."""

from __future__ import annotations

import json
import pathlib

import pandas as pd

from VirtualBiopsy.files import writeTextAtomically
from VirtualBiopsy.outcome.classification.artifact import (
    libraryVersions,
    saveClassifier,
)
from VirtualBiopsy.outcome.classification.comparison import ClassifierComparison
from VirtualBiopsy.outcome.classification.figures import (
    saveRocFigure,
    saveSummaryFigure,
    saveWaterfallFigure,
)
from VirtualBiopsy.outcome.classification.shapley import ShapleyExplanation
from VirtualBiopsy.outcome.classification.validation import ROC_GRID

#: Sub-folder of a comparison folder holding one saved model per classifier.
MODELS_FOLDER = "models"


def rocTable(comparison: ClassifierComparison) -> pd.DataFrame:
    """Mean cross-validated ROC curve of each model: ``model``, ``fpr``, ``tpr_mean``, ``tpr_sd`` (over folds)."""
    frames = []
    for name, validation in comparison.validations.items():
        mean = validation.rocTruePositive.mean(axis=0)
        mean[-1] = 1.0
        frames.append(
            pd.DataFrame(
                {"model": name, "fpr": ROC_GRID, "tpr_mean": mean, "tpr_sd": validation.rocTruePositive.std(axis=0)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def predictionTable(comparison: ClassifierComparison) -> pd.DataFrame:
    """Out-of-fold scores: ``patient``, ``target`` (0/1), ``model``, ``repeat``, ``score``."""
    frames = []
    for name, validation in comparison.validations.items():
        for repeat in range(validation.outOfFold.shape[1]):
            frames.append(
                pd.DataFrame(
                    {
                        "patient": comparison.labels.index.astype(str),
                        "target": comparison.labels.to_numpy(),
                        "model": name,
                        "repeat": repeat,
                        "score": validation.outOfFold[:, repeat],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def writeComparison(
    comparison: ClassifierComparison, folder: pathlib.Path, inputs: dict | None = None
) -> list[pathlib.Path]:
    """Write ``performance.csv``, ``folds.csv``, ``predictions.csv``, ``roc.csv``, ``roc.png``/``.svg``,
    ``provenance.json`` and ``models/<name>/`` into the (staging) folder ``folder``.

    :param inputs: what the run read (file names, hashes), recorded in ``provenance.json``.
    """
    folder = pathlib.Path(folder)
    written = [writeTextAtomically(comparison.performance.to_csv(index=False), folder / "performance.csv")]
    folds = pd.concat([v.folds.assign(model=name) for name, v in comparison.validations.items()], ignore_index=True)
    folds = folds[["model", *[c for c in folds.columns if c != "model"]]]
    written.append(writeTextAtomically(folds.to_csv(index=False), folder / "folds.csv"))
    written.append(writeTextAtomically(predictionTable(comparison).to_csv(index=False), folder / "predictions.csv"))
    written.append(writeTextAtomically(rocTable(comparison).to_csv(index=False), folder / "roc.csv"))
    written += saveRocFigure(comparison.validations, comparison.performance, folder / "roc")
    for name, model in comparison.models.items():
        written.append(saveClassifier(model, folder / MODELS_FOLDER / name))
    provenance = {
        "target": comparison.target.toDict(),
        "patients": int(len(comparison.labels)),
        "positives": int(comparison.labels.sum()),
        "droppedFeatures": comparison.prepared.dropped,
        "settings": next(iter(comparison.models.values())).settings if comparison.models else {},
        "inputs": inputs or {},
        "versions": libraryVersions(),
    }
    written.append(writeTextAtomically(json.dumps(provenance, indent=2, default=str), folder / "provenance.json"))
    return written


def writeExplanation(
    explanation: ShapleyExplanation,
    importance: pd.DataFrame,
    features: pd.DataFrame,
    folder: pathlib.Path,
    patients: list[str] | None = None,
    details: dict | None = None,
) -> list[pathlib.Path]:
    """Write ``shap.csv``, ``permutation_importance.csv``, ``summary.png``/``.svg``,
    ``waterfall/<patient>.png``/``.svg`` (for ``patients``, default all) and ``explanation.json``.

    Waterfall files are named after the patient ids the feature table already carries.
    """
    folder = pathlib.Path(folder)
    written = [
        writeTextAtomically(explanation.table().to_csv(index=False), folder / "shap.csv"),
        writeTextAtomically(importance.to_csv(index=False), folder / "permutation_importance.csv"),
    ]
    written += saveSummaryFigure(explanation, features, folder / "summary")
    (folder / "waterfall").mkdir()
    for patient in patients if patients is not None else list(explanation.values.index):
        written += saveWaterfallFigure(explanation, patient, folder / "waterfall" / _safeName(patient))
    record = {
        "quantity": explanation.quantity,
        "baseValue": explanation.baseValue,
        "method": explanation.method,
        "backgroundPatients": explanation.backgroundPatients,
        **(details or {}),
    }
    written.append(writeTextAtomically(json.dumps(record, indent=2, default=str), folder / "explanation.json"))
    return written


def _safeName(patient: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(patient)).lstrip(".") or "patient"
