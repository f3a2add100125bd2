"""Tasks the worker tests run in child processes (imported by name through ``extraPythonPath``).

Each is ``task(arguments, progress) -> dict``, as :mod:`VirtualBiopsy.workers.runner` defines.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import time

from VirtualBiopsy.errors import GeometryError, InputError

logger = logging.getLogger("workerTasks")


def countSteps(arguments: dict, progress) -> dict:
    """Report ``steps`` progress steps, print to stdout (which must not reach the protocol), echo the arguments."""
    steps = int(arguments["steps"])
    print("a print from the task that is not protocol JSON")
    os.write(1, b"{raw bytes on file descriptor 1\n")
    subprocess.run([sys.executable, "-c", "print('a grandchild writing to its stdout')"], check=True)
    for step in range(steps):
        progress((step + 1) / steps, f"step {step + 1} of {steps}")
    logger.warning("counted %d steps for %s", steps, arguments["name"])
    return {"echo": arguments, "pid": os.getpid(), "steps": list(range(steps))}


def raiseInputError(arguments: dict, progress) -> dict:
    """Raise :class:`InputError` with the message in ``arguments``."""
    raise InputError(arguments["message"])


def raiseGeometryError(arguments: dict, progress) -> dict:
    """Raise a subclass of InputError: it must come back as itself."""
    raise GeometryError(arguments["message"])


def raiseBug(arguments: dict, progress) -> dict:
    """Fail with an exception that is not one of the library's (a bug)."""
    return {"value": _divide(1, 0)}


def _divide(numerator: float, denominator: float) -> float:
    return numerator / denominator


def exitAbruptly(arguments: dict, progress) -> dict:
    """Write to stderr, then leave with ``os._exit(status)`` as a crashing extension would."""
    sys.stderr.write("native library: fatal error in the last step\n")
    sys.stderr.flush()
    os._exit(int(arguments["status"]))


def killSelf(arguments: dict, progress) -> dict:
    """Die of SIGKILL, as under the kernel's out-of-memory killer."""
    progress(0.5, "about to die")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(30)
    return {}


def spawnAndSleep(arguments: dict, progress) -> dict:
    """Start a sleeping grandchild (in a session of its own if asked), report its pid, then sleep."""
    grandchild = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        start_new_session=bool(arguments.get("ownSession")),
    )
    progress(0.1, f"grandchild {grandchild.pid}")
    time.sleep(float(arguments.get("seconds", 120)))
    return {"grandchild": grandchild.pid}


def spawnThenCrash(arguments: dict, progress) -> dict:
    """Start a sleeping grandchild, report its pid, then exit abruptly leaving it orphaned."""
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    progress(0.1, f"grandchild {grandchild.pid}")
    os._exit(5)


def notJson(arguments: dict, progress) -> dict:
    """Return a value that cannot cross as JSON."""
    return {"value": {1, 2, 3}}


def notADict(arguments: dict, progress) -> list:
    """Return a list where a dict is expected."""
    return [1, 2, 3]


def outOfMemoryOnGpu(arguments: dict, progress) -> dict:
    """Raise torch's CUDA out-of-memory error unless the device is ``"cpu"``; record each attempt's device."""
    import torch

    with open(arguments["attempts"], "a", encoding="utf-8") as attempts:
        attempts.write(arguments["device"] + "\n")
    if arguments["device"] != "cpu":
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    progress(1.0, "done on cpu")
    return {"device": arguments["device"], "sum": float(torch.arange(4.0).sum())}


def outOfMemoryAlways(arguments: dict, progress) -> dict:
    """Raise the CUDA out-of-memory error of older torch versions (a RuntimeError) on every device."""
    raise RuntimeError("CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0; 7.79 GiB total capacity)")


def readEnvironment(arguments: dict, progress) -> dict:
    """Return the worker's values of the environment variables named in ``arguments``, and its process group."""
    return {
        "values": {name: os.environ.get(name) for name in arguments["names"]},
        "pid": os.getpid(),
        "processGroup": os.getpgid(0),
    }


def failAfterLogging(arguments: dict, progress) -> dict:
    """Log an exception with its traceback, then fail with a bug."""
    try:
        {}["missing"]
    except KeyError:
        logger.exception("lookup failed while preparing")
    raise ValueError("weights have the wrong shape (3, 3) for layer conv1")


def spawnStubborn(arguments: dict, progress) -> dict:
    """Start a grandchild that ignores SIGTERM, report its pid, then sleep."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"
    grandchild = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    grandchild.stdout.readline()  # its handler is installed
    progress(0.1, f"grandchild {grandchild.pid}")
    time.sleep(120)
    return {}


def lingerAfterResult(arguments: dict, progress) -> dict:
    """Return at once but leave a non-daemon thread that keeps the worker from exiting."""
    import threading

    threading.Thread(target=time.sleep, args=(120,), daemon=False).start()
    return {"answer": 42}


def _highWaterMark() -> int:
    """Peak resident memory of this process in bytes. Linux's ``VmHWM`` starts anew at ``exec``;
    ``ru_maxrss`` (the fallback elsewhere) keeps the high-water mark of the process that forked it."""
    import resource

    status = pathlib.Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def measureSlidingWindowPeak(arguments: dict, progress) -> dict:
    """Peak resident memory that sliding-window softmax inference adds, measured in this worker.

    ``network`` is ``"monaiUNet"`` (MONAI's UNet, 16 base channels) or ``"plainConvUNet"``
    (nnU-Net's default 3D U-Net, 32 base features, 5 stages).
    """
    import psutil
    import torch
    from monai.inferers import sliding_window_inference

    torch.set_num_threads(1)
    inputChannels, classes = int(arguments["inputChannels"]), int(arguments["classes"])
    if arguments["network"] == "monaiUNet":
        from monai.networks.nets import UNet

        network = UNet(3, inputChannels, classes, channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=2)
    else:
        from dynamic_network_architectures.architectures.unet import PlainConvUNet

        network = PlainConvUNet(
            inputChannels,
            5,
            (32, 64, 128, 256, 320),
            torch.nn.Conv3d,
            3,
            (1, 2, 2, 2, 2),
            (2, 2, 2, 2, 2),
            classes,
            (2, 2, 2, 2),
            conv_bias=True,
            norm_op=torch.nn.InstanceNorm3d,
            norm_op_kwargs={"eps": 1e-5, "affine": True},
            nonlin=torch.nn.LeakyReLU,
            nonlin_kwargs={"inplace": True},
        )
    network.eval()
    before = psutil.Process().memory_info().rss
    highWaterBefore = _highWaterMark()
    generator = torch.Generator().manual_seed(0)
    image = torch.randn((1, inputChannels, *arguments["shape"]), generator=generator)
    with torch.inference_mode():
        logits = sliding_window_inference(
            image, tuple(arguments["patchSize"]), 1, network, overlap=0.25, mode="gaussian"
        )
        probabilities = torch.softmax(logits, 1)
        labels = torch.argmax(probabilities, 1).to(torch.uint8)
    peak = _highWaterMark()
    return {
        "peakIncrease": peak - before,
        "highWaterBefore": highWaterBefore - before,
        "modelBytes": sum(parameter.numel() * 4 for parameter in network.parameters()),
        "voxels": int(labels.numel()),
    }


def warnDeprecated(arguments: dict, progress) -> dict:
    """Issue a Python warning, as libraries do."""
    import warnings

    warnings.warn("spacing argument is deprecated; pass pixdim", FutureWarning, stacklevel=1)
    return {}
