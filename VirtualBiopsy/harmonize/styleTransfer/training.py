"""Train a CycleGAN on two domains' volumes and write the model folder (a worker task).

Run it through a runner (:mod:`VirtualBiopsy.workers`): ``"VirtualBiopsy.harmonize.styleTransfer.training:
trainCycleGan"``. Its arguments and result are plain JSON values; the images cross as files.

After every epoch the training's state is saved in the work folder ``<out>.partial-work``
(:mod:`.trainingState`); a training that was killed or stopped resumes from its last finished epoch with
``resume=True`` and gives the same model as an uninterrupted one. The work folder is removed once the model
folder is written.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import pathlib
import time
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.files import requireNewFolder, sha256File, stagedOutputFolder
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
from VirtualBiopsy.harmonize.styleTransfer.slices import (
    ScaledVolume,
    SliceSampler,
    domainRange,
    scaleVolume,
)
from VirtualBiopsy.harmonize.styleTransfer.trainingState import (
    CHECKPOINT_NAME,
    discardWork,
    readCheckpoint,
    requireSameTraining,
    restoreCheckpoint,
    saveCheckpoint,
    trainingIdentity,
)
from VirtualBiopsy.models.cycleGanFolder import (
    CONFIG_NAME,
    FORMAT_VERSION,
    KIND,
    LOSSES_NAME,
    WEIGHTS_NAME,
)
from VirtualBiopsy.progress import ProgressCallback
from VirtualBiopsy.resumableWork import workFolderOf
from VirtualBiopsy.workers.deviceFallback import resolveDevice

logger = logging.getLogger(__name__)

#: The task's name for :meth:`WorkerRunner.run`.
TRAIN_TASK = "VirtualBiopsy.harmonize.styleTransfer.training:trainCycleGan"


def trainingArguments(
    sourceImages: list[str],
    targetImages: list[str],
    out: str,
    sequence: str,
    sourceDomain: str,
    targetDomain: str,
    config: CycleGanConfig | None = None,
    epochs: int = 10,
    iterationsPerEpoch: int = 50,
    device: str = "auto",
    seed: int = 0,
    threads: int | None = None,
    resume: bool = False,
    restart: bool = False,
) -> dict[str, Any]:
    """The arguments of :func:`trainCycleGan`, checked (so that bad input fails before a worker starts).

    :param resume: continue the training whose work folder ``<out>.partial-work`` a killed or stopped run left
        (from its last finished epoch; a training with no work folder starts from the first).
    :param restart: discard such a work folder and train from the start.
    :raises InputError: for an empty domain, a missing image, a non-positive count, an existing ``out``, both
        ``resume`` and ``restart``, a work folder left by another run when neither is given, or one whose
        settings or inputs differ from these when ``resume`` is given.
    """
    config = config or CycleGanConfig()
    for name, images in (("source", sourceImages), ("target", targetImages)):
        if not images:
            raise InputError(f"The {name} domain has no images; give at least one volume per domain.")
        missing = [str(path) for path in images if not pathlib.Path(path).is_file()]
        if missing:
            raise InputError(
                f"{len(missing)} {name} image file(s) do not exist (first: {missing[0]}); check the "
                "paths or the manifest."
            )
    for name, value in (("epochs", epochs), ("iterationsPerEpoch", iterationsPerEpoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} is {value!r}; give a positive whole number.")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads is {threads!r}; give a positive number of CPU threads, or None for torch's default.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed is {seed!r}; give a whole number ≥ 0.")
    requireNewFolder(out, "Model folder")
    arguments = {
        "sourceImages": [str(p) for p in sourceImages],
        "targetImages": [str(p) for p in targetImages],
        "out": str(out),
        "sequence": sequence,
        "sourceDomain": sourceDomain,
        "targetDomain": targetDomain,
        "config": config.toDict(),
        "epochs": epochs,
        "iterationsPerEpoch": iterationsPerEpoch,
        "device": device,
        "seed": seed,
        "threads": threads,
        "resume": bool(resume),
        "restart": bool(restart),
    }
    _resumeCheckpoint(arguments)
    return arguments


def _resumeCheckpoint(arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint to resume from (``None``: train from the start), after the work folder's checks."""
    work = workFolderOf(arguments["out"])
    resume, restart = bool(arguments.get("resume")), bool(arguments.get("restart"))
    if resume and restart:
        raise InputError("Give either resume (--resume) or restart (--restart), not both.")
    if not (work / CHECKPOINT_NAME).exists() or restart:
        return None
    if not resume:
        raise InputError(
            f"A stopped or killed training of {arguments['out']} left its finished epochs in {work}. Resume it with "
            "--resume (and the options it was started with), or pass --restart to discard it and train from the "
            "start."
        )
    checkpoint = readCheckpoint(work)
    if checkpoint is not None:
        requireSameTraining(checkpoint, trainingIdentity(arguments), work)
    return checkpoint


