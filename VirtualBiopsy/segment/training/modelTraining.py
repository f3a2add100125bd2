"""Train an nnU-Net model from training cases: export, train in a worker, describe, optionally register.

This is the caller's side of :mod:`.nnunetTraining`: it never imports nnU-Net and never
changes this process's environment; the work happens in the runner's worker (a child
process by default). Scratch data (the raw and preprocessed datasets, a checkpoint per
epoch) lives in the work folder ``<out>.partial-work`` (:mod:`.trainingWork`) and is removed
once the model folder is written. A training that stops after an epoch (killed, cancelled,
failed) keeps it: ``resume=True`` continues from the last finished epoch;
:func:`~.trainingWork.discardWork` discards it (``--restart``).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import requireNewFolder
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.training.config import TrainingConfig
from VirtualBiopsy.segment.training.datasetExport import TrainingCase, exportDataset
from VirtualBiopsy.segment.training.nnunetTraining import TRAIN_TASK
from VirtualBiopsy.segment.training.planOverrides import keepConfiguration
from VirtualBiopsy.segment.training.trainingWork import (
    NNUNET,
    RAW,
    RAW_CHECK,
    datasetSha256,
    discardWork,
    hasReusableWork,
    openWorkFolder,
    recordTraining,
    requireSameTraining,
)

logger = logging.getLogger(__name__)

#: Share of the progress bar taken by the dataset export.
_EXPORT_SHARE = 0.05


@dataclass
class TrainingOutcome:
    """What :func:`trainModel` produced.

    :ivar modelFolder: the trained-model folder.
    :ivar cases: ``(case number name, case id)`` of the cases trained on.
    :ivar skipped: ``(case id, reason)`` of the cases left out.
    :ivar result: the worker task's result (losses, pseudo Dice, time).
    :ivar entry: the registered :class:`~VirtualBiopsy.models.modelEntry.ModelEntry`, or ``None``.
    """

    modelFolder: pathlib.Path
    cases: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    result: dict[str, Any] = field(default_factory=dict)
    entry: Any = None


def trainModel(
    cases: Sequence[TrainingCase],
    out: str | os.PathLike,
    config: TrainingConfig,
    *,
    runner=None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainingOutcome:
    """Export ``cases``, train nnU-Net on them in ``runner`` and write the trained-model folder ``out``.

    :param config: channels, labels, the nnU-Net settings and the model's description.
    :param runner: a :class:`~VirtualBiopsy.workers.runner.WorkerRunner`; a new
        :class:`~VirtualBiopsy.workers.processRunner.ProcessRunner` by default.
    :param resume: continue the training a stopped run left in ``<out>.partial-work`` from its last finished
        epoch (it must have had the same settings and cases); with no such folder, train from the start. To
        start over instead, discard the folder first (:func:`~.trainingWork.discardWork`).
    :raises InputError: for a bad config, an existing non-empty ``out``, no usable case, a stopped training's
        work folder without ``resume``, or one of other settings or cases with it (nothing is written).
    :raises CancelledError: when cancelled (no model folder; finished epochs stay in the work folder).
    :raises ModelError: when training fails.
    """
    config.validate()
    out = requireNewFolder(out, "Trained-model folder").absolute()
    progress = progress or noProgress
    if runner is None:
        from VirtualBiopsy.workers.processRunner import ProcessRunner

        runner = ProcessRunner()
    work, record = openWorkFolder(out, resume)
    settings = config.toDict()

    def exportTo(folder: pathlib.Path):
        return exportDataset(
            cases,
            folder,
            config.exportConfig(),
            progress=lambda f, m: progress(_EXPORT_SHARE * f, m),
            cancel=cancel,
        )

    if record is None:
        work.mkdir(parents=True, exist_ok=True)
        try:
            export = exportTo(work / RAW)
        except BaseException:
            discardWork(work)
            raise
        recordTraining(work, settings, datasetSha256(export.folder))
    else:
        shutil.rmtree(work / RAW_CHECK, ignore_errors=True)
        try:
            export = exportTo(work / RAW_CHECK)
            requireSameTraining(record, settings, datasetSha256(export.folder), work)
        finally:
            shutil.rmtree(work / RAW_CHECK, ignore_errors=True)
        export.folder = work / RAW / export.folder.name
    try:
        result = runner.run(
            TRAIN_TASK,
            {
                "dataset": str(export.folder),
                "workFolder": str(work / NNUNET),
                "out": str(out),
                "settings": config.nnunetSettings().toDict(),
                "resume": record is not None,
            },
            lambda f, m: progress(_EXPORT_SHARE + (1 - _EXPORT_SHARE) * f, m),
            cancel,
        )
    except BaseException:
        if not hasReusableWork(work):
            discardWork(work)
        raise
    discardWork(work)
    describeModelFolder(out, config)
    return TrainingOutcome(out, export.cases, export.skipped, result)


def describeModelFolder(folder: str | os.PathLike, config: TrainingConfig) -> None:
    """Write the model's description of ``config`` into its ``dataset.json`` (``name``, ``description``,
    ``licence``, ``reference``, ``release``), and keep only the trained configuration in ``plans.json``.

    The model folder never lists the training cases' identifiers (the export's ``cases.csv`` does).
    """
    folder = pathlib.Path(folder)
    path = folder / "dataset.json"
    dataset = json.loads(path.read_text(encoding="utf-8"))
    dataset.update(
        {
            "name": config.modelName,
            "description": config.modelDescription,
            "licence": config.licence,
            "reference": config.source,
            "release": config.version,
        }
    )
    path.write_text(json.dumps(dataset, indent=2) + "\n", encoding="utf-8")
    plansPath = folder / "plans.json"
    configuration = _trainedConfiguration(folder)
    plans = keepConfiguration(json.loads(plansPath.read_text(encoding="utf-8")), configuration)
    plansPath.write_text(json.dumps(plans, indent=2) + "\n", encoding="utf-8")


def registerModel(folder: str | os.PathLike, modelId: str, registry=None):
    """Import the trained-model folder into the user's models (see ``ModelRegistry.importModel``).

    :returns: the new manifest entry.
    :raises InputError: for an id in use or an unrecognised folder.
    """
    if registry is None:
        from VirtualBiopsy.models.registry import ModelRegistry

        registry = ModelRegistry()
    if not pathlib.Path(folder).is_dir():
        raise InputError(f"Trained-model folder {folder} does not exist; train first.")
    return registry.importModel(folder, modelId=modelId)


def _trainedConfiguration(folder: pathlib.Path) -> str:
    training = folder / "training.json"
    if not training.is_file():
        raise InputError(f"{folder} has no training.json; describe only folders written by the nnU-Net training.")
    return json.loads(training.read_text(encoding="utf-8"))["settings"]["configuration"]
