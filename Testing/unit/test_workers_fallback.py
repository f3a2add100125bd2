"""One CPU retry when a task runs out of GPU memory, for both runners; device names checked."""

import logging
import pathlib

import pytest

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.workers.deviceFallback import (
    checkDevice,
    resolveDevice,
    runWithDeviceFallback,
)
from VirtualBiopsy.workers.inlineRunner import InlineRunner
from VirtualBiopsy.workers.processRunner import ProcessRunner
from VirtualBiopsy.workers.protocol import DeviceMemoryError, isCudaOutOfMemory

TASKS = str(pathlib.Path(__file__).resolve().parent)


def attemptsOf(path: pathlib.Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def test_out_of_memory_in_a_worker_is_retried_once_on_cpu_with_a_warning(tmp_path, caplog):
    device = "cuda"
    attempts = tmp_path / "attempts.txt"
    reports = []
    result = runWithDeviceFallback(
        ProcessRunner(extraPythonPath=[TASKS]),
        "workerTasks:outOfMemoryOnGpu",
        {"device": device, "attempts": str(attempts)},
        lambda f, m: reports.append(m),
    )
    assert result == {"device": "cpu", "sum": 6.0}
    assert attemptsOf(attempts) == [device, "cpu"]
    assert reports == ["done on cpu"]
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.name == "VirtualBiopsy.workers.deviceFallback"
    assert f"ran out of GPU memory on device '{device}'" in warning.getMessage()
    assert "Tried to allocate 2.00 GiB" in warning.getMessage()
    assert "again on the CPU" in warning.getMessage()


def test_the_worker_reports_out_of_memory_as_its_own_kind(tmp_path):
    with pytest.raises(DeviceMemoryError, match=r"ran out of GPU memory \(OutOfMemoryError: CUDA out of memory"):
        ProcessRunner(extraPythonPath=[TASKS]).run(
            "workerTasks:outOfMemoryOnGpu", {"device": "cuda", "attempts": str(tmp_path / "a.txt")}
        )


@pytest.mark.parametrize("device", ["auto", "cuda:0"])
def test_inline_runner_gets_the_same_single_retry(tmp_path, caplog, device):
    attempts = tmp_path / "attempts.txt"
    result = runWithDeviceFallback(
        InlineRunner(), "workerTasks:outOfMemoryOnGpu", {"device": device, "attempts": str(attempts)}
    )
    assert result["device"] == "cpu"
    assert attemptsOf(attempts) == [device, "cpu"]
    assert sum(record.levelno == logging.WARNING for record in caplog.records) == 1


def test_a_second_out_of_memory_is_raised_after_exactly_one_retry(caplog):
    calls = []

    class CountingRunner(ProcessRunner):
        def run(self, task, arguments, progress=None, cancel=None):
            calls.append(arguments["device"])
            return super().run(task, arguments, progress, cancel)

    with pytest.raises(DeviceMemoryError, match="CUDA out of memory. Tried to allocate 512.00 MiB"):
        runWithDeviceFallback(
            CountingRunner(extraPythonPath=[TASKS]), "workerTasks:outOfMemoryAlways", {"device": "auto"}
        )
    assert calls == ["auto", "cpu"]


def test_no_retry_when_the_device_is_cpu_or_not_given(tmp_path, caplog):
    for arguments in ({"device": "cpu"}, {}):
        with pytest.raises(RuntimeError, match="CUDA out of memory"):
            runWithDeviceFallback(InlineRunner(), "workerTasks:outOfMemoryAlways", arguments)
    assert not caplog.records


def test_other_failures_are_not_retried(tmp_path):
    calls = []

    class CountingRunner(InlineRunner):
        def run(self, task, arguments, progress=None, cancel=None):
            calls.append(arguments.get("device"))
            return super().run(task, arguments, progress, cancel)

    with pytest.raises(InputError, match="wrong spacing"):
        runWithDeviceFallback(
            CountingRunner(), "workerTasks:raiseInputError", {"device": "cuda", "message": "wrong spacing"}
        )
    assert calls == ["cuda"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DeviceMemoryError("x"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"), True),
        (RuntimeError("CUDA error: device-side assert triggered"), False),
        (MemoryError("numpy could not allocate"), False),
        (ModelError("CUDA out of memory"), False),
        (ValueError("CUDA out of memory"), False),
    ],
)
def test_out_of_memory_recognition(error, expected):
    assert isCudaOutOfMemory(error) is expected


def test_torch_out_of_memory_error_is_recognised():
    torch = pytest.importorskip("torch")
    assert isCudaOutOfMemory(torch.cuda.OutOfMemoryError("anything"))


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "cuda:x", "mps", "", None, 0])
def test_unknown_devices_are_refused(device):
    with pytest.raises(InputError, match=r"use 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        checkDevice(device)


def test_resolve_device_follows_torch():
    torch = pytest.importorskip("torch")
    assert resolveDevice("cpu") == "cpu"
    assert resolveDevice("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert resolveDevice("cuda") == "cuda"
        with pytest.raises(InputError, match=r"'cuda:99' was asked for"):
            resolveDevice("cuda:99")
    else:
        with pytest.raises(
            InputError, match=r"Device 'cuda' was asked for but torch .* sees no usable GPU.*Use device 'cpu'"
        ):
            resolveDevice("cuda")
