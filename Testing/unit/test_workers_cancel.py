"""Cancel stops the worker and every process it started, within seconds; a crashed worker leaves no
orphans either. Checked on real processes with psutil.
"""

import os
import pathlib
import re
import threading
import time

import psutil
import pytest

from VirtualBiopsy.errors import CancelledError, ModelError
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.workers.processRunner import ProcessRunner

TASKS = str(pathlib.Path(__file__).resolve().parent)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process groups as on Linux and macOS")


def processIdentity(pid: int) -> tuple[int, float]:
    return pid, psutil.Process(pid).create_time()


def isGone(identity: tuple[int, float]) -> bool:
    pid, created = identity
    try:
        process = psutil.Process(pid)
        return process.create_time() != created or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def waitUntilGone(identities, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(isGone(identity) for identity in identities):
            return True
        time.sleep(0.02)
    return all(isGone(identity) for identity in identities)


class CancelOnGrandchild:
    """Progress callback that records the worker and grandchild processes, then cancels."""

    def __init__(self) -> None:
        self.token = CancelToken()
        self.identities: list[tuple[int, float]] = []

    def __call__(self, fraction: float, message: str) -> None:
        match = re.fullmatch(r"grandchild (\d+)", message)
        if match and not self.identities:
            grandchild = psutil.Process(int(match.group(1)))
            self.identities = [processIdentity(grandchild.ppid()), processIdentity(grandchild.pid)]
            self.token.cancel()


@pytest.mark.parametrize("ownSession", [False, True], ids=["sameGroup", "grandchildInOwnSession"])
def test_cancel_kills_the_worker_and_its_grandchild(ownSession):
    watcher = CancelOnGrandchild()
    with pytest.raises(CancelledError, match=r"workerTasks:spawnAndSleep was cancelled"):
        ProcessRunner(extraPythonPath=[TASKS]).run(
            "workerTasks:spawnAndSleep", {"ownSession": ownSession}, watcher, watcher.token
        )
    assert len(watcher.identities) == 2  # the worker would sleep 120 s: CancelledError means the cancel stopped it
    assert waitUntilGone(watcher.identities), "the worker or its grandchild outlived the cancel"


def test_cancel_from_another_thread_while_the_worker_sleeps():
    token = CancelToken()
    reports = []
    timer = threading.Timer(0.8, token.cancel)
    timer.start()
    try:
        with pytest.raises(CancelledError):
            ProcessRunner(extraPythonPath=[TASKS]).run(
                "workerTasks:spawnAndSleep", {}, lambda f, m: reports.append(m), token
            )
    finally:
        timer.cancel()
    grandchild = int(reports[0].split()[1])
    assert waitUntilGone(
        [(grandchild, psutil.Process(grandchild).create_time())] if psutil.pid_exists(grandchild) else []
    )


def test_grandchild_that_ignores_sigterm_is_killed_after_the_grace():
    watcher = CancelOnGrandchild()
    runner = ProcessRunner(extraPythonPath=[TASKS], terminateGraceSeconds=0.3)
    with pytest.raises(CancelledError):
        runner.run("workerTasks:spawnStubborn", {}, watcher, watcher.token)
    assert waitUntilGone(watcher.identities)


def test_cancel_before_the_start_starts_nothing():
    token = CancelToken()
    token.cancel()
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(CancelledError):
        ProcessRunner(extraPythonPath=[TASKS]).run("workerTasks:spawnAndSleep", {}, None, token)
    assert {child.pid for child in psutil.Process().children(recursive=True)} <= before


def test_a_crashed_worker_leaves_no_orphaned_grandchild():
    seen = []

    def progress(fraction, message):
        seen.append(processIdentity(int(message.split()[1])))

    with pytest.raises(ModelError, match=r"exited with status 5"):
        ProcessRunner(extraPythonPath=[TASKS]).run("workerTasks:spawnThenCrash", {}, progress)
    assert len(seen) == 1
    assert waitUntilGone(seen)


def test_an_error_in_the_progress_callback_stops_the_worker_and_propagates():
    seen = []

    def progress(fraction, message):
        grandchild = psutil.Process(int(message.split()[1]))
        seen.extend([processIdentity(grandchild.ppid()), processIdentity(grandchild.pid)])
        raise RuntimeError("the progress bar's window was closed")

    with pytest.raises(RuntimeError, match="window was closed"):
        ProcessRunner(extraPythonPath=[TASKS]).run("workerTasks:spawnAndSleep", {}, progress)
    assert waitUntilGone(seen)


def test_a_worker_that_does_not_exit_after_its_result_is_stopped_and_the_result_kept(caplog):
    runner = ProcessRunner(extraPythonPath=[TASKS], exitGraceSeconds=0.5)
    assert runner.run("workerTasks:lingerAfterResult", {}) == {"answer": 42}  # its thread would linger 120 s
    assert any("did not exit within 0.5 s" in record.getMessage() for record in caplog.records)


def test_idle_callback_runs_often_on_the_calling_thread_and_can_cancel():
    """As Slicer's processEvents: a Cancel button clicked while the worker is silent stops it."""
    token = CancelToken()
    calls = []

    def idle():
        calls.append(threading.get_ident())
        if len(calls) == 10:
            token.cancel()

    with pytest.raises(CancelledError):  # the silent worker would sleep 120 s
        ProcessRunner(extraPythonPath=[TASKS], idle=idle).run("workerTasks:spawnAndSleep", {}, None, token)
    assert len(calls) == 10
    assert set(calls) == {threading.get_ident()}


def test_worker_tree_ends_when_the_process_that_started_it_dies():
    """If the application crashes (or is killed), its worker and the worker's children do not live on."""
    import subprocess
    import sys

    code = (
        "import sys; from VirtualBiopsy.workers.processRunner import ProcessRunner\n"
        f"ProcessRunner(extraPythonPath=[{TASKS!r}]).run('workerTasks:spawnAndSleep', {{}},\n"
        "    lambda fraction, message: print(message, flush=True))\n"
    )
    repository = str(pathlib.Path(__file__).resolve().parents[2])
    application = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=repository)
    try:
        grandchild = psutil.Process(int(application.stdout.readline().split()[1]))
        identities = [processIdentity(grandchild.ppid()), processIdentity(grandchild.pid)]
        application.kill()
    finally:
        application.wait()
        application.stdout.close()
    assert waitUntilGone(identities, seconds=5.0)
