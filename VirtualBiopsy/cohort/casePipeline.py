"""One patient through harmonize → segment → extract → scene (→ dicom), each stage recorded in the run's ledger.

A stage is skipped when the ledger says it is done with the same input hashes and settings hash and its outputs
are still on disk unchanged; otherwise it runs and its outputs are written atomically. So re-running a case
after a crash, or after a setting changed, redoes exactly the stages the change affects. A failing stage fails
its case alone: the error goes to the ledger and ``case.json``, and :func:`runCaseTask` returns normally.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import pathlib
import time
import traceback
from collections.abc import Callable
from typing import Any

from VirtualBiopsy.cohort.caseSteps import extractCase, harmonizeSequence, saveCaseScene, segmentCase, writeJson
from VirtualBiopsy.cohort.caseTask import CaseTask, inputHash
from VirtualBiopsy.cohort.dicomOutputs import SEG_FILE, SR_FILE, dicomReference, segmentAlgorithm, writeCaseDicom
from VirtualBiopsy.cohort.eventLog import EventLog
from VirtualBiopsy.cohort.ledger import LedgerEntry, RunLedger, hashSettings, processPeakMemoryBytes
from VirtualBiopsy.cohort.manifestMasks import RASTERISED_MASK, isDicomMask, rasteriseDicomMask
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.errors import CancelledError, VirtualBiopsyError

logger = logging.getLogger(__name__)

#: The per-case stages, in order (harmonize runs once per sequence: ``harmonize.T1c``; mask only for a DICOM
#: mask (RTSTRUCT or SEG), dicom only for cases read from DICOM series).
CASE_STAGES = ("harmonize", "mask", "segment", "extract", "scene", "dicom")


class StageFailed(Exception):
    """A stage of a case failed; the case stops there."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


def casePaths(runFolder: pathlib.Path, patient: str) -> dict[str, pathlib.Path]:
    """Where a case's outputs go, inside ``runFolder/cases/<patient>``."""
    folder = runFolder / "cases" / patient
    return {
        "folder": folder,
        "harmonized": folder / "harmonized",
        "segmentation": folder / "segmentation.nrrd",
        "segment": folder / "segment.json",
        "features": folder / "features.csv",
        "scene": folder / f"{patient}.mrb",
        "summary": folder / "case.json",
    }


def runCaseTask(task: CaseTask) -> dict[str, Any]:
    """Run (or skip, as the ledger says) every stage of one patient; write and return its ``case.json``.

    Each stage's seconds and peak memory are those of the run that did it (a skipped stage keeps them), so a
    re-run that changes nothing writes the same ``case.json``. Runs in a Dask worker or in the calling process;
    never raises for a failing stage.
    """
    runFolder = pathlib.Path(task.runFolder)
    config = PipelineConfig.fromDict(task.settings)
    paths = casePaths(runFolder, task.patient)
    paths["folder"].mkdir(parents=True, exist_ok=True)
    _resetPeakMemory()
    events = EventLog(task.eventFiles)
    events.emit("case-started", case=task.patient)
    stages = _CaseStages(task, config, RunLedger(runFolder), events)
    summary: dict[str, Any] = {
        "patient": task.patient,
        "site": task.site,
        "status": "done",
        "failedStage": None,
        "error": None,
        "images": dict(task.images),
        "reference": task.mask,
    }
    try:
        summary.update(stages.runAll(paths))
    except StageFailed as failure:
        summary.update(
            status="failed", failedStage=failure.stage, error=f"{type(failure.error).__name__}: {failure.error}"
        )
    summary["stages"] = stages.record
    peaks = [stage["peakMemoryBytes"] for stage in stages.record.values() if stage.get("peakMemoryBytes")]
    summary["peakMemoryBytes"] = max(peaks, default=None)
    writeJson(summary, paths["summary"])
    return summary


