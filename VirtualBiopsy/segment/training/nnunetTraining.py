"""Plan, preprocess and train an nnU-Net v2 model through nnU-Net's Python API, as a worker task.

nnU-Net finds its folders through the environment variables ``nnUNet_raw``,
``nnUNet_preprocessed`` and ``nnUNet_results``. :func:`trainTask` sets them (and
nnU-Net's ``nnUNet_n_proc_DA`` / ``nnUNet_compile``) only while it runs and restores
them afterwards, so the caller's process keeps its environment; run it through a
:class:`~VirtualBiopsy.workers.runner.WorkerRunner` (a child process in normal use).

The trained-model folder has nnU-Net's layout (``dataset.json``, ``plans.json``,
``fold_F/checkpoint_final.pth``) plus ``training.json`` (settings, seed, versions,
losses, time). The checkpoint holds plain Python values and tensors only
(``network_weights``, ``init_args``, ``trainer_name``, ``inference_allowed_mirroring_axes``)
and loads with ``torch.load(weights_only=True)``. It is written only at the end, so the
folder appears complete or not at all.

The scratch folder keeps what a stopped training needs to resume: the preprocessed data
(``prepared.json`` marks it complete) and a checkpoint after every epoch
(:mod:`.nnunetCheckpoints`); with ``resume`` the task reuses both and trains the remaining epochs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import shutil
import time
from collections.abc import Iterator, Mapping
from typing import Any

from VirtualBiopsy.errors import (
    InputError,
    ModelError,
    VirtualBiopsyError,
    requirePackage,
)
from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder, writeTextAtomically
from VirtualBiopsy.progress import ProgressCallback
from VirtualBiopsy.segment.training.nnunetCheckpoints import (
    loadCheckpoint,
    restoreRandomStates,
    saveCheckpoint,
)
from VirtualBiopsy.segment.training.planOverrides import (
    applyPlanOverrides,
    keepConfiguration,
)
from VirtualBiopsy.segment.training.trainingSettings import NnunetTrainingSettings
from VirtualBiopsy.segment.training.trainingWork import PREPARED_NAME

logger = logging.getLogger(__name__)

#: The worker task name of :func:`trainTask`.
TRAIN_TASK = "VirtualBiopsy.segment.training.nnunetTraining:trainTask"
PLANS_IDENTIFIER = "nnUNetPlans"
#: Share of the progress bar taken by fingerprint, planning and preprocessing.
_PREPARATION_SHARE = 0.1


def trainTask(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Worker task: plan, preprocess and train on an nnU-Net raw dataset; write a trained-model folder.

    :param arguments: ``dataset`` (the raw ``DatasetNNN_Name`` folder), ``workFolder`` (scratch folder for
        preprocessed data, nnU-Net's results and the per-epoch checkpoints), ``out`` (new trained-model folder),
        ``settings`` (:meth:`NnunetTrainingSettings.toDict`), ``resume`` (continue the training a stopped run
        left in ``workFolder``; the caller has checked that it had the same settings and dataset).
    :returns: ``modelFolder``, ``checkpoint``, ``epochs``, ``trainLosses``, ``pseudoDice``, ``seconds``,
        ``resumedAfterEpoch`` (0 for a training from the start).
    :raises InputError: for a bad dataset folder or settings.
    :raises ModelError: when nnU-Net fails.
    """
    settings = NnunetTrainingSettings.fromDict(arguments.get("settings", {}))
    dataset = pathlib.Path(arguments["dataset"]).resolve()
    datasetId = _datasetId(dataset)
    work = pathlib.Path(arguments["workFolder"]).resolve()
    out = requireNewFolder(arguments["out"], "Trained-model folder")
    resume = bool(arguments.get("resume"))
    environment = {
        "nnUNet_raw": str(dataset.parent),
        "nnUNet_preprocessed": str(work / "preprocessed"),
        "nnUNet_results": str(work / "results"),
        "nnUNet_n_proc_DA": str(settings.augmentationProcesses),
        "nnUNet_compile": "false",
    }
    started = time.monotonic()
    with _environment(environment):
        torch = requirePackage("torch")
        _seed(settings.seed, torch)
        try:
            plansFile = _preparedPlans(datasetId, dataset.name, work, settings, resume, progress)
            trainer = _trainer(
                plansFile, work / "preprocessed" / dataset.name / "dataset.json", settings, torch, resume
            )
            history = _train(trainer, settings, work / "checkpoints", resume, progress, torch)
        except (VirtualBiopsyError, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - nnU-Net raises plain exceptions of many types
            raise ModelError(
                f"nnU-Net training failed on {dataset.name}: {type(error).__name__}: {error}. "
                "Check the dataset (run with --debug for the traceback)."
            ) from error
        seconds = time.monotonic() - started
        with stagedOutputFolder(out, "Trained-model folder") as staging:
            checkpoint = _writeModelFolder(trainer, staging, settings, torch)
            _writeJson(
                staging / "training.json",
                {
                    "settings": settings.toDict(),
                    "dataset": dataset.name,
                    "numTraining": _numTraining(dataset),
                    "seconds": round(seconds, 1),
                    "versions": _versions(),
                    **history,
                },
            )
    progress(1.0, f"Trained nnU-Net model written to {out}")
    return {
        "modelFolder": str(out),
        "checkpoint": str(out / checkpoint.relative_to(staging)),
        "epochs": settings.epochs,
        "seconds": seconds,
        **history,
    }


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _datasetId(dataset: pathlib.Path) -> int:
    name = dataset.name
    if not (dataset / "dataset.json").is_file() or not name.startswith("Dataset") or not name[7:10].isdigit():
        raise InputError(
            f"{dataset} is not an nnU-Net raw dataset folder (DatasetNNN_Name with dataset.json, "
            "imagesTr, labelsTr); export one with VirtualBiopsy.segment.training.datasetExport."
        )
    return int(name[7:10])


def _seed(seed: int, torch) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _preparedPlans(
    datasetId: int,
    datasetName: str,
    work: pathlib.Path,
    settings: NnunetTrainingSettings,
    resume: bool,
    progress: ProgressCallback,
) -> pathlib.Path:
    """The plans file of the preprocessed dataset: a resumed training's, when its preprocessing was complete,
    else a new one (the scratch folders are emptied and nnU-Net plans and preprocesses)."""
    marker = work / PREPARED_NAME
    plansFile = work / "preprocessed" / datasetName / f"{PLANS_IDENTIFIER}.json"
    if resume and marker.is_file() and plansFile.is_file():
        progress(_PREPARATION_SHARE, "nnU-Net: reusing the preprocessed data of the stopped training")
        return plansFile
    for folder in ("preprocessed", "results", "checkpoints"):
        shutil.rmtree(work / folder, ignore_errors=True)
        (work / folder).mkdir(parents=True)
    marker.unlink(missing_ok=True)
    plansFile = _planAndPreprocess(datasetId, settings, progress)
    writeTextAtomically(json.dumps({"plans": plansFile.name}) + "\n", marker)
    return plansFile


def _planAndPreprocess(datasetId: int, settings: NnunetTrainingSettings, progress: ProgressCallback) -> pathlib.Path:
    api = requirePackage("nnunetv2.experiment_planning.plan_and_preprocess_api", "nnunetv2")
    from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import (
        ExperimentPlanner,
    )
    from nnunetv2.paths import nnUNet_preprocessed
    from nnunetv2.utilities.dataset_name_id_conversion import convert_id_to_dataset_name

    progress(0.0, "nnU-Net: dataset fingerprint")
    with _quiet():
        api.extract_fingerprint_dataset(
            datasetId,
            num_processes=1,
            check_dataset_integrity=False,
            clean=True,
            verbose=False,
            show_progress_bar=False,
        )
    progress(_PREPARATION_SHARE / 3, "nnU-Net: experiment planning")
    spacing = settings.planOverrides.get("targetSpacing")
    torch = requirePackage("torch")
    threads = torch.get_num_threads()
    # The planner sets torch's thread count to nnUNet_n_proc_DA, which must then be ≥ 1.
    with _quiet(), _environment({"nnUNet_n_proc_DA": str(max(1, settings.augmentationProcesses))}):
        try:
            api.plan_experiment_dataset(datasetId, ExperimentPlanner, overwrite_target_spacing=spacing)
        finally:
            torch.set_num_threads(threads)
    datasetName = convert_id_to_dataset_name(datasetId)
    plansFile = pathlib.Path(str(nnUNet_preprocessed)) / datasetName / f"{PLANS_IDENTIFIER}.json"
    plans = json.loads(plansFile.read_text(encoding="utf-8"))
    if settings.configuration not in plans["configurations"]:
        raise InputError(
            f"nnU-Net planned no {settings.configuration!r} configuration for this dataset (planned: "
            f"{', '.join(plans['configurations'])}); choose one of those."
        )
    applyPlanOverrides(plans, settings.configuration, settings.planOverrides)
    _writeJson(plansFile, plans)
    progress(2 * _PREPARATION_SHARE / 3, "nnU-Net: preprocessing")
    with _quiet():
        api.preprocess_dataset(
            datasetId, PLANS_IDENTIFIER, [settings.configuration], [1], verbose=False, show_progress_bar=False
        )
    return plansFile


def _trainer(plansFile: pathlib.Path, datasetJson: pathlib.Path, settings: NnunetTrainingSettings, torch, resume: bool):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    plans = json.loads(plansFile.read_text(encoding="utf-8"))
    plans["continue_training"] = resume
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu or auto.")
    with _quiet():
        trainer = nnUNetTrainer(
            plans,
            settings.configuration,
            settings.fold,
            json.loads(datasetJson.read_text(encoding="utf-8")),
            torch.device(device),
        )
    trainer.num_epochs = settings.epochs
    trainer.num_iterations_per_epoch = settings.iterationsPerEpoch
    trainer.num_val_iterations_per_epoch = settings.validationIterationsPerEpoch
    # nnU-Net's own checkpoints are off: nnunetCheckpoints writes one per epoch (atomically, hash recorded) and
    # _writeModelFolder the weights-only final one.
    trainer.disable_checkpointing = True
    return trainer


def _train(
    trainer,
    settings: NnunetTrainingSettings,
    checkpoints: pathlib.Path,
    resume: bool,
    progress: ProgressCallback,
    torch,
) -> dict[str, Any]:
    """nnU-Net's ``run_training`` loop from the last saved epoch, with a checkpoint and a progress report (and so
    a cancel point) after every epoch."""
    checkpoints.mkdir(parents=True, exist_ok=True)
    first, randomStates = 0, None
    if resume:
        with _quiet():
            first, randomStates = loadCheckpoint(trainer, checkpoints, torch)
    progress(
        _PREPARATION_SHARE,
        f"nnU-Net: resuming after epoch {first}/{settings.epochs}" if first else "nnU-Net: starting training",
    )
    with _quiet():
        trainer.on_train_start()
    restoreRandomStates(randomStates, torch)  # as they were after the saved epoch, once on_train_start drew its own
    try:
        for epoch in range(first, settings.epochs):
            with _quiet():
                trainer.on_epoch_start()
                trainer.on_train_epoch_start()
                losses = [
                    trainer.train_step(next(trainer.dataloader_train)) for _ in range(settings.iterationsPerEpoch)
                ]
                trainer.on_train_epoch_end(losses)
                with torch.no_grad():
                    trainer.on_validation_epoch_start()
                    checks = [
                        trainer.validation_step(next(trainer.dataloader_val))
                        for _ in range(settings.validationIterationsPerEpoch)
                    ]
                    trainer.on_validation_epoch_end(checks)
                trainer.on_epoch_end()
                saveCheckpoint(trainer, checkpoints, torch)
            loss = float(trainer.logger.get_value("train_losses", step=-1))
            dice = float(trainer.logger.get_value("mean_fg_dice", step=-1))
            progress(
                _PREPARATION_SHARE + (1 - _PREPARATION_SHARE) * (epoch + 1) / settings.epochs,
                f"nnU-Net: epoch {epoch + 1}/{settings.epochs}, loss {loss:.4f}, pseudo Dice {dice:.3f}",
            )
    finally:
        with _quiet():
            trainer.on_train_end()
    return {
        "trainLosses": [float(v) for v in trainer.logger.get_value("train_losses", None)],
        "pseudoDice": [float(v) for v in trainer.logger.get_value("mean_fg_dice", None)],
        "resumedAfterEpoch": first,
    }


def _writeModelFolder(trainer, staging: pathlib.Path, settings: NnunetTrainingSettings, torch) -> pathlib.Path:
    network = trainer.network._orig_mod if hasattr(trainer.network, "_orig_mod") else trainer.network
    initArguments = {key: value for key, value in trainer.my_init_kwargs.items() if key != "self"}
    initArguments["device"] = str(initArguments.get("device", "cpu"))
    mirroring = trainer.inference_allowed_mirroring_axes
    checkpoint = {
        "network_weights": {key: value.detach().cpu().clone() for key, value in network.state_dict().items()},
        "init_args": json.loads(json.dumps(initArguments)),
        "trainer_name": trainer.__class__.__name__,
        "inference_allowed_mirroring_axes": tuple(int(axis) for axis in mirroring) if mirroring is not None else None,
    }
    _writeJson(staging / "dataset.json", trainer.dataset_json)
    _writeJson(staging / "plans.json", keepConfiguration(trainer.plans_manager.plans, settings.configuration))
    fold = staging / f"fold_{settings.fold}"
    fold.mkdir()
    path = fold / "checkpoint_final.pth"
    torch.save(checkpoint, path)
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the checkpoint is not weights-only
        raise ModelError(
            f"The trained checkpoint does not load with weights_only=True ({error}); report this as a bug."
        ) from error
    return path


def _numTraining(dataset: pathlib.Path) -> int:
    return int(json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))["numTraining"])


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("nnunetv2", "torch", "dynamic-network-architectures", "virtual-biopsy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _writeJson(path: pathlib.Path, content: Any) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Send nnU-Net's prints to this module's log at DEBUG level instead of the terminal."""
    import io

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        if text:
            logger.debug("%s", text)
