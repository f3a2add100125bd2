"""``virtual-biopsy demo``: the walking pipeline over a virtual cohort.

Generates the cohort (or takes a manifest), runs harmonize → segment → extract per patient on MRML
nodes (one ``.mrb`` scene each), then clusters the patients on their standardized
features and compares the clusters' survival (Kaplan–Meier, log-rank), and runs the optional
cohort analyses (:mod:`~VirtualBiopsy.cohort.cohortAnalyses`): Cox model, classifier comparison,
Shapley values, a small CNN and its Grad-CAM maps.
"""

from __future__ import annotations

import json
import logging
import pathlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.casePipeline import runCase
from VirtualBiopsy.cohort.cohortAnalyses import (
    COHORT_SUBJECT,
    AnalysisRecord,
    CohortInputs,
    runAnalyses,
)
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.cohort.provenance import cohortProvenance
from VirtualBiopsy.data.manifest import readClinical, readManifest
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.errors import CancelledError, InputError, VirtualBiopsyError
from VirtualBiopsy.files import requireNewFolder, writeTextAtomically
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.storage import saveScene
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.outcome.patientClusters import PatientClusters
from VirtualBiopsy.outcome.survivalFigure import saveKaplanMeierFigure
from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """Paths and headline numbers of a demo run."""

    outDir: pathlib.Path
    featuresCsv: pathlib.Path
    clustersCsv: pathlib.Path
    kaplanMeierPng: pathlib.Path
    failuresCsv: pathlib.Path
    scenes: list[pathlib.Path]
    logRankPValue: float
    meanDice: float
    medianDice: float
    failures: int
    analyses: list[AnalysisRecord] = field(default_factory=list)

    def summary(self, analysis: str) -> dict | None:
        """The key numbers of an analysis that ran (see :func:`~VirtualBiopsy.cohort.cohortAnalyses.runAnalyses`)."""
        return next(
            (record.summary for record in self.analyses if record.name == analysis and record.status == "done"), None
        )


