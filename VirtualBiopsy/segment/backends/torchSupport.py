"""Torch pieces shared by the backends: the device, safe checkpoint loading, progress and cancel per forward pass."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator
from typing import Any

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.progress import CancelToken, ProgressCallback

DEVICES = ("auto", "cpu", "cuda")


def torchDevice(name: str):
    """The ``torch.device`` for ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``.

    :raises InputError: for an unknown name, or ``cuda`` on a machine without a CUDA GPU.
    """
    torch = requirePackage("torch")
    if name not in DEVICES:
        raise InputError(f"Device '{name}' is unknown; choose one of: {', '.join(DEVICES)}.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("Device 'cuda' was asked for but torch sees no CUDA GPU on this machine; "
                         "use device 'cpu' or 'auto'.")
    return torch.device(name)


def loadCheckpointSafely(path: pathlib.Path) -> Any:
    """Load a checkpoint with ``torch.load(weights_only=True)``: tensors and plain containers only, no code runs.

    :raises ModelError: when the file is missing or needs full unpickling (it is refused, not run).
    """
    torch = requirePackage("torch")
    path = pathlib.Path(path)
    if not path.is_file():
        raise ModelError(f"Checkpoint {path} was not found; check the model folder.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError or others for refused payloads
        raise ModelError(
            f"Checkpoint {path} holds objects that only full unpickling can load, which can run arbitrary code, so it "
            f"was refused ({str(error).splitlines()[0][:200]}). Import the model with 'virtual-biopsy models import "
            "PATH --trust' if you trust its source, or re-save the weights as a plain state dict."
        ) from error


@contextlib.contextmanager
def forwardProgress(module, total: int, progress: ProgressCallback, cancel: CancelToken | None,
                    start: float = 0.0, end: float = 1.0, message: str = "Inference") -> Iterator[None]:
    """Report progress and check ``cancel`` before each forward pass of ``module`` (``total`` passes expected).

    :raises CancelledError: from inside the forward pass when ``cancel`` is set.
    """
    state = {"done": 0}

    def hook(_module, _inputs) -> None:
        if cancel is not None:
            cancel.raiseIfCancelled()
        state["done"] += 1
        fraction = min(1.0, state["done"] / max(total, 1))
        progress(start + (end - start) * fraction, f"{message} {state['done']}/{total}")

    handle = module.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()
