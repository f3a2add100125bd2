"""``virtual-biopsy run``: the whole pipeline over a user's cohort, resumable, serial or on Dask, with a report.

See ``docs/cohort-run.md`` for the command, the settings file and the run folder's layout.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from VirtualBiopsy.cohort.caseTask import inputHash, readCaseTasks
from VirtualBiopsy.cohort.cohortAnalyses import AnalysisRecord
from VirtualBiopsy.cohort.cohortCheck import CohortCheck, checkCohort
from VirtualBiopsy.cohort.eventLog import EventLog
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.cohort.runCompletion import markRunComplete, markRunIncomplete
from VirtualBiopsy.cohort.runFolder import RunIdentity, inspectRunFolder, openRunFolder, runFolderLock
from VirtualBiopsy.cohort.runProgress import RunProgress
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import TableFormat, writeTextAtomically
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a cohort run produced.

    :ivar outDir: the run folder.
    :ivar cases: the manifest's patients; :ivar done: those that finished; :ivar failed: ``{patient: reason}``.
    :ivar analyses: each cohort analysis' record (those of the last complete run when nothing changed).
    :ivar report: the report's index page, or ``None`` when it could not be built.
    :ivar state: ``new``, ``same`` (the same run continued) or ``resumed`` (a changed run).
    :ivar domainWarnings: ``{patient: warnings}`` where the model was applied outside its training domain.
    """

    outDir: pathlib.Path
    cases: list[str]
    done: list[str]
    failed: dict[str, str]
    analyses: list[AnalysisRecord] = field(default_factory=list)
    report: pathlib.Path | None = None
    state: str = "new"
    seconds: float = 0.0
    domainWarnings: dict[str, list[str]] = field(default_factory=dict)

    def summary(self, analysis: str) -> dict | None:
        """The key numbers of an analysis that ran."""
        return next((r.summary for r in self.analyses if r.name == analysis and r.status == "done"), None)


def resolveConfig(
    config: PipelineConfig | str | pathlib.Path | None = None, preset: str | None = None
) -> PipelineConfig:
    """The run's settings: a config, a YAML file (over ``preset`` when both are given), a preset, or the defaults."""
    if isinstance(config, PipelineConfig):
        return config
    base = PipelineConfig.preset(preset) if preset else None
    if config is not None:
        return PipelineConfig.fromYaml(config, base)
    return base or PipelineConfig()


def checkRun(
    manifest: str | pathlib.Path,
    clinical: str | pathlib.Path | None,
    config: PipelineConfig,
    allowOutsidePaths: bool = False,
    dataRoots: Sequence[str | pathlib.Path] = (),
    tableFormat: TableFormat | None = None,
) -> CohortCheck:
    """Every problem of the manifest, its files and the clinical table (default: ``clinical.csv`` beside the
    manifest, when there is one), plus what the settings need of them.

    :param dataRoots: folders besides the manifest's that its paths may lead into.
    :param tableFormat: how the clinical table writes its numbers (decimal mark, text columns).
    """
    manifestPath = pathlib.Path(manifest).expanduser().resolve()
    check = checkCohort(
        manifestPath,
        _clinicalPath(manifestPath, clinical),
        allowOutsidePaths=allowOutsidePaths,
        dataRoots=dataRoots,
        tableFormat=tableFormat,
    )
    if not check.ok:
        return check
    from VirtualBiopsy.cohort.cohortCheck import CohortProblem

    header = _header(check.manifestPath)
    for sequence in config.neededSequences():
        if sequence not in header:
            check.problems.append(
                CohortProblem(
                    None,
                    None,
                    sequence,
                    None,
                    f"the settings need a {sequence} column "
                    "(segment.sequence, extract.sequences or the model's inputs); add it or change them.",
                    "error",
                    "cohort",
                )
            )
    if config.segment.usesManifestMasks and "mask" not in header:
        check.problems.append(
            CohortProblem(
                None,
                None,
                "mask",
                None,
                f"segment.source is {config.segment.source}, which reads the "
                "manifest's masks; add a mask column or set segment.source: model.",
                "error",
                "cohort",
            )
        )
    return check


