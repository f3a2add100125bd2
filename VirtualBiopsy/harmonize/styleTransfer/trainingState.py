"""A CycleGAN training's resumable state: one checkpoint per finished epoch in a work folder beside the model folder.

The work folder ``<out>.partial-work`` (:func:`~VirtualBiopsy.resumableWork.workFolderOf`) holds ``checkpoint.pt``, replaced atomically after
every epoch: the four networks, both optimizers and learning-rate schedules, the image pools, the random
generators (slice sampling, image pools, torch, NumPy, Python), the finished epochs, their losses and the
training's identity (settings and input hashes, :func:`trainingIdentity`). Everything in it is a tensor, dict,
list, string or number, so it loads with ``torch.load(weights_only=True)``; nothing else is ever loaded from it.
The model folder ``out`` itself is written only at the end, so it appears complete or not at all. With the same
device and thread count, a resumed training gives the same weights, bit for bit, as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.files import sha256File, temporarySibling
from VirtualBiopsy.resumableWork import discardWork as discardWorkEntries
from VirtualBiopsy.resumableWork import globalRandomStates, restoreGlobalRandomStates

CHECKPOINT_NAME = "checkpoint.pt"
_FORMAT = 1


def discardWork(work: pathlib.Path) -> None:
    """Remove the checkpoint (and any half-written one) from ``work``, then the folder if that leaves it empty."""
    discardWorkEntries(work, [CHECKPOINT_NAME], [".checkpoint.*.partial.pt"])


def trainingIdentity(arguments: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for a training to resume: settings, schedule, seed, domains and the inputs' SHA-256
    (where the images lie, the device and the thread count may change)."""
    return {
        "format": _FORMAT,
        "config": arguments["config"],
        "epochs": int(arguments["epochs"]),
        "iterationsPerEpoch": int(arguments["iterationsPerEpoch"]),
        "seed": int(arguments["seed"]),
        "sequence": arguments["sequence"],
        "sourceDomain": arguments["sourceDomain"],
        "targetDomain": arguments["targetDomain"],
        "sourceImages": [sha256File(pathlib.Path(path)) for path in arguments["sourceImages"]],
        "targetImages": [sha256File(pathlib.Path(path)) for path in arguments["targetImages"]],
    }


def identityDifferences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The names of the identity's entries that differ, with the saved and current values of the small ones."""
    differences = []
    for name in sorted(set(saved) | set(current)):
        before, now = saved.get(name), current.get(name)
        if before == now:
            continue
        if name == "config" and isinstance(before, dict) and isinstance(now, dict):
            differences += [
                f"config.{key} {before.get(key)!r} → {now.get(key)!r}"
                for key in sorted(set(before) | set(now))
                if before.get(key) != now.get(key)
            ]
        elif name.endswith("Images"):
            differences.append(f"the {name[: -len('Images')]} images (their contents or number)")
        else:
            differences.append(f"{name} {before!r} → {now!r}")
    return differences


