"""The optional cohort analyses of a demo run, after the clusters: Cox model, classifier comparison,
Shapley values and a small CNN with Grad-CAM maps.

Each analysis writes its own new folder under the run's folder (all at once) and adds its tables and
charts to the cohort scene; :func:`runAnalyses` times each, records a failing one and goes on.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from VirtualBiopsy.cohort.analysisConfig import CLUSTER_COVARIATE
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.errors import CancelledError, InputError, VirtualBiopsyError
from VirtualBiopsy.files import stagedOutputFolder, writeTextAtomically
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic
from VirtualBiopsy.outcome.cox import CoxResult
from VirtualBiopsy.outcome.survivalFigure import saveKaplanMeierFigure
from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic
from VirtualBiopsy.progress import CancelToken

logger = logging.getLogger(__name__)

#: Subject of the cohort-level nodes in the cohort scene's subject hierarchy.
COHORT_SUBJECT = "Cohort"


@dataclass
class AnalysisRecord:
    """How one analysis went: ``status`` is ``done``, ``failed`` or ``skipped``; ``summary`` holds its key numbers."""

    name: str
    status: str
    seconds: float
    error: str = ""
    summary: dict = field(default_factory=dict)


@dataclass
class CohortInputs:
    """What the analyses work on: per patient (index) features, clinical data with the cluster, and scene files."""

    features: pd.DataFrame
    clinical: pd.DataFrame
    featuresTable: object
    clinicalTable: object
    manifestPath: pathlib.Path
    clinicalPath: pathlib.Path
    scenes: dict[str, pathlib.Path]


def runAnalyses(
    scene, inputs: CohortInputs, config: PipelineConfig, outDir: pathlib.Path, cancel: CancelToken | None = None
) -> list[AnalysisRecord]:
    """Run ``config.analyses.active()`` after the clusters, in order; a failure is logged, recorded and the next analysis runs.

    Writes ``analyses.csv`` (analysis, status, seconds, error) into ``outDir``.
    """
    from VirtualBiopsy.cohort.deepAnalysis import runDeepLearning

    steps: dict[str, Callable[[], dict]] = {
        "cox": lambda: runCox(scene, inputs, config, outDir / "cox", cancel),
        "classification": lambda: runClassification(scene, inputs, config, outDir / "classification", state, cancel),
        "explanation": lambda: runExplanation(scene, inputs, config, outDir / "classification", state, cancel),
        "deepLearning": lambda: runDeepLearning(inputs, config, outDir / "gradcam", outDir / "cnn", cancel),
    }
    state: dict = {}
    records = []
    for name in [name for name in config.analyses.active() if name in steps]:
        if cancel:
            cancel.raiseIfCancelled()
        if name == "explanation" and "result" not in state:
            records.append(AnalysisRecord(name, "skipped", 0.0, "the classifier comparison did not run"))
            continue
        start = time.perf_counter()
        try:
            summary = steps[name]()
            records.append(AnalysisRecord(name, "done", time.perf_counter() - start, summary=summary))
        except CancelledError:
            raise
        except (VirtualBiopsyError, ValueError, RuntimeError, ArithmeticError, LookupError, OSError) as error:
            logger.warning("Cohort analysis %s failed: %s", name, error)
            records.append(
                AnalysisRecord(name, "failed", time.perf_counter() - start, f"{type(error).__name__}: {error}")
            )
        logger.info("Cohort analysis %s: %s in %.1f s", name, records[-1].status, records[-1].seconds)
    table = pd.DataFrame(
        [{"analysis": r.name, "status": r.status, "seconds": round(r.seconds, 2), "error": r.error} for r in records],
        columns=["analysis", "status", "seconds", "error"],
    )
    writeTextAtomically(table.to_csv(index=False), outDir / "analyses.csv")
    return records


def runCox(
    scene, inputs: CohortInputs, config: PipelineConfig, folder: pathlib.Path, cancel: CancelToken | None = None
) -> dict:
    """Cox model of survival on ``config.analyses.cox.covariates`` (clinical columns or the cluster), through
    :class:`~VirtualBiopsy.outcome.survivalLogic.SurvivalLogic`.

    Writes ``coefficients.csv``, ``cindex.csv``, ``ph_test.csv``, ``risk_groups.csv`` and the risk groups'
    Kaplan–Meier ``risk_km.csv``, ``risk_logrank.csv``, ``risk_km.png``/``.svg`` into the new folder.
    """
    outcome, cox = config.analyses.clusters, config.analyses.cox
    absent = [name for name in cox.covariates if name not in inputs.clinical.columns]
    if absent:
        raise InputError(
            f"Cox covariate(s) {', '.join(absent)} are not clinical columns (they are: "
            f"{', '.join(map(str, inputs.clinical.columns))}, and '{CLUSTER_COVARIATE}'); fix cox.covariates."
        )
    columns = [outcome.timeColumn, outcome.eventColumn, *cox.covariates]
    frame = inputs.clinical[columns].rename_axis(outcome.patientColumn).reset_index()
    table = dataFrameToTableNode(frame, scene, "CoxCovariates")
    nodes = SurvivalLogic(scene).cox(table, cox.survivalConfig(outcome), subject=COHORT_SUBJECT, cancel=cancel)
    result = nodes.result
    assert isinstance(result, CoxResult)
    with stagedOutputFolder(folder, "Cox folder") as staging:
        for name, data in (
            ("coefficients", result.coefficients),
            ("cindex", result.concordance),
            ("ph_test", result.phTest),
        ):
            data.to_csv(staging / f"{name}.csv", index=False)
        pd.DataFrame(
            {
                outcome.patientColumn: result.prognosticIndex.index.astype(str),
                "prognostic_index": result.prognosticIndex.to_numpy(),
                "risk_group": result.riskGroups.to_numpy(),
            }
        ).to_csv(staging / "risk_groups.csv", index=False)
        km = result.riskKaplanMeier
        km.curves.to_csv(staging / "risk_km.csv", index=False)
        km.logRank.to_csv(staging / "risk_logrank.csv", index=False)
        saveKaplanMeierFigure(
            km,
            staging / "risk_km",
            timeLabel=outcome.timeColumn,
            title=f"Cox risk groups ({', '.join(cox.covariates)})",
        )
    concordance = result.concordance.iloc[0]
    return {
        "covariates": list(cox.covariates),
        "penalizer": cox.penalizer,
        "cIndex": float(concordance["cindex"]),
        "cIndexLower": float(concordance["ci_lower"]),
        "cIndexUpper": float(concordance["ci_upper"]),
        "riskGroupLogRankP": float(km.logRank.iloc[0]["p"]),
        "bootstrapSeed": outcome.randomSeed,
    }


def runClassification(
    scene,
    inputs: CohortInputs,
    config: PipelineConfig,
    folder: pathlib.Path,
    state: dict,
    cancel: CancelToken | None = None,
) -> dict:
    """Compare ``config.analyses.classification.models`` on the radiomics features (ClassificationLogic) and write
    ``performance.csv``, ``roc.png``/``.svg``, ``models/<name>/`` … into the new folder."""
    logic = ClassificationLogic(scene)
    result = logic.run(
        inputs.featuresTable,
        inputs.clinicalTable,
        config.analyses.classification,
        cancel=cancel,
        subject=COHORT_SUBJECT,
    )
    logic.saveResults(result, folder)
    state["result"] = result
    performance = result.comparison.performance.set_index("model")
    best = str(performance["auc_pooled"].idxmax())
    row = performance.loc[best]
    models = {
        name: {"auc": float(performance.loc[name, "auc_pooled"]), "modelSha256": _modelHash(folder, name)}
        for name in performance.index
    }
    return {
        "target": result.comparison.target.toDict(),
        "bestModel": best,
        "bestAuc": float(row["auc_pooled"]),
        "bestAucLower": float(row["auc_ci_lower"]),
        "bestAucUpper": float(row["auc_ci_upper"]),
        "ciLevel": float(row["ci_level"]),
        "models": models,
        "randomSeed": config.analyses.classification.randomSeed,
    }


def runExplanation(
    scene,
    inputs: CohortInputs,
    config: PipelineConfig,
    folder: pathlib.Path,
    state: dict,
    cancel: CancelToken | None = None,
) -> dict:
    """Shapley values of the chosen saved classifier for every patient; ``shap.csv``, ``summary.png``/``.svg``,
    one waterfall per Grad-CAM patient and ``explanation.json`` are added to the classification folder."""
    from VirtualBiopsy.outcome.classification.artifact import loadClassifier
    from VirtualBiopsy.outcome.classification.outputs import (
        MODELS_FOLDER,
        writeExplanation,
    )

    performance = state["result"].comparison.performance.set_index("model")
    name = config.analyses.explanation.model
    if name == "best":
        name = str(performance["auc_pooled"].idxmax())
    model = loadClassifier(folder / MODELS_FOLDER / name)
    panel = ClassifierPanelConfig(
        classifierModelFolder=str(folder / MODELS_FOLDER / name),
        shapBackgroundSize=config.analyses.explanation.backgroundSize,
        patientColumn=config.analyses.clusters.patientColumn,
        randomSeed=config.analyses.classification.randomSeed,
    )
    nodes = ClassificationLogic(scene).explain(
        model, inputs.featuresTable, panel, subject=COHORT_SUBJECT, cancel=cancel
    )
    explanation = nodes.explanation
    patients = waterfallPatients(inputs, config)
    details = {
        "model": name,
        "modelSha256": model.card["modelSha256"],
        "seed": config.analyses.classification.randomSeed,
    }
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".explanation.", suffix=".partial", dir=folder))
    try:
        written = writeExplanation(
            explanation.shapley, explanation.importance, explanation.modelInput, staging, patients, details
        )
        for entry in sorted(staging.iterdir()):
            if (folder / entry.name).exists():
                raise InputError(f"{folder / entry.name} exists already; nothing is overwritten.")
        for entry in sorted(staging.iterdir()):
            os.replace(entry, folder / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shapley = explanation.shapley
    return {
        "model": name,
        "modelSha256": model.card["modelSha256"],
        "method": shapley.method,
        "quantity": shapley.quantity,
        "baseValue": shapley.baseValue,
        "patients": len(shapley.values),
        "waterfallPatients": patients,
        "files": len(written),
    }


def waterfallPatients(inputs: CohortInputs, config: PipelineConfig) -> list[str]:
    """The Grad-CAM patients (:func:`~VirtualBiopsy.cohort.deepAnalysis.gradCamPatients`) that have features,
    or else the first patient: the waterfall does not depend on the CNN's settings being usable."""
    from VirtualBiopsy.cohort.deepAnalysis import gradCamPatients

    try:
        chosen = gradCamPatients(inputs.clinical, config.analyses.deepLearning)
    except InputError:
        chosen = []
    return [p for p in chosen if p in inputs.features.index] or [str(inputs.features.index[0])]


def _modelHash(folder: pathlib.Path, name: str) -> str:
    import json

    from VirtualBiopsy.outcome.classification.outputs import MODELS_FOLDER

    card = json.loads((folder / MODELS_FOLDER / name / "model.json").read_text(encoding="utf-8"))
    return str(card.get("modelSha256", ""))