def run(
    manifest: str | pathlib.Path,
    out: str | pathlib.Path,
    clinical: str | pathlib.Path | None = None,
    config: PipelineConfig | str | pathlib.Path | None = None,
    preset: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    allowOutsidePaths: bool = False,
    dataRoots: Sequence[str | pathlib.Path] = (),
    tableFormat: TableFormat | None = None,
    logJson: str | pathlib.Path | None = None,
    gpuResource: str | None = None,
    report: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RunResult:
    """Run the pipeline on every patient of ``manifest`` into ``out``, then the cohort analyses and the report.

    Re-running the same call skips what is done; ``resume=True`` also accepts a changed manifest, clinical table
    or settings and redoes only what the change affects. A failing patient fails alone (``failures.csv``).

    :param clinical: the clinical table; default ``clinical.csv`` beside the manifest when there is one.
    :param config: a :class:`PipelineConfig` or a YAML file (over ``preset`` when both are given).
    :param workers: run the cases on a local Dask cluster of this many processes; :param scheduler: or on an
        existing Dask cluster. Neither: one after the other in this process.
    :param allowOutsidePaths: accept manifest paths that lead anywhere; :param dataRoots: or into these folders
        besides the manifest's (otherwise such a path stops the run before anything is opened).
    :param tableFormat: how the clinical table writes its numbers (decimal mark, text columns); the cohort
        analyses read the unchanged table the same way.
    :param logJson: a file that also receives the progress events (JSON lines).
    :param gpuResource: send cases only to Dask workers that declare this resource (e.g. ``GPU``).
    :raises InputError: for a cohort-level problem (every problem listed), or a run folder that holds another run.
    """
    started = time.perf_counter()
    settings = resolveConfig(config, preset)
    manifestPath = pathlib.Path(manifest).expanduser().resolve()
    clinicalPath = _clinicalPath(manifestPath, clinical)
    check = checkRun(manifestPath, clinicalPath, settings, allowOutsidePaths, dataRoots, tableFormat)
    if not check.ok:
        raise InputError(f"The cohort cannot run ({len(check.errors)} problem(s)):\n  " + "\n  ".join(check.lines()))
    outDir = pathlib.Path(out).expanduser().absolute()
    progress = progress or noProgress
    identity = RunIdentity.of(manifestPath, clinicalPath, settings.toDict())
    inspectRunFolder(outDir, identity, resume)  # refused before anything is written into the folder
    with runFolderLock(outDir):
        state = openRunFolder(outDir, identity, resume)
        markRunIncomplete(outDir)
        _removeLeftovers(outDir)
        writeTextAtomically(settings.toYaml(), outDir / "pipeline.yaml")
        check.writeCsv(outDir / "check.csv")
        events = EventLog([outDir / "events.jsonl", *([pathlib.Path(logJson)] if logJson else [])])
        tasks, failed, cases = readCaseTasks(
            check,
            outDir,
            settings.toDict(),
            settings.neededSequences() if (settings.segment.enabled or settings.extract.enabled) else [],
            settings.segment.usesManifestMasks,
            tuple(str(path) for path in events.files),
        )
        tracker = RunProgress(len(cases), events, progress)
        events.emit("run-started", total=len(cases), done=0, failed=0)
        for patient, reason in failed.items():
            tracker.caseFailed(patient, "check", reason)
        summaries = _runCases(tasks, outDir, workers, scheduler, gpuResource, tracker, cancel)
        summaries.update(_checkFailures(outDir, failed))
        return _finish(
            outDir,
            manifestPath,
            clinicalPath,
            settings,
            cases,
            summaries,
            state,
            report,
            tracker,
            events,
            cancel,
            started,
            check,
        )


def _runCases(tasks, outDir, workers, scheduler, gpuResource, tracker: RunProgress, cancel) -> dict[str, dict]:
    """Run every case's stages (serial or on Dask); a crashed worker's case gets a failed summary."""
    from VirtualBiopsy.cohort.casePipeline import runCaseTask
    from VirtualBiopsy.cohort.caseSteps import writeJson
    from VirtualBiopsy.cohort.cohortTables import readCaseSummaries
    from VirtualBiopsy.executors.factory import makeExecutor

    if not tasks:
        return {}
    byPatient = {task.patient: task for task in tasks}

    def onCase(fraction: float, message: str) -> None:
        patient, outcome = message.rsplit(" ", 1)
        if outcome == "done":  # a case whose worker failed is counted below, from its outcome
            tracker.caseEnded(patient, readCaseSummaries(outDir, [patient]).get(patient))

    executor = makeExecutor(workers, scheduler, {gpuResource: 1} if gpuResource else None)
    with executor:
        outcomes = executor.map(runCaseTask, tasks, progress=onCase, cancel=cancel, keys=list(byPatient))
    summaries = {}
    for outcome in outcomes:
        if outcome.ok:
            summaries[outcome.key] = outcome.value
            continue
        task = byPatient[outcome.key]
        summary = {
            "patient": task.patient,
            "site": task.site,
            "status": "failed",
            "failedStage": "worker",
            "error": str(outcome.error),
            "images": dict(task.images),
            "reference": task.mask,
        }
        writeJson(summary, outDir / "cases" / task.patient / "case.json")
        summaries[outcome.key] = summary
        tracker.caseFailed(task.patient, "worker", str(outcome.error))
    return summaries


def _checkFailures(outDir: pathlib.Path, failed: dict[str, str]) -> dict[str, dict]:
    """``case.json`` of the patients that failed the check (only those whose id can name a folder)."""
    from VirtualBiopsy.cohort.caseSteps import writeJson
    from VirtualBiopsy.cohort.ledger import requireSafeCase

    summaries = {}
    for patient, reason in failed.items():
        summary = {"patient": patient, "status": "failed", "failedStage": "check", "error": reason, "images": {}}
        with contextlib.suppress(InputError):
            folder = outDir / "cases" / requireSafeCase(patient)
            folder.mkdir(parents=True, exist_ok=True)
            writeJson(summary, folder / "case.json")
        summaries[patient] = summary
    return summaries


def _finish(
    outDir,
    manifestPath,
    clinicalPath,
    settings: PipelineConfig,
    cases,
    summaries,
    state,
    report: bool,
    tracker: RunProgress,
    events: EventLog,
    cancel,
    started: float,
    check: CohortCheck,
) -> RunResult:
    from VirtualBiopsy.cohort.cohortStage import runCohortStage
    from VirtualBiopsy.cohort.cohortTables import writeCohortTables
    from VirtualBiopsy.cohort.runProvenance import writeRunProvenance

    ordered = {patient: summaries[patient] for patient in cases if patient in summaries}
    features = writeCohortTables(outDir, ordered)
    tracker.message("Cohort analyses")
    tableFormat = check.tableFormat or TableFormat()
    records, ran = runCohortStage(outDir, features, ordered, clinicalPath, settings, cancel, tableFormat)
    for record in records if ran else []:
        events.emit(
            "analysis-finished",
            stage=record.name,
            status=record.status,
            seconds=record.seconds,
            error=record.error or None,
        )
    writeRunProvenance(
        outDir,
        manifestPath,
        clinicalPath,
        settings,
        ordered,
        records,
        {"tableFormat": tableFormat.toDict(), **(check.confinement.toDict() if check.confinement else {})},
    )
    reportPath = _buildReport(outDir) if report else None
    done = [p for p, s in ordered.items() if s.get("status") == "done"]
    failed = {p: s.get("error") or "" for p, s in ordered.items() if s.get("status") != "done"}
    analysesFailed = [record.name for record in records if record.status == "failed"]
    events.emit(
        "run-finished", done=len(done), failed=len(failed), total=len(cases), seconds=time.perf_counter() - started
    )
    markRunComplete(  # the last file the run writes
        outDir,
        {
            "cases": len(cases),
            "done": len(done),
            "failed": len(failed),
            "analysesFailed": analysesFailed,
            "report": reportPath is not None,
        },
    )
    tracker.message(f"Done: {len(done)} of {len(cases)} cases, {len(failed)} failed", 1.0)
    warnings = {p: list(s["domainWarnings"]) for p, s in ordered.items() if s.get("domainWarnings")}
    for patient, messages in warnings.items():
        logger.warning("Patient %s is outside the model's training domain: %s", patient, "; ".join(messages))
    seconds = time.perf_counter() - started
    return RunResult(outDir, cases, done, failed, records, reportPath, state, seconds, warnings)


def _buildReport(outDir: pathlib.Path) -> pathlib.Path | None:
    """The HTML report, rebuilt only when what it shows changed (a ledger stage of its own); a run's results
    stand even if the report fails (the error is logged)."""
    from VirtualBiopsy import __version__
    from VirtualBiopsy.cohort.caseTask import COHORT_CASES
    from VirtualBiopsy.cohort.ledger import LedgerEntry, RunLedger, hashSettings

    try:
        from VirtualBiopsy.cohort.report import buildReport
    except ImportError as error:  # a library without the report's plotting packages
        logger.warning("The report cannot be built (%s); run `virtual-biopsy report %s` later.", error, outDir)
        return None
    ledger, case = RunLedger(outDir), COHORT_CASES[1]
    shown = [*outDir.glob("*.csv"), outDir / "pipeline.yaml", *outDir.glob("cases/*/case.json")]
    shown += [*outDir.glob("cases/*/segmentation.nrrd"), *(p for p in outDir.glob("cohort/**/*") if p.is_file())]
    inputs = {"shown": hashSettings({p.relative_to(outDir).as_posix(): inputHash(p) for p in shown if p.is_file()})}
    settingsHash = hashSettings({"virtual-biopsy": __version__})
    index = outDir / "report" / "index.html"
    if ledger.isDone(case, "report", inputs, settingsHash):
        return index
    start = time.perf_counter()
    try:
        buildReport(outDir, complete=True)
    except Exception as error:  # noqa: BLE001 - the report must never lose a finished run's results
        logger.error(
            "The report could not be built (%s: %s); the results are in %s", type(error).__name__, error, outDir
        )
        return None
    outputs = ledger.hashOutputs(p for p in (outDir / "report").rglob("*") if p.is_file())
    seconds = time.perf_counter() - start
    ledger.record(LedgerEntry(case, "report", "done", inputs, settingsHash, outputs=outputs, seconds=seconds))
    return index


def _clinicalPath(manifest: pathlib.Path, clinical: str | pathlib.Path | None) -> pathlib.Path | None:
    if clinical is not None:
        return pathlib.Path(clinical).expanduser().resolve()
    beside = manifest.parent / "clinical.csv"
    return beside if beside.is_file() else None


def _header(manifest: pathlib.Path) -> list[str]:
    import csv

    with open(manifest, encoding="utf-8-sig", newline="") as stream:
        return [cell.strip() for cell in next(csv.reader(stream), [])]


def _removeLeftovers(outDir: pathlib.Path) -> None:
    """Staging folders and files a killed run left behind (never committed; the run holds the folder's lock)."""
    for leftover in [*outDir.glob(".cohort-*.partial"), *outDir.glob(".cohort-*.old")]:
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in outDir.rglob(".*.partial*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
