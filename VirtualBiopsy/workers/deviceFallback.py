"""Device choice for network tasks, and one retry on the CPU when the GPU runs out of memory."""

from __future__ import annotations

import logging
import re
from typing import Any

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsy.workers.protocol import isCudaOutOfMemory
from VirtualBiopsy.workers.runner import WorkerRunner

logger = logging.getLogger(__name__)

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def checkDevice(device: str) -> str:
    """Return ``device`` if it is ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    :raises InputError: for any other value.
    """
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise InputError(f"Device {device!r} is not known; use 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index).")
    return device


def resolveDevice(device: str) -> str:
    """The torch device to run on: ``"auto"`` is ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    :raises InputError: when a CUDA device is asked for and torch cannot use it.
    :raises DependencyError: when a GPU device is considered and torch is not installed.
    """
    checkDevice(device)
    if device == "cpu":
        return "cpu"
    torch = requirePackage("torch")
    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    count = torch.cuda.device_count() if available else 0
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        seen = f"{count} GPU(s)" if available else "no usable GPU"
        raise InputError(
            f"Device {device!r} was asked for but torch {torch.__version__} (CUDA build: {torch.version.cuda}) "
            f"sees {seen}. Use device 'cpu' or 'auto', or install a CUDA build of torch that matches the "
            "GPU driver (in 3D Slicer: the PyTorch extension)."
        )
    return device


def runWithDeviceFallback(
    runner: WorkerRunner,
    task: str,
    arguments: dict[str, Any],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Run ``task`` on ``runner``; if it runs out of GPU memory, run it once more on the CPU.

    The retry happens only when ``arguments["device"]`` is ``"auto"`` or a CUDA device and
    the failure is a CUDA out-of-memory error; it is logged as a warning. A failure of the
    retry, and every other failure, is raised.
    """
    device = arguments.get("device")
    try:
        return runner.run(task, arguments, progress, cancel)
    except Exception as error:
        if device in (None, "cpu") or not isinstance(device, str) or not isCudaOutOfMemory(error):
            raise
        if cancel is not None and cancel.cancelled:
            raise
        logger.warning(
            "Task %s ran out of GPU memory on device %r (%s); running it again on the CPU, which is slower. "
            "To skip the GPU attempt, choose device 'cpu'.",
            task,
            device,
            error,
        )
    return runner.run(task, {**arguments, "device": "cpu"}, progress, cancel)
