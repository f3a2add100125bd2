"""Run a task in a child Python process: streamed progress, cancel that stops the whole process tree."""

from __future__ import annotations

import collections
import json
import logging
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from VirtualBiopsy.errors import CancelledError, InputError, ModelError
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.workers.processTree import ProcessTree, newSessionOptions
from VirtualBiopsy.workers.protocol import decodeError, decodeLogRecord

logger = logging.getLogger(__name__)

#: The folder that holds the ``VirtualBiopsy`` package; put first on the worker's path.
PACKAGE_PARENT = pathlib.Path(__file__).resolve().parents[2]
#: Longest wait between two checks of the cancel token, in seconds.
POLL_SECONDS = 0.05
#: Seconds between two snapshots of the worker's descendants.
SNAPSHOT_SECONDS = 0.5
#: Lines of the worker's stderr kept for error messages.
STDERR_TAIL_LINES = 30


class ProcessRunner:
    """A :class:`~VirtualBiopsy.workers.runner.WorkerRunner` that runs each task in a new child process.

    The child is ``pythonExecutable -m VirtualBiopsy.workers.child`` in a process group
    of its own. Progress is relayed to the callback on the calling thread, log records
    to this process's loggers; cancel stops the child and every process it started.

    :param pythonExecutable: the worker's Python; this one by default (inside 3D Slicer pass ``PythonSlicer``).
    :param extraPythonPath: folders put on the worker's ``sys.path`` after this package's folder.
    :param environment: variables set for the worker on top of this process's environment (``None`` removes one).
    :param terminateGraceSeconds: how long processes get to end after being asked before they are killed.
    :param exitGraceSeconds: how long the worker gets to exit after reporting its outcome.
    :param idle: called on the calling thread at every poll (at least every 0.1 s) while the worker runs;
        inside 3D Slicer pass the application's processEvents so that the GUI and its Cancel button stay responsive.
    """

    def __init__(
        self,
        pythonExecutable: str | None = None,
        extraPythonPath: Iterable[str] = (),
        environment: Mapping[str, str | None] | None = None,
        terminateGraceSeconds: float = 1.0,
        exitGraceSeconds: float = 10.0,
        idle: Callable[[], None] | None = None,
    ) -> None:
        self.pythonExecutable = str(pythonExecutable or sys.executable)
        self.extraPythonPath = [str(path) for path in extraPythonPath]
        self.environment = dict(environment or {})
        self.terminateGraceSeconds = float(terminateGraceSeconds)
        self.exitGraceSeconds = float(exitGraceSeconds)
        self.idle = idle

    def run(
        self,
        task: str,
        arguments: dict[str, Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """Run ``task`` with ``arguments`` in a worker and return its result (see :mod:`VirtualBiopsy.workers.runner`).

        :raises InputError: when the arguments are not JSON or the worker cannot be started; also any
            :class:`~VirtualBiopsy.errors.VirtualBiopsyError` the task raises comes back as the same class.
        :raises CancelledError: when ``cancel`` is set; the worker and its descendants are stopped first.
        :raises ModelError: when the task fails with another exception or the worker dies without a result.
        """
        request = self._request(task, arguments)
        if cancel:
            cancel.raiseIfCancelled()
        process = self._start()
        worker = _WorkerSession(process, task, progress or noProgress)
        try:
            worker.send(request)
            worker.follow(cancel, self.exitGraceSeconds, self.idle)
        finally:
            status = worker.finish(self.terminateGraceSeconds)
        return worker.outcome(status)

    def _request(self, task: str, arguments: dict[str, Any]) -> bytes:
        if not isinstance(arguments, dict):
            raise InputError(f"Arguments of task {task} must be a dict, got {type(arguments).__name__}.")
        levels = {
            name: item.level
            for name, item in logging.root.manager.loggerDict.items()
            if isinstance(item, logging.Logger) and item.level != logging.NOTSET
        }
        levels[""] = logging.getLogger().getEffectiveLevel()
        try:
            text = json.dumps({"task": task, "arguments": arguments, "logLevels": levels})
        except (TypeError, ValueError) as error:
            raise InputError(
                f"Arguments of task {task} cannot be sent to a worker process: {error}. "
                "Pass plain JSON values (paths as strings, numbers, lists, dicts); images cross as files."
            ) from error
        return text.encode("utf-8")

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        for name, value in self.environment.items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = str(value)
        paths = [str(PACKAGE_PARENT), *self.extraPythonPath]
        if environment.get("PYTHONPATH"):
            paths.append(environment["PYTHONPATH"])
        environment["PYTHONPATH"] = os.pathsep.join(paths)
        return environment

    def _start(self) -> subprocess.Popen:
        command = [self.pythonExecutable, "-m", "VirtualBiopsy.workers.child"]
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environment(),
                close_fds=True,
                **newSessionOptions(),
            )
        except OSError as error:
            raise InputError(
                f"Could not start the worker process {self.pythonExecutable!r}: {error}. Pass the path of a Python "
                "that has VirtualBiopsy's dependencies (inside 3D Slicer, its PythonSlicer executable)."
            ) from error


class _WorkerSession:
    """One running worker: its pipes, reader threads and the messages it has sent."""

    def __init__(self, process: subprocess.Popen, task: str, progress: ProgressCallback) -> None:
        self.task = task
        self.tree = ProcessTree(process)
        self.process = process
        self.progress = progress
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderrTail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.final: dict[str, Any] | None = None
        self.stalled = False
        self.readers = [
            threading.Thread(target=self._readProtocol, args=(process.stdout,), name="workerProtocol", daemon=True),
            threading.Thread(target=self._readStderr, args=(process.stderr,), name="workerStderr", daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def send(self, request: bytes) -> None:
        """Hand the request to the worker; a worker that died first is reported by :meth:`outcome`."""
        stdin = self.process.stdin
        assert stdin is not None, "the worker is started with stdin=PIPE"
        try:
            stdin.write(request)
            stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def follow(self, cancel: CancelToken | None, exitGraceSeconds: float, idle: Callable[[], None] | None) -> None:
        """Relay messages until the worker exits (or lingers after its outcome); raise on cancel."""
        nextSnapshot = 0.0
        deadline: float | None = None
        while True:
            if idle is not None:
                idle()
            if cancel is not None and cancel.cancelled:
                raise CancelledError(
                    f"Task {self.task} was cancelled; its worker process and every process it started were stopped."
                )
            try:
                message = self.messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                message = None
            if message is not None:
                self._handle(message)
            if self.tree.hasExited():
                return
            now = time.monotonic()
            if self.final is not None and deadline is None:
                deadline = now + exitGraceSeconds
            if deadline is not None and now > deadline:
                self.stalled = True
                logger.warning(
                    "The worker of task %s did not exit within %.1f s of reporting its outcome; stopping it.",
                    self.task,
                    exitGraceSeconds,
                )
                return
            if now >= nextSnapshot:
                self.tree.remember()
                nextSnapshot = now + SNAPSHOT_SECONDS

    def finish(self, graceSeconds: float) -> int:
        """Stop whatever is left of the process tree, collect the remaining output; return the exit status."""
        status = self.tree.stop(graceSeconds)
        for reader, stream in zip(self.readers, (self.process.stdout, self.process.stderr)):
            reader.join(timeout=2.0)
            if not reader.is_alive() and stream is not None:
                stream.close()
        return status

    def outcome(self, status: int) -> dict[str, Any]:
        """The task's result after the worker has ended, or the error it reported or died of."""
        while not self.messages.empty():
            self._handle(self.messages.get_nowait())
        if self.final is None:
            raise ModelError(
                f"The worker process of task {self.task} {describeStatus(status)} without reporting a result. "
                f"Last lines of its error output:\n{self._tail()}"
            )
        if self.final["kind"] == "result":
            if status != 0 and not self.stalled:
                logger.warning(
                    "The worker of task %s %s after returning its result.", self.task, describeStatus(status)
                )
            return self.final.get("result") or {}
        error = decodeError(self.final, self.task)
        if self.final.get("errorKind") == "exception":
            logger.error(
                "Task %s failed in its worker process; traceback (last lines):\n%s",
                self.task,
                self.final.get("traceback", ""),
            )
        else:
            logger.debug("Task %s raised in its worker:\n%s", self.task, self.final.get("traceback", ""))
        raise error

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "progress":
            self.progress(float(message.get("fraction", 0.0)), str(message.get("message", "")))
        elif kind == "log":
            record = decodeLogRecord(message)
            target = logging.getLogger(record.name)
            if target.isEnabledFor(record.levelno):
                target.handle(record)
        elif kind in ("result", "error") and self.final is None:
            self.final = message

    def _readProtocol(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                logger.warning("Ignored a line the worker of task %s wrote that is not protocol JSON.", self.task)
                continue
            if isinstance(message, dict):
                self.messages.put(message)

    def _readStderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            text = line.decode("utf-8", errors="replace").rstrip()
            self.stderrTail.append(text)
            logger.debug("worker %d: %s", self.process.pid, text)

    def _tail(self) -> str:
        return "\n".join(self.stderrTail) or "(nothing)"


def describeStatus(status: int) -> str:
    """``"exited with status 3"`` or ``"was killed by signal SIGKILL (9)"``, with a hint for SIGKILL."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = "unknown"
    hint = " (often the system's out-of-memory killer)" if name == "SIGKILL" else ""
    return f"was killed by signal {name} ({-status}){hint}"