class _CaseStages:
    """The stages of one case with its ledger; :attr:`record` holds each stage's status and seconds."""

    def __init__(self, task: CaseTask, config: PipelineConfig, ledger: RunLedger, events: EventLog) -> None:
        self.task, self.config, self.ledger, self.events = task, config, ledger, events
        self.record: dict[str, dict[str, Any]] = {}

    def runAll(self, paths: dict[str, pathlib.Path]) -> dict[str, Any]:
        task, config = self.task, self.config
        relative = _relativeTo(pathlib.Path(task.runFolder))
        images = {name: pathlib.Path(path) for name, path in task.images.items()}
        harmonized: dict[str, pathlib.Path] = {}
        if config.harmonize.enabled:
            for sequence in config.neededSequences():
                target = paths["harmonized"] / f"{sequence}.nrrd"
                self.stage(
                    f"harmonize.{sequence}",
                    {"image": inputHash(images[sequence])},
                    config.harmonize.settingsOf(sequence),
                    [target],
                    functools.partial(harmonizeSequence, images[sequence], target, sequence, config, None),
                )
                harmonized[sequence] = target
        current = {**images, **harmonized}
        result: dict[str, Any] = {"harmonized": {name: relative(path) for name, path in harmonized.items()}}

        manifestMask = pathlib.Path(task.mask) if task.mask else None
        if isDicomMask(manifestMask):
            assert manifestMask is not None
            rasterised = paths["folder"] / RASTERISED_MASK
            folders = {f"image.{name}": inputHash(path) for name, path in images.items() if path.is_dir()}
            self.stage(
                "mask",
                {"dicomMask": inputHash(manifestMask), **folders},
                {},
                [rasterised],
                functools.partial(rasteriseDicomMask, manifestMask, images, rasterised),
            )
            manifestMask = rasterised

        segmentation = mask = None
        if config.segment.enabled:
            gridImage = current[config.segment.sequence]
            segmentInputs = self._segmentImages(images, current)
            mask = manifestMask if config.segment.usesManifestMasks else None
            inputs = {f"image.{name}": inputHash(path) for name, path in segmentInputs.items()}
            inputs["grid"] = inputHash(gridImage)
            if mask is not None:
                inputs["mask"] = inputHash(mask)
            self.stage(
                "segment",
                inputs,
                {**config.segment.toDict(), "label": task.label, "model": _modelDigest(config)},
                [paths["segmentation"], paths["segment"]],
                lambda: writeJson(
                    segmentCase(segmentInputs, gridImage, mask, task.label, paths["segmentation"], config, None),
                    paths["segment"],
                ),
            )
            segmentation = paths["segmentation"]
            result["segmentation"] = relative(segmentation)
            result.update(_readJson(paths["segment"]))

        features = None
        if config.extract.enabled and segmentation is not None:
            inputs = {name: inputHash(current[name]) for name in config.extract.sequences}
            inputs["mask"] = inputHash(segmentation)
            settings = {**config.extract.toDict(), "radiomics": config.extract.settings.settings().toDict()}
            self.stage(
                "extract",
                inputs,
                settings,
                [paths["features"]],
                lambda: extractCase(current, segmentation, paths["features"], config, None),
            )
            features = paths["features"]
            result["features"] = relative(features)

        sceneInputs = {f"image.{name}": inputHash(path) for name, path in images.items()}
        sceneInputs.update({f"harmonized.{name}": inputHash(path) for name, path in harmonized.items()})
        for name, path in (("segmentation", segmentation), ("features", features), ("reference", manifestMask)):
            if path is not None:
                sceneInputs[name] = inputHash(path)
        self.stage(
            "scene",
            sceneInputs,
            {"settings": config.toDict(), "label": task.label},
            [paths["scene"]],
            lambda: saveCaseScene(
                task.patient,
                images,
                harmonized,
                segmentation,
                manifestMask,
                task.label,
                features,
                paths["scene"],
                config,
            ),
        )
        result["scene"] = relative(paths["scene"])

        reference = dicomReference(images, config.segment.sequence) if segmentation is not None else None
        if segmentation is not None and reference is not None:
            folder = pathlib.Path(task.runFolder) / "dicom" / task.patient
            dicomInputs = {"reference": inputHash(reference), "segmentation": inputHash(segmentation)}
            if features is not None:
                dicomInputs["features"] = inputHash(features)
            algorithm = segmentAlgorithm(config, result)
            segmentName = config.segment.settings.segmentName
            self.stage(
                "dicom",
                dicomInputs,
                {"algorithm": list(algorithm), "segmentName": segmentName},
                [folder / SEG_FILE] + ([folder / SR_FILE] if features is not None else []),
                functools.partial(writeCaseDicom, reference, segmentation, features, algorithm, segmentName, folder),
            )
            result["dicom"] = relative(folder)
        return result

    def stage(
        self,
        name: str,
        inputs: dict[str, str],
        settings: dict[str, Any],
        outputs: list[pathlib.Path],
        work: Callable[[], Any],
    ) -> None:
        """Skip ``name`` if the ledger has it done as now, else run ``work`` and record it.

        :raises StageFailed: when ``work`` raises (the failure is in the ledger first).
        """
        patient, ledger = self.task.patient, self.ledger
        settingsHash = hashSettings(settings)
        if ledger.isDone(patient, name, inputs, settingsHash):
            done = ledger.latest(patient, name)
            assert done is not None, "isDone found it"
            self.record[name] = {"status": "done", "seconds": done.seconds, "peakMemoryBytes": done.peakMemoryBytes}
            self.events.emit("stage-finished", case=patient, stage=name, status="skipped", seconds=0.0)
            return
        ledger.record(LedgerEntry(patient, name, "started", inputs, settingsHash))
        start = time.perf_counter()
        try:
            work()
        except CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - one case's failure, whatever it is, must not stop the cohort
            seconds = time.perf_counter() - start
            if not isinstance(error, VirtualBiopsyError):
                logger.error("Case %s stage %s failed unexpectedly:\n%s", patient, name, traceback.format_exc())
            message = f"{type(error).__name__}: {error}"
            peak = processPeakMemoryBytes()
            ledger.record(
                LedgerEntry(
                    patient,
                    name,
                    "failed",
                    inputs,
                    settingsHash,
                    seconds=seconds,
                    error=message,
                    peakMemoryBytes=peak,
                )
            )
            self.record[name] = {"status": "failed", "seconds": seconds, "peakMemoryBytes": peak}
            self.events.emit(
                "stage-finished", case=patient, stage=name, status="failed", seconds=seconds, error=message
            )
            raise StageFailed(name, error) from error
        seconds, peak = time.perf_counter() - start, processPeakMemoryBytes()
        outputHashes = ledger.hashOutputs(outputs)
        ledger.record(
            LedgerEntry(
                patient, name, "done", inputs, settingsHash, outputs=outputHashes, seconds=seconds, peakMemoryBytes=peak
            )
        )
        # the same seconds and peak as the ledger's, so that a later run that skips this stage writes the same case.json
        self.record[name] = {"status": "done", "seconds": seconds, "peakMemoryBytes": peak}
        self.events.emit("stage-finished", case=patient, stage=name, status="done", seconds=seconds)

    def _segmentImages(
        self, images: dict[str, pathlib.Path], current: dict[str, pathlib.Path]
    ) -> dict[str, pathlib.Path]:
        """What the segmentation reads: a model its input sequences as acquired (it normalizes them itself),
        the threshold method the harmonized segmentation sequence, the manifest source nothing."""
        segment = self.config.segment
        if not segment.usesModel:
            return {}
        if segment.settings.method != "model":
            return {segment.sequence: current[segment.sequence]}
        from VirtualBiopsy.cohort.pipelineConfig import modelSequences

        wanted = modelSequences(segment.settings.modelId) or [segment.sequence]
        return {name: images[name] for name in wanted if name in images}


def _modelDigest(config: PipelineConfig) -> str | None:
    """The SHA-256 the model manifest lists for the segmentation model (a new model version redoes the stage)."""
    settings = config.segment.settings
    if not config.segment.usesModel or settings.method != "model":
        return None
    from VirtualBiopsy.models.registry import ModelRegistry

    with contextlib.suppress(VirtualBiopsyError):
        return ModelRegistry().lookup(settings.modelId).sha256
    return None


def _relativeTo(runFolder: pathlib.Path) -> Callable[[pathlib.Path], str]:
    root = runFolder.resolve()
    return lambda path: pathlib.Path(path).resolve().relative_to(root).as_posix()


def _readJson(path: pathlib.Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def _resetPeakMemory() -> None:
    """Start the peak resident memory afresh for this case (Linux: ``/proc/self/clear_refs``, value 5)."""
    with contextlib.suppress(OSError):
        pathlib.Path("/proc/self/clear_refs").write_text("5")
