"""Radiomics features of a whole cohort: from a manifest, or from volume and segmentation
nodes of a scene; serially or on Dask; with a result cache so re-runs skip done cases.

Each case is one task (:mod:`~VirtualBiopsy.extract.cohortCases`) run by a
:class:`~VirtualBiopsy.executors.CaseExecutor`, the cases with the most voxels first (so the
workers finish together); results come back in input order,
so the tables do not depend on the executor or the number of workers. A case that fails
(unreadable image, empty mask, mask on another grid, ...) is recorded in ``failures.csv``
and the others go on. Feature names follow the rule in :mod:`.cohortCases`.

The cache (:class:`~VirtualBiopsy.executors.resultCache.ResultCache`) is keyed by the input
hashes, the label, ``settings.sha256()``, the options, the extraction code version and the
package versions; a worker that can reach the cache folder stores each result as soon as it
has it, so an interrupted run resumes where it stopped.

The manifest's optional ``label`` column gives a case its own ROI label; an empty cell
takes the ``label`` argument.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from VirtualBiopsy.data.manifest import readManifest
from VirtualBiopsy.errors import CancelledError, InputError, VirtualBiopsyError
from VirtualBiopsy.executors import CaseExecutor, DaskExecutor, SerialExecutor
from VirtualBiopsy.executors.resultCache import ResultCache
from VirtualBiopsy.extract.cohortCases import (
    CaseTask,
    ImageSource,
    cacheKey,
    caseVoxels,
    extractCase,
    inputHashes,
    inPyradiomicsOrder,
)
from VirtualBiopsy.extract.cohortTables import (
    CaseResult,
    CohortExtractionResult,
    writeCohortTables,
)
from VirtualBiopsy.extract.extraction import DEFAULT_MINIMUM_ROI_VOXELS
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.files import sha256File
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.provenance import packageVersions


def extractCohort(
    manifestPath: str | os.PathLike,
    outDir: str | os.PathLike | None,
    settings: RadiomicsSettings,
    executor: CaseExecutor | None = None,
    label: int = 1,
    cacheFolder: str | os.PathLike | None = None,
    minimumRoiVoxels: int = DEFAULT_MINIMUM_ROI_VOXELS,
    resampleMaskToImage: bool = False,
    crop: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    dataRoots: Sequence[str | os.PathLike] = (),
    allowOutsidePaths: bool = False,
) -> CohortExtractionResult:
    """Extract the features of every case of a manifest and write the tables into ``outDir``.

    :param manifestPath: a cohort manifest (patient, site, one column per sequence, mask, optional label).
    :param outDir: a new or empty folder for the tables (see :mod:`.cohortTables`); ``None`` writes nothing.
    :param executor: runs the cases (default: :class:`SerialExecutor`); the caller starts and stops it.
    :param label: the ROI label of cases without a ``label`` cell.
    :param cacheFolder: the result cache; ``None`` for none.
    :param dataRoots: folders besides the manifest's that its paths may lead into; :param allowOutsidePaths: accept
        any path (see :func:`~VirtualBiopsy.data.manifest.readManifest`).
    :raises InputError: for a bad manifest, settings or ``outDir`` (checked before any extraction).
    :raises CancelledError: when ``cancel`` is set (finished cases stay in the cache).
    """
    _requireOptions(settings, label, minimumRoiVoxels)
    if outDir is not None:
        from VirtualBiopsy.files import requireNewFolder

        requireNewFolder(outDir, "Extraction folder")
    cohort = readManifest(manifestPath, dataRoots, allowOutsidePaths)
    sequences = cohort.sequences
    prefix = len(sequences) > 1
    tasks: list[CaseTask | str] = []
    for case in cohort.cases:
        problems = list(case.problems)
        if case.mask is None:
            problems.append("no mask; fill in the 'mask' cell with the labelmap of the tumour.")
        if problems:
            tasks.append(f"InputError: manifest line {case.line}: " + " ".join(problems))
            continue
        assert case.mask is not None, "a case without a mask has problems"
        tasks.append(
            CaseTask(
                case.patient,
                dict(case.sequences),
                case.mask,
                case.label or label,
                prefix,
                settings,
                minimumRoiVoxels,
                resampleMaskToImage,
                crop,
            )
        )
    run = {"manifest": {"path": str(cohort.path), "sha256": sha256File(cohort.path)}, "sequences": sequences}
    return _extract(cohort.patients, tasks, executor, cacheFolder, run, outDir, progress, cancel)


def extractSceneCohort(
    cases: Sequence[tuple[str, Mapping[str, Any], Any]],
    settings: RadiomicsSettings,
    executor: CaseExecutor | None = None,
    segment: str | None = None,
    outDir: str | os.PathLike | None = None,
    cacheFolder: str | os.PathLike | None = None,
    minimumRoiVoxels: int = DEFAULT_MINIMUM_ROI_VOXELS,
    resampleMaskToImage: bool = False,
    crop: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CohortExtractionResult:
    """Extract the features of cases given as scene nodes: ``(patient, {sequence: volume node},
    segmentation node)``. Nodes are converted through the MRML bridge here (workers get images).

    :param segment: the segment ID or name in every segmentation; ``None`` takes each
        segmentation's only segment (a case with several fails, listing them).
    :returns: the result (call :func:`writeCohortTables` or pass ``outDir`` to write it;
        ``result.wide()`` is ready for a table node).
    """
    from VirtualBiopsy.mrml import segmentMaskImage, volumeNodeToImage

    _requireOptions(settings, label=1, minimumRoiVoxels=minimumRoiVoxels)
    if outDir is not None:
        from VirtualBiopsy.files import requireNewFolder

        requireNewFolder(outDir, "Extraction folder")
    names = list(dict.fromkeys(str(name) for _, volumes, _ in cases for name in volumes))
    prefix = len(names) > 1
    tasks: list[CaseTask | str] = []
    for patient, volumes, segmentation in cases:
        try:
            segmentId = segment or _onlySegment(segmentation)
            images: dict[str, ImageSource] = {str(name): volumeNodeToImage(node) for name, node in volumes.items()}
            masks: dict[str, ImageSource] = {
                str(name): segmentMaskImage(segmentation, segmentId, node) for name, node in volumes.items()
            }
        except VirtualBiopsyError as error:
            tasks.append(f"{type(error).__name__}: {error}")
            continue
        tasks.append(
            CaseTask(str(patient), images, masks, 1, prefix, settings, minimumRoiVoxels, resampleMaskToImage, crop)
        )
    run = {"scene": True, "sequences": names, "segment": segment}
    return _extract(
        [str(patient) for patient, _, _ in cases], tasks, executor, cacheFolder, run, outDir, progress, cancel
    )


def _extract(
    patients: list[str],
    tasks: list[CaseTask | str],
    executor: CaseExecutor | None,
    cacheFolder: str | os.PathLike | None,
    run: dict[str, Any],
    outDir: str | os.PathLike | None,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> CohortExtractionResult:
    """Hash, look up the cache, run what is missing, collect, record, write."""
    progress = progress or noProgress
    executor = executor or SerialExecutor()
    cache = ResultCache(cacheFolder) if cacheFolder is not None else None
    workerCache = cache is not None and not (isinstance(executor, DaskExecutor) and not executor.ownsCluster)
    results: list[CaseResult] = []
    todo: list[tuple[CaseResult, CaseTask]] = []
    for index, (patient, task) in enumerate(zip(patients, tasks)):
        if cancel is not None:
            cancel.raiseIfCancelled()
        progress(0.05 * index / max(len(tasks), 1), f"Checking the inputs of {patient}")
        if isinstance(task, str):
            results.append(CaseResult(patient, None, [], error=task))
            continue
        result = CaseResult(patient, int(task.label), list(task.images) if task.prefix else [])
        results.append(result)
        try:
            result.inputs = inputHashes(task)
        except InputError as error:
            result.error = f"InputError: {error}"
            continue
        task.cacheKey = cacheKey(task, result.inputs)
        cached = cache.get(task.cacheKey) if cache is not None else None
        if cached is not None:
            result.value, result.cached = inPyradiomicsOrder(cached), True
            continue
        task.cacheFolder = str(cache.folder) if cache is not None and workerCache else None
        todo.append((result, task))

    done = len(tasks) - len(todo)

    def report(fraction: float, message: str) -> None:
        progress(0.05 + 0.9 * (done + fraction * len(todo)) / max(len(tasks), 1), message)

    started = time.perf_counter()
    # longest first, so the workers finish together (results keep the input order)
    todo.sort(key=lambda pair: -caseVoxels(pair[1]))
    if todo:
        outcomes = executor.map(
            extractCase, [task for _, task in todo], report, cancel, keys=[result.patient for result, _ in todo]
        )
        for (result, task), outcome in zip(todo, outcomes):
            result.ran, result.seconds = True, outcome.seconds
            if outcome.ok:
                result.value = outcome.value
                if cache is not None and not workerCache:
                    cache.put(task.cacheKey, outcome.value)
            else:
                result.error = str(outcome.error)
    if cancel is not None and cancel.cancelled:
        raise CancelledError("The cohort extraction was cancelled; finished cases are in the cache.")
    settings = next((task.settings for task in tasks if isinstance(task, CaseTask)), None)
    provenance = runProvenance(results, settings, executor, cache, run, time.perf_counter() - started)
    extraction = CohortExtractionResult(results, provenance)
    progress(0.97, "Writing the tables")
    if outDir is not None:
        writeCohortTables(extraction, outDir)
    progress(1.0, f"{len(extraction.succeeded)} case(s) extracted, {len(extraction.failed)} failed")
    return extraction


def runProvenance(
    results: list[CaseResult],
    settings: RadiomicsSettings | None,
    executor: CaseExecutor,
    cache: ResultCache | None,
    run: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """The run's record: settings and hash, versions, executor, cache use and every case's inputs."""
    cases = {}
    for result in results:
        record: dict[str, Any] = {
            "label": result.label,
            "inputs": result.inputs,
            "cached": result.cached,
            "seconds": round(result.seconds, 3),
            "error": result.error,
        }
        if result.value is not None:
            own = result.value["provenance"]
            record.update(
                {
                    key: own.get(key)
                    for key in (
                        "images",
                        "mask",
                        "cropBox",
                        "preprocessing",
                        "maskResampledToImage",
                        "minimumRoiVoxels",
                    )
                }
            )
            record["undefined"] = result.value["undefined"]
        cases[result.patient] = record
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **run,
        "settingsName": settings.name if settings else None,
        "settings": settings.toDict() if settings else None,
        "settingsSha256": settings.sha256() if settings else None,
        "versions": packageVersions(),
        "executor": {
            "kind": type(executor).__name__,
            "workers": getattr(executor, "workers", 1),
            "scheduler": getattr(executor, "scheduler", None),
        },
        "cache": {
            "folder": str(cache.folder) if cache else None,
            "hits": sum(r.cached for r in results),
            "computed": sum(r.ran for r in results),
        },
        "extractionSeconds": round(seconds, 3),
        "counts": {
            "cases": len(results),
            "succeeded": sum(r.ok for r in results),
            "failed": sum(not r.ok for r in results),
        },
        "cases": cases,
    }


def _requireOptions(settings: RadiomicsSettings, label: int, minimumRoiVoxels: int) -> None:
    if not isinstance(settings, RadiomicsSettings):
        raise InputError(
            f"settings must be a RadiomicsSettings (e.g. RadiomicsSettings.fromPreset('mr-default')), "
            f"got {type(settings).__name__}."
        )
    if isinstance(label, bool) or not isinstance(label, int) or label < 1:
        raise InputError(f"The label is {label!r}; give a positive whole number (the tumour's value in the masks).")
    if isinstance(minimumRoiVoxels, bool) or not isinstance(minimumRoiVoxels, int) or minimumRoiVoxels < 1:
        raise InputError(f"The minimum ROI size is {minimumRoiVoxels!r} voxels; give a positive whole number.")


def _onlySegment(segmentation: Any) -> str:
    segments = segmentation.GetSegmentation() if hasattr(segmentation, "GetSegmentation") else None
    if segments is None:
        raise InputError(
            f"Expected a segmentation node, got {type(segmentation).__name__}; pass the case's tumour segmentation."
        )
    ids = [segments.GetNthSegmentID(index) for index in range(segments.GetNumberOfSegments())]
    if len(ids) != 1:
        listed = ", ".join(f"{i} ('{segments.GetSegment(i).GetName()}')" for i in ids) or "none"
        raise InputError(
            f"Segmentation '{segmentation.GetName()}' has {len(ids)} segments ({listed}); pass "
            "segment=ID or name of the one to extract."
        )
    return ids[0]
