"""Per-epoch checkpoints of an nnU-Net training, so that a stopped or killed training resumes (worker side).

After every epoch the trainer's state is written, in nnU-Net's own checkpoint layout (the keys of
``nnUNetTrainer.save_checkpoint``: weights, optimizer, grad scaler, logged values, best EMA Dice, epoch, init
arguments), plus the random generators' states, to ``checkpoint_epoch_NNNN.pth`` in the work folder. Every value
is made plain (tensors, numbers, strings, lists, dicts), so the file loads with ``weights_only=True``. Its SHA-256
is recorded in ``checkpoint.json``, which is replaced only once the file is complete; then the previous epoch's
file is removed. A kill at any moment leaves the last complete checkpoint and its record.

To resume, the recorded file is copied to a private file while its SHA-256 is computed, the copy must match the
record and load with ``weights_only=True``, and only then nnU-Net's ``load_checkpoint`` reads that same copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import tempfile
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import sha256File, temporarySibling, writeTextAtomically
from VirtualBiopsy.resumableWork import globalRandomStates, restoreGlobalRandomStates

RECORD_NAME = "checkpoint.json"
_FILE = re.compile(r"^checkpoint_epoch_\d{4,}\.pth$")
_CHUNK = 1 << 20


def savedEpochs(folder: pathlib.Path) -> int:
    """Epochs finished according to ``folder``'s checkpoint record (0 when there is none)."""
    record = _record(folder)
    return int(record["epochsDone"]) if record else 0


def saveCheckpoint(trainer, folder: pathlib.Path, torch) -> pathlib.Path:
    """Write the state of ``trainer`` after an epoch (``on_epoch_end`` has counted it) into ``folder``."""
    network = trainer.network._orig_mod if hasattr(trainer.network, "_orig_mod") else trainer.network
    epochs = int(trainer.current_epoch)
    checkpoint = {
        "network_weights": {key: value.detach().cpu().clone() for key, value in network.state_dict().items()},
        "optimizer_state": trainer.optimizer.state_dict(),
        "grad_scaler_state": trainer.grad_scaler.state_dict() if trainer.grad_scaler is not None else None,
        "logging": _plain(trainer.logger.get_checkpoint()),
        "_best_ema": _plain(trainer._best_ema),
        "current_epoch": epochs,
        "init_args": _plain(trainer.my_init_kwargs),
        "trainer_name": trainer.__class__.__name__,
        "inference_allowed_mirroring_axes": _plain(trainer.inference_allowed_mirroring_axes),
        "virtualBiopsyRandom": globalRandomStates(torch),
    }
    previous = _record(folder)
    path = folder / f"checkpoint_epoch_{epochs:04d}.pth"
    with temporarySibling(path) as temporary:
        torch.save(checkpoint, temporary)
    record = {"file": path.name, "sha256": sha256File(path), "epochsDone": epochs}
    writeTextAtomically(json.dumps(record, indent=2) + "\n", folder / RECORD_NAME)
    if previous and previous["file"] != path.name:
        (folder / previous["file"]).unlink(missing_ok=True)
    return path


def loadCheckpoint(trainer, folder: pathlib.Path, torch) -> tuple[int, dict[str, Any] | None]:
    """Load the recorded checkpoint into ``trainer`` (initialized by nnU-Net's ``load_checkpoint`` if needed);
    returns the epochs it had finished (0 when there is no checkpoint) and the random generators' states then
    (for :func:`restoreRandomStates`).

    :raises InputError: when the file is missing, changed since it was written, or does not load with
        ``weights_only=True`` (the fix: ``--restart``).
    """
    record = _record(folder)
    if record is None:
        return 0, None
    path = folder / record["file"]
    handle, name = tempfile.mkstemp(prefix=".resume.", suffix=".pth", dir=folder)
    copy = pathlib.Path(name)
    try:
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as source, os.fdopen(handle, "wb") as target:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    target.write(chunk)
        except FileNotFoundError as error:
            raise _refusal(path, "is missing") from error
        if digest.hexdigest() != record["sha256"]:
            raise _refusal(path, "does not match the SHA-256 recorded when this training wrote it")
        try:
            checkpoint = torch.load(copy, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unpickling failure: not a plain checkpoint
            raise _refusal(path, f"does not load with weights_only=True ({type(error).__name__})") from error
        # nnU-Net's load_checkpoint unpickles with weights_only=False. It reads only this private copy, whose bytes
        # are the ones this training wrote (SHA-256 above) and which just loaded with weights_only=True, so the
        # full unpickler can meet no other objects than the restricted one accepted.
        trainer.load_checkpoint(str(copy))
    finally:
        copy.unlink(missing_ok=True)
    return int(checkpoint["current_epoch"]), checkpoint.get("virtualBiopsyRandom")


def restoreRandomStates(states: dict[str, Any] | None, torch) -> None:
    """Set the global generators to what the checkpoint recorded (nothing when ``states`` is ``None``)."""
    if states:
        restoreGlobalRandomStates(states, torch)


def _record(folder: pathlib.Path) -> dict[str, Any] | None:
    path = folder / RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(
            f"The checkpoint record {path} cannot be read ({error}); pass --restart to train from the start."
        ) from error
    valid = (
        isinstance(record, dict)
        and isinstance(record.get("file"), str)
        and _FILE.match(record["file"])
        and isinstance(record.get("sha256"), str)
        and isinstance(record.get("epochsDone"), int)
    )
    if not valid:
        raise InputError(f"{path} is not a checkpoint record of this program; pass --restart to train from the start.")
    return record


def _refusal(path: pathlib.Path, problem: str) -> InputError:
    return InputError(
        f"The training checkpoint {path} {problem}; it cannot be resumed. Pass --restart to discard the work "
        "folder and train from the start."
    )


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and devices turned into plain numbers, lists and strings."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if type(value).__name__ == "device":
        return str(value)
    return value
