"""Entry point of a worker process: ``python -m VirtualBiopsy.workers.child``.

Reads one JSON request from stdin, runs the task it names and answers on the
protocol channel (see :mod:`VirtualBiopsy.workers.protocol`). The channel is the
process's original stdout; file descriptor 1 is then pointed at stderr, so that
whatever the task, its libraries or the processes it starts print cannot corrupt
the protocol.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, TextIO

from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.workers.inlineRunner import resolveTask
from VirtualBiopsy.workers.protocol import encodeError, encodeLogRecord

#: Seconds between checks that the parent process is still there.
PARENT_CHECK_SECONDS = 1.0


class ProtocolChannel:
    """Writes protocol messages as JSON lines; safe to use from several threads."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Write ``message`` as one line and flush it."""
        line = json.dumps(message) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def progress(self, fraction: float, message: str) -> None:
        """The progress callback handed to the task."""
        self.send({"kind": "progress", "fraction": float(fraction), "message": str(message)})


class ProtocolLogHandler(logging.Handler):
    """Sends every log record of the worker to the parent, which hands it to its own loggers."""

    def __init__(self, channel: ProtocolChannel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send(encodeLogRecord(record))
        except Exception:  # noqa: BLE001 - logging must never break the task
            self.handleError(record)


def takeProtocolChannel() -> TextIO:
    """Keep the original stdout for the protocol and send file descriptor 1 (and ``sys.stdout``) to stderr."""
    sys.stdout.flush()
    protocolDescriptor = os.dup(1)  # not inherited by processes the task starts
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocolDescriptor, "w", encoding="utf-8", newline="\n")


def configureLogging(channel: ProtocolChannel, levels: dict[str, int]) -> None:
    """Send log records, and Python warnings as records of ``py.warnings``, to the parent,
    with the levels its loggers have (``""`` is the root)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(ProtocolLogHandler(channel))
    root.setLevel(logging.WARNING)
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(int(level))
    logging.captureWarnings(True)


def watchParent() -> None:
    """End this process and everything it started once its parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        if os.name == "posix":
            os.killpg(0, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="parentWatch", daemon=True).start()


def runRequest(request: dict[str, Any], channel: ProtocolChannel) -> dict[str, Any]:
    """Run the task of ``request`` and return the message that reports its outcome."""
    try:
        task = request["task"]
        function = resolveTask(task)
        result = function(request.get("arguments") or {}, channel.progress)
        if not isinstance(result, dict):
            raise ModelError(
                f"Task {task} returned a {type(result).__name__}, not a dict; a task returns a JSON object."
            )
        try:
            json.dumps(result)
        except (TypeError, ValueError) as error:
            raise ModelError(
                f"Task {task} returned a result that is not JSON ({error}); return paths, numbers and strings."
            ) from error
        return {"kind": "result", "result": result}
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        return encodeError(error)


def main() -> int:
    """Run one request from stdin; the exit status is 0 whenever an outcome was reported."""
    faulthandler.enable()
    channel = ProtocolChannel(takeProtocolChannel())
    watchParent()
    request = json.loads(sys.stdin.read())
    configureLogging(channel, request.get("logLevels") or {})
    outcome = runRequest(request, channel)
    try:
        channel.send(outcome)
    except OSError:
        return 1
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
