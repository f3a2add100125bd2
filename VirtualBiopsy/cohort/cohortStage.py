"""The cohort analyses of a run as one ledger stage: ComBat by site, signature, clusters with Kaplan–Meier, then
the Cox model, classifiers, Shapley values and the CNN (:mod:`~VirtualBiopsy.cohort.cohortAnalyses`).

Everything is built in a hidden staging folder and replaces ``DIR/cohort`` at the end, so the folder always
holds one complete set of results; the stage is skipped when the features, the clinical table, the sites and
the settings are those of the last complete one.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import time
import uuid
from dataclasses import asdict
from typing import Any

import pandas as pd

from VirtualBiopsy.cohort.caseTask import COHORT_CASES
from VirtualBiopsy.cohort.cohortAnalyses import COHORT_SUBJECT, AnalysisRecord, CohortInputs, runAnalyses
from VirtualBiopsy.cohort.ledger import LedgerEntry, RunLedger, hashSettings
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.cohort.runProvenance import finiteOrNull
from VirtualBiopsy.data.clinical import readClinical
from VirtualBiopsy.data.manifest import writeManifest
from VirtualBiopsy.errors import CancelledError, VirtualBiopsyError
from VirtualBiopsy.files import TableFormat, sha256File, writeTextAtomically
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.sceneFiles import saveScene
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken

logger = logging.getLogger(__name__)

ANALYSES_CASE = COHORT_CASES[0]


def runCohortStage(
    runFolder: pathlib.Path,
    features: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    clinicalPath: pathlib.Path | None,
    config: PipelineConfig,
    cancel: CancelToken | None = None,
    tableFormat: TableFormat | None = None,
) -> tuple[list[AnalysisRecord], bool]:
    """Run the enabled cohort analyses into ``runFolder/cohort`` unless the ledger has them done as now.

    :param tableFormat: how the clinical table writes its numbers (as the run's check read it).
    :returns: each analysis' record (also in ``cohort/analyses.csv``; those of the last complete run when
        skipped), and whether they ran now.
    """
    ledger = RunLedger(runFolder)
    section = config.analyses
    if not section.enabled or features.empty:
        return [], False
    sites = {patient: summaries[patient].get("site") for patient in features.index}
    inputs = {"features": sha256File(runFolder / "features.csv")}
    if clinicalPath is not None:
        inputs["clinical"] = sha256File(clinicalPath)
    settings = {"analyses": section.toDict(), "sites": sites}
    settingsHash = hashSettings(settings)
    if ledger.isDone(ANALYSES_CASE, "analyses", inputs, settingsHash):
        return _recordedAnalyses(runFolder / "cohort" / "provenance.json"), False
    ledger.record(LedgerEntry(ANALYSES_CASE, "analyses", "started", inputs, settingsHash))
    start = time.perf_counter()
    staging = runFolder / f".cohort-{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()
    try:
        records = _analyses(staging, runFolder, features, summaries, clinicalPath, config, cancel, tableFormat)
        writeTextAtomically(
            json.dumps(
                {"analyses": finiteOrNull([asdict(r) for r in records])}, indent=2, default=str, allow_nan=False
            ),
            staging / "provenance.json",
        )
        _replaceFolder(staging, runFolder / "cohort")
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if not isinstance(error, CancelledError | KeyboardInterrupt):
            ledger.record(LedgerEntry(ANALYSES_CASE, "analyses", "failed", inputs, settingsHash, error=str(error)))
        raise
    outputs = sorted(path for path in (runFolder / "cohort").rglob("*") if path.is_file())
    ledger.record(
        LedgerEntry(
            ANALYSES_CASE,
            "analyses",
            "done",
            inputs,
            settingsHash,
            outputs=ledger.hashOutputs(outputs),
            seconds=time.perf_counter() - start,
        )
    )
    return records, True


def _analyses(
    folder: pathlib.Path,
    runFolder: pathlib.Path,
    features: pd.DataFrame,
    summaries: dict[str, dict[str, Any]],
    clinicalPath: pathlib.Path | None,
    config: PipelineConfig,
    cancel: CancelToken | None,
    tableFormat: TableFormat | None,
) -> list[AnalysisRecord]:
    section = config.analyses
    clinical = _clinical(clinicalPath, [str(p) for p in features.index], tableFormat)
    features = features.loc[clinical.index]
    patients = list(clinical.index)
    if "site" not in clinical:
        clinical.insert(0, "site", [summaries[p].get("site") or "" for p in patients])
    # numbers (NaN where a case has no reference mask), also when no case has one
    dice = pd.Series([summaries[p].get("dice") for p in patients], index=clinical.index, dtype=object)
    clinical["dice"] = pd.to_numeric(dice).astype(float)
    informative = features.loc[:, features.std(ddof=0) > 0]
    scene = createScene()
    featuresTable = dataFrameToTableNode(informative.reset_index(), scene, "CohortFeatures")
    clinicalTable = dataFrameToTableNode(clinical.reset_index(), scene, "CohortClinical")
    records: list[AnalysisRecord] = []

    def step(name: str, work) -> Any:
        if not section.isOn(name):
            return None
        if cancel:
            cancel.raiseIfCancelled()
        began = time.perf_counter()
        try:
            summary = work()
        except CancelledError:
            raise
        except (VirtualBiopsyError, ValueError, RuntimeError, ArithmeticError, LookupError) as error:
            logger.warning("Cohort analysis %s failed: %s", name, error)
            records.append(
                AnalysisRecord(name, "failed", time.perf_counter() - began, f"{type(error).__name__}: {error}")
            )
            return None
        records.append(AnalysisRecord(name, "done", time.perf_counter() - began, summary=summary or {}))
        return summary

    state: dict[str, Any] = {"table": featuresTable}
    step("combat", lambda: _combat(scene, state, clinicalTable, clinical, config, folder, cancel))
    step("signature", lambda: _signature(scene, state, config, folder))
    clusters = clinical.copy()
    clusterSummary = step("clusters", lambda: _clusters(scene, state, clinicalTable, clusters, config, folder, cancel))
    if clusterSummary is None:
        clusters = clinical
    writeTextAtomically(clusters.reset_index().to_csv(index=False), folder / "clusters.csv")
    casesCsv = _caseManifest(runFolder, summaries, patients, folder / "cases.csv")
    inputs = CohortInputs(
        features=informative,
        clinical=clusters,
        featuresTable=featuresTable,
        clinicalTable=clinicalTable,
        manifestPath=casesCsv,
        clinicalPath=folder / "clusters.csv",
        scenes={p: runFolder / summaries[p]["scene"] for p in patients if summaries[p].get("scene")},
    )
    records += runAnalyses(scene, inputs, config, folder, cancel)
    analysesTable = pd.DataFrame(
        [{"analysis": r.name, "status": r.status, "seconds": round(r.seconds, 2), "error": r.error} for r in records],
        columns=["analysis", "status", "seconds", "error"],
    )
    writeTextAtomically(analysesTable.to_csv(index=False), folder / "analyses.csv")
    placeInSubjectHierarchy(scene, [featuresTable, clinicalTable], COHORT_SUBJECT)
    saveScene(scene, folder / "cohort-outcome.mrb")
    scene.Clear(True)
    return records


def _clinical(path: pathlib.Path | None, patients: list[str], tableFormat: TableFormat | None) -> pd.DataFrame:
    """The clinical rows of ``patients`` that have one (index ``patient``, their order); only the ids when there is
    no clinical table. Patients without a row are left out of the analyses (the check warned about them)."""
    if path is None:
        return pd.DataFrame(index=pd.Index(patients, name="patient"))
    table = readClinical(path, tableFormat).set_index("patient")
    missing = [p for p in patients if p not in table.index]
    if missing:
        logger.warning("Left out of the cohort analyses, no clinical row: %s", ", ".join(missing))
    return table.loc[[p for p in patients if p in table.index]]


def _combat(scene, state, clinicalTable, clinical: pd.DataFrame, config: PipelineConfig, folder, cancel) -> dict:
    from VirtualBiopsy.harmonize.combatLogic import ComBatLogic

    combat = config.analyses.combat
    batches = clinical[combat.batchColumn] if combat.batchColumn in clinical else None
    if batches is None or batches.nunique() < 2:
        return {"applied": False, "reason": f"fewer than two values of '{combat.batchColumn}'"}
    _, table = ComBatLogic(scene).harmonize(state["table"], clinicalTable, combat, cancel=cancel)
    state["table"] = table
    frame = tableNodeToDataFrame(table)
    writeTextAtomically(frame.to_csv(index=False, float_format="%.17g"), folder / "features-combat.csv")
    return {"applied": True, "batches": int(batches.nunique())}


def _signature(scene, state, config: PipelineConfig, folder) -> dict:
    from VirtualBiopsy.outcome.signatures.signature import buildSignature

    settings = config.analyses.signature
    frame = tableNodeToDataFrame(state["table"]).set_index("patient")
    signature = buildSignature(
        frame, varianceThreshold=settings.varianceThreshold, correlationThreshold=settings.correlationThreshold
    )
    kept = signature.kept
    writeTextAtomically(signature.selection.to_csv(index_label="feature"), folder / "signature.csv")
    state["table"] = dataFrameToTableNode(frame[kept].reset_index(), scene, "CohortSignature")
    return {"features": len(kept), "of": frame.shape[1]}


def _clusters(scene, state, clinicalTable, clusters: pd.DataFrame, config: PipelineConfig, folder, cancel) -> dict:
    from VirtualBiopsy.outcome.patientClusters import PatientClusters
    from VirtualBiopsy.outcome.survivalFigure import saveKaplanMeierFigure
    from VirtualBiopsy.outcome.survivalLogic import SurvivalLogic

    outcome = config.analyses.clusters
    survival = SurvivalLogic(scene).cluster(
        state["table"], clinicalTable, outcome, subject=COHORT_SUBJECT, cancel=cancel
    )
    assert isinstance(survival.result, PatientClusters), "cluster() returns the clusters"
    clusters["cluster"] = survival.result.clusters.reindex(clusters.index.astype(str)).to_numpy()
    if survival.kaplanMeier is not None:
        saveKaplanMeierFigure(
            survival.kaplanMeier, folder / "kaplan-meier", "Kaplan–Meier by cluster", timeLabel=outcome.timeColumn
        )
    return {"logRankPValue": survival.logRankPValue, "clusters": int(clusters["cluster"].nunique())}


def _caseManifest(runFolder, summaries, patients: list[str], path: pathlib.Path) -> pathlib.Path:
    """A manifest of the analysed cases: their images as acquired (as in their scenes, which the Grad-CAM maps
    read) and the run's tumour masks."""
    rows = []
    for patient in patients:
        summary = summaries[patient]
        mask = str(runFolder / summary["segmentation"])
        rows.append({"patient": patient, "site": summary.get("site"), **summary["images"], "mask": mask})
    return writeManifest(rows, path)


def _recordedAnalyses(path: pathlib.Path) -> list[AnalysisRecord]:
    if not path.is_file():
        return []
    return [AnalysisRecord(**record) for record in json.loads(path.read_text(encoding="utf-8"))["analyses"]]


def _replaceFolder(staging: pathlib.Path, target: pathlib.Path) -> None:
    """Put ``staging`` in ``target``'s place: the old folder moves aside first and is removed after."""
    old = target.with_name(f".{target.name}-{uuid.uuid4().hex[:8]}.old")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
