"""Torch pieces shared by the backends: the device, and progress and cancel at each forward pass."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from VirtualBiopsy.errors import requirePackage
from VirtualBiopsy.progress import CancelToken, ProgressCallback


def torchDevice(name: str):
    """The ``torch.device`` for ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    :raises InputError: for an unknown name, or a CUDA device torch cannot use.
    """
    from VirtualBiopsy.workers.deviceFallback import resolveDevice

    torch = requirePackage("torch")
    return torch.device(resolveDevice(name))


@contextlib.contextmanager
def forwardProgress(
    module,
    total: int,
    progress: ProgressCallback,
    cancel: CancelToken | None,
    start: float = 0.0,
    end: float = 1.0,
    message: str = "Inference",
) -> Iterator[None]:
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