def readCheckpoint(work: pathlib.Path) -> dict[str, Any] | None:
    """The work folder's checkpoint, loaded with ``weights_only=True``, or ``None`` when there is none.

    :raises InputError: when the file does not load or is not a checkpoint of this format (the fix: ``--restart``).
    """
    path = work / CHECKPOINT_NAME
    if not path.is_file():
        return None
    torch = requirePackage("torch")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the file is not ours
        raise InputError(
            f"The training checkpoint {path} cannot be read ({type(error).__name__}); it was not written by this "
            "program or is damaged. Pass --restart to discard the work folder and train from the start."
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != _FORMAT or "identity" not in checkpoint:
        raise InputError(
            f"{path} is not a style-transfer training checkpoint of format {_FORMAT}; pass --restart to discard "
            "the work folder and train from the start."
        )
    return checkpoint


def requireSameTraining(checkpoint: dict[str, Any], identity: dict[str, Any], work: pathlib.Path) -> None:
    """Refuse to resume a checkpoint made with other settings or inputs than ``identity``.

    :raises InputError: naming what differs and the two ways on.
    """
    saved = json.loads(checkpoint["identity"])
    differences = identityDifferences(saved, identity)
    if differences:
        raise InputError(
            f"The training in {work} was started with other settings or inputs ({'; '.join(differences)}), so it "
            "cannot be resumed with these. Resume with the options it was started with, or pass --restart to "
            "discard it and train from the start."
        )


def identityText(identity: dict[str, Any]) -> str:
    """``identity`` as canonical JSON (the checkpoint stores it so)."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def identitySha256(identity: dict[str, Any]) -> str:
    """SHA-256 of :func:`identityText`."""
    return hashlib.sha256(identityText(identity).encode("utf-8")).hexdigest()


def saveCheckpoint(
    work: pathlib.Path,
    model,
    samplerRng: np.random.Generator,
    epochsDone: int,
    history: list[dict],
    seconds: float,
    identity: dict[str, Any],
) -> pathlib.Path:
    """Write the state after ``epochsDone`` epochs to ``work/checkpoint.pt`` atomically (the old one stays
    whole until the new one is complete)."""
    torch = requirePackage("torch")

    def cpu(state):
        if isinstance(state, dict):
            return {key: cpu(value) for key, value in state.items()}
        if isinstance(state, (list, tuple)):
            return type(state)(cpu(value) for value in state)
        return state.detach().cpu().clone() if isinstance(state, torch.Tensor) else state

    names = ("generator", "reverseGenerator", "sourceDiscriminator", "targetDiscriminator")
    checkpoint = {
        "format": _FORMAT,
        "identity": identityText(identity),
        "identitySha256": identitySha256(identity),
        "epochsDone": int(epochsDone),
        "history": history,
        "seconds": float(seconds),
        "networks": {name: cpu(getattr(model, name).state_dict()) for name in names},
        "generatorOptimizer": cpu(model.generatorOptimizer.state_dict()),
        "discriminatorOptimizer": cpu(model.discriminatorOptimizer.state_dict()),
        "schedulers": [scheduler.state_dict() for scheduler in model.schedulers],
        "pools": {"source": cpu(model.sourcePool.images), "target": cpu(model.targetPool.images)},
        "random": randomStates(samplerRng, model.sourcePool.rng, torch),
    }
    work.mkdir(parents=True, exist_ok=True)
    path = work / CHECKPOINT_NAME
    with temporarySibling(path) as temporary:
        torch.save(checkpoint, temporary)
    return path


def restoreCheckpoint(checkpoint: dict[str, Any], model, samplerRng: np.random.Generator) -> None:
    """Put the networks, optimizers, schedules, pools and random generators back as :func:`saveCheckpoint`
    found them."""
    torch = requirePackage("torch")
    for name, state in checkpoint["networks"].items():
        getattr(model, name).load_state_dict(state)
    model.generatorOptimizer.load_state_dict(checkpoint["generatorOptimizer"])
    model.discriminatorOptimizer.load_state_dict(checkpoint["discriminatorOptimizer"])
    for scheduler, state in zip(model.schedulers, checkpoint["schedulers"]):
        scheduler.load_state_dict(state)
    model.sourcePool.images = [image.to(model.device) for image in checkpoint["pools"]["source"]]
    model.targetPool.images = [image.to(model.device) for image in checkpoint["pools"]["target"]]
    states = checkpoint["random"]
    samplerRng.bit_generator.state = states["sampler"]
    model.sourcePool.rng.bit_generator.state = states["pool"]
    restoreGlobalRandomStates(states, torch)


def randomStates(samplerRng: np.random.Generator, poolRng: np.random.Generator, torch) -> dict[str, Any]:
    """Every random generator's state as plain values (the pools share one generator)."""
    return {
        "sampler": samplerRng.bit_generator.state,
        "pool": poolRng.bit_generator.state,
        **globalRandomStates(torch),
    }