def runDemo(
    outDir: str | pathlib.Path,
    cases: int = 24,
    seed: int = 0,
    size: int = 128,
    config: PipelineConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Generate a virtual cohort in ``outDir/cohort`` and run :func:`runCohort` on it.

    :raises InputError: when ``outDir`` exists and is not empty (nothing is overwritten).
    """
    outDir = _newFolder(outDir)
    progress = progress or noProgress
    progress(0.0, f"Generating {cases} virtual patients")
    manifestPath = generateCohort(
        outDir / "cohort",
        cases=cases,
        seed=seed,
        size=size,
        progress=lambda fraction, message: progress(0.3 * fraction, message),
        cancel=cancel,
    )
    return runCohort(
        manifestPath,
        outDir,
        config=config,
        cancel=cancel,
        progress=lambda fraction, message: progress(0.3 + 0.7 * fraction, message),
    )


def runCohort(
    manifestPath: str | pathlib.Path,
    outDir: str | pathlib.Path,
    clinicalPath: str | pathlib.Path | None = None,
    config: PipelineConfig | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Run the walking pipeline on every patient of a cohort manifest, then the cohort analysis.

    Writes into ``outDir``: ``scenes/<patient>.mrb`` and ``scenes/cohort-outcome.mrb``,
    ``features.csv`` (one row per patient), ``clusters.csv`` (clinical data with the
    cluster and the Dice of the automatic segmentation), ``kaplan-meier.png`` and ``.svg``,
    ``failures.csv`` and ``provenance.json`` (versions, settings, input hashes, and each analysis' status,
    seeds, model hashes and key numbers), ``analyses.csv`` and the folders of the optional analyses
    (``cox/``, ``classification/``, ``cnn/``, ``gradcam/``). A patient that fails is recorded in
    ``failures.csv`` and the run goes on; so does a failing optional analysis (in ``analyses.csv``).

    :param clinicalPath: the clinical table; default ``clinical.csv`` beside the manifest.
    :raises InputError: when ``outDir/scenes`` exists already, or too few patients succeed.
    """
    outDir = pathlib.Path(outDir)
    manifestPath = pathlib.Path(manifestPath)
    config = config or PipelineConfig.preset("demo")
    progress = progress or noProgress
    cohort = readManifest(manifestPath)
    clinical = readClinical(pathlib.Path(clinicalPath or manifestPath.parent / "clinical.csv")).set_index("patient")
    sceneFolder = _newFolder(outDir / "scenes")
    provenance = cohortProvenance(cohort, config.toDict())
    writeTextAtomically(json.dumps(provenance, indent=2), outDir / "provenance.json")

    results, failures = [], []
    for index, case in enumerate(cohort.cases):
        progress(0.85 * index / len(cohort.cases), f"Patient {index + 1}/{len(cohort.cases)}")
        if cancel:
            cancel.raiseIfCancelled()
        if not case.ok:
            logger.warning("Case %s skipped: %s", case.patient, "; ".join(case.problems))
            failures.append({"patient": case.patient, "error": "InputError: " + "; ".join(case.problems)})
            continue
        try:
            results.append(runCase(case.patient, case.sequences, case.mask, sceneFolder, config, cancel=cancel))
        except VirtualBiopsyError as error:
            if isinstance(error, CancelledError):
                raise
            logger.warning("Case %s failed: %s", case.patient, error)
            failures.append({"patient": case.patient, "error": f"{type(error).__name__}: {error}"})
    failuresCsv = outDir / "failures.csv"
    pd.DataFrame(failures, columns=["patient", "error"]).to_csv(failuresCsv, index=False)
    if len(results) < config.outcome.numberOfClusters:
        raise InputError(
            f"Only {len(results)} of {len(cohort.cases)} patients were processed (see {failuresCsv}); "
            f"the cohort analysis needs at least {config.outcome.numberOfClusters}."
        )

    progress(0.85, "Clustering patients and comparing survival")
    features = pd.DataFrame([r.features for r in results], index=[r.patient for r in results]).rename_axis("patient")
    featuresCsv = outDir / "features.csv"
    features.to_csv(featuresCsv)
    scene, featuresTable, clinicalTable = cohortScene(features, clinical.loc[features.index])
    outcome = config.outcome
    survival = SurvivalLogic(scene).cluster(
        featuresTable, clinicalTable, outcome, subject=COHORT_SUBJECT, cancel=cancel
    )

    clusters = clinical.loc[features.index].copy()
    assert isinstance(survival.result, PatientClusters) and survival.kaplanMeier is not None
    clusters["cluster"] = survival.result.clusters.reindex(features.index.astype(str)).to_numpy()
    clusters["dice"] = [r.dice for r in results]
    clustersCsv = outDir / "clusters.csv"
    clusters.reset_index().to_csv(clustersCsv, index=False)
    kaplanMeierPng = saveKaplanMeierFigure(
        survival.kaplanMeier, outDir / "kaplan-meier", "Kaplan–Meier by cluster", timeLabel=outcome.timeColumn
    )[0]
    progress(0.9, "Cohort analyses: " + ", ".join(config.cohort.analyses))
    inputs = CohortInputs(
        features=features,
        clinical=clusters,
        featuresTable=featuresTable,
        clinicalTable=clinicalTable,
        manifestPath=manifestPath,
        clinicalPath=pathlib.Path(clinicalPath or manifestPath.parent / "clinical.csv"),
        sceneFolder=sceneFolder,
    )
    analyses = runAnalyses(scene, inputs, config, outDir, cancel)
    saveScene(scene, sceneFolder / "cohort-outcome.mrb")
    scene.Clear(True)
    provenance["analyses"] = _finiteOrNull([asdict(record) for record in analyses])
    writeTextAtomically(json.dumps(provenance, indent=2, default=str, allow_nan=False), outDir / "provenance.json")
    progress(1.0, f"Done: log-rank p = {survival.logRankPValue:.3g}")
    dices = [r.dice for r in results if r.dice is not None]
    return DemoResult(
        outDir=outDir,
        featuresCsv=featuresCsv,
        clustersCsv=clustersCsv,
        kaplanMeierPng=kaplanMeierPng,
        failuresCsv=failuresCsv,
        scenes=[r.scenePath for r in results],
        logRankPValue=survival.logRankPValue,
        meanDice=float(np.mean(dices)) if dices else float("nan"),
        medianDice=float(np.median(dices)) if dices else float("nan"),
        failures=len(failures),
        analyses=analyses,
    )


def _finiteOrNull(value):
    """``value`` with every NaN or infinite number (an undefined statistic) as ``None``: strict JSON."""
    if isinstance(value, dict):
        return {key: _finiteOrNull(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finiteOrNull(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _newFolder(folder: str | pathlib.Path) -> pathlib.Path:
    """Create ``folder``, refusing one that exists and is not empty."""
    folder = requireNewFolder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cohortScene(features: pd.DataFrame, clinical: pd.DataFrame) -> tuple[Any, Any, Any]:
    """A cohort scene with the features and clinical table nodes (the same patients), under subject ``Cohort``.

    Features that are constant over the cohort carry no information and are left out.
    """
    informative = features.loc[:, features.std(ddof=0) > 0]
    dropped = features.columns.difference(informative.columns)
    if len(dropped):
        logger.info("Left out %d features constant over the cohort: %s", len(dropped), ", ".join(dropped))
    scene = createScene()
    featuresTable = dataFrameToTableNode(informative.reset_index(), scene, "CohortFeatures")
    clinicalTable = dataFrameToTableNode(clinical.reset_index(), scene, "CohortClinical")
    placeInSubjectHierarchy(scene, [featuresTable, clinicalTable], COHORT_SUBJECT)
    return scene, featuresTable, clinicalTable