def trainCycleGan(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Train source → target and write the model folder ``arguments["out"]`` (see :mod:`.modelFolder`).

    :param arguments: as :func:`trainingArguments` returns them. ``threads`` sets torch's CPU threads (on a
        machine shared with other work, one thread can be many times faster than the default: measured 0.07 s
        against 1.4 s per step of a tiny configuration with two busy cores). ``resume`` continues from the work
        folder's last finished epoch, ``restart`` discards the work folder first.
    :returns: ``modelFolder``, ``device``, ``iterationsPerSecond``, ``seconds``, the last epoch's ``losses``, every
        epoch's ``history`` and ``resumedAfterEpoch`` (0 for a training from the start).
    """
    torch = requirePackage("torch")
    from VirtualBiopsy.harmonize.styleTransfer.cycleGan import LOSS_NAMES, CycleGan

    config = CycleGanConfig.fromDict(arguments["config"])
    epochs, iterations, seed = int(arguments["epochs"]), int(arguments["iterationsPerEpoch"]), int(arguments["seed"])
    out = requireNewFolder(arguments["out"], "Model folder")
    work = workFolderOf(out)
    checkpoint = _resumeCheckpoint(arguments)
    if arguments.get("restart") and work.is_dir():
        discardWork(work)
    identity = trainingIdentity(arguments)
    device = resolveDevice(arguments.get("device", "auto"))
    domains = _readDomains(arguments, config, progress)
    rng = np.random.default_rng([seed, 0])
    samplers = {
        domain: SliceSampler(volumes, config.sliceSize, config.minimumForeground, rng, f"{domain} domain")
        for domain, volumes in domains.items()
    }
    if arguments.get("threads"):
        torch.set_num_threads(int(arguments["threads"]))
    torch.manual_seed(seed)
    model = CycleGan(config, device, seed, epochs)
    history: list[dict] = []
    first, earlierSeconds = 0, 0.0
    if checkpoint is not None:
        restoreCheckpoint(checkpoint, model, rng)
        first, history, earlierSeconds = (
            int(checkpoint["epochsDone"]),
            list(checkpoint["history"]),
            checkpoint["seconds"],
        )
        progress(0.05 + 0.9 * first / epochs, f"resuming after epoch {first}/{epochs} from {work}")
        logger.info("Resuming the training in %s after epoch %d of %d", work, first, epochs)
    started = time.perf_counter()
    for epoch in range(first, epochs):
        epochStart, rate = time.perf_counter(), model.learningRate
        sums = np.zeros(len(LOSS_NAMES))
        for iteration in range(iterations):
            losses = model.step(samplers["source"].batch(config.batchSize), samplers["target"].batch(config.batchSize))
            values = np.array(losses.values())
            if not np.all(np.isfinite(values)):
                raise InputError(
                    f"Training diverged in epoch {epoch + 1}, iteration {iteration + 1} (losses "
                    f"{dict(zip(LOSS_NAMES, values.round(4)))}); lower learningRate or check the images."
                )
            sums += values
            done = epoch * iterations + iteration + 1
            progress(
                0.05 + 0.9 * done / (epochs * iterations),
                f"epoch {epoch + 1}/{epochs}, iteration {iteration + 1}/{iterations}, cycle {losses.cycle:.3f}",
            )
        means = dict(zip(LOSS_NAMES, (sums / iterations).tolist()))
        history.append(
            {
                "epoch": epoch + 1,
                "iterations": iterations,
                "learningRate": rate,
                "seconds": round(time.perf_counter() - epochStart, 3),
                **means,
            }
        )
        logger.info("Epoch %d/%d: %s", epoch + 1, epochs, ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
        model.endEpoch()
        saveCheckpoint(work, model, rng, epoch + 1, history, earlierSeconds + time.perf_counter() - started, identity)
        progress(0.05 + 0.9 * (epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs} saved in {work}")
    sessionSeconds = time.perf_counter() - started
    seconds = earlierSeconds + sessionSeconds
    speed = (epochs - first) * iterations / sessionSeconds if epochs > first else 0.0
    progress(0.96, "writing the model folder")
    document = _configDocument(arguments, config, domains, history, device, seconds, speed)
    document["training"]["resumedAfterEpoch"] = first
    with stagedOutputFolder(out, "Model folder") as staging:
        state = {name: tensor.detach().cpu() for name, tensor in model.generator.state_dict().items()}
        torch.save(state, staging / WEIGHTS_NAME)
        document["weights"] = {WEIGHTS_NAME: sha256File(staging / WEIGHTS_NAME)}
        (staging / CONFIG_NAME).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        (staging / LOSSES_NAME).write_text(_lossesCsv(history), encoding="utf-8", newline="\n")
    if work.is_dir():
        discardWork(work)
    progress(1.0, f"trained {epochs * iterations} iterations at {speed:.2f} iterations/s on {device}")
    return {
        "modelFolder": str(out),
        "device": device,
        "seconds": seconds,
        "iterationsPerSecond": speed,
        "losses": history[-1],
        "history": history,
        "resumedAfterEpoch": first,
    }


def _readDomains(arguments: dict[str, Any], config: CycleGanConfig, progress: ProgressCallback) -> dict:
    """Every image of both domains, scaled (:func:`scaleVolume`), by domain."""
    domains: dict[str, list[ScaledVolume]] = {}
    paths = [("source", p) for p in arguments["sourceImages"]] + [("target", p) for p in arguments["targetImages"]]
    for index, (domain, path) in enumerate(paths):
        progress(0.05 * index / len(paths), f"reading {domain} volume {index + 1} of {len(paths)}")
        try:
            image = sitk.ReadImage(str(path))
        except RuntimeError as error:
            raise InputError(
                f"Cannot read the {domain} image {path}; give volumes SimpleITK reads (NRRD, NIfTI, MHA)."
            ) from error
        domains.setdefault(domain, []).append(
            scaleVolume(
                image, config.lowerPercentile, config.upperPercentile, f"{domain} image {pathlib.Path(path).name}"
            )
        )
    return domains


def _configDocument(
    arguments: dict[str, Any],
    config: CycleGanConfig,
    domains: dict,
    history: list[dict],
    device: str,
    seconds: float,
    speed: float,
) -> dict[str, Any]:
    torch = requirePackage("torch")
    from VirtualBiopsy.harmonize.styleTransfer.networks import SIZE_MULTIPLE

    source, target = domainRange(domains["source"]), domainRange(domains["target"])
    return {
        "kind": KIND,
        "formatVersion": FORMAT_VERSION,
        "version": "1",
        "sequence": arguments["sequence"],
        "sourceDomain": arguments["sourceDomain"],
        "targetDomain": arguments["targetDomain"],
        "networks": {
            "generator": "ResnetGenerator",
            "generatorFilters": config.generatorFilters,
            "residualBlocks": config.residualBlocks,
            "discriminator": "PatchDiscriminator",
            "discriminatorFilters": config.discriminatorFilters,
            "discriminatorLayers": config.discriminatorLayers,
            "sizeMultiple": SIZE_MULTIPLE,
            "sliceAxis": "k (third index axis)",
            "sliceSize": config.sliceSize,
        },
        "intensity": {
            "lowerPercentile": config.lowerPercentile,
            "upperPercentile": config.upperPercentile,
            "source": {"lower": source.lower, "upper": source.upper},
            "target": {"lower": target.lower, "upper": target.upper},
            "background": 0.0,
        },
        "config": config.toDict(),
        "training": {
            "epochs": arguments["epochs"],
            "iterationsPerEpoch": arguments["iterationsPerEpoch"],
            "seed": arguments["seed"],
            "device": device,
            "seconds": round(seconds, 3),
            "iterationsPerSecond": round(speed, 4),
            "threads": torch.get_num_threads(),
            "sourceVolumes": len(domains["source"]),
            "targetVolumes": len(domains["target"]),
            "inputSha256": {
                "source": [sha256File(p) for p in arguments["sourceImages"]],
                "target": [sha256File(p) for p in arguments["targetImages"]],
            },
        },
        "losses": history,
        "versions": {"virtualBiopsy": __version__, "torch": torch.__version__, "SimpleITK": sitk.__version__},
    }


def _lossesCsv(history: list[dict]) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return stream.getvalue()
