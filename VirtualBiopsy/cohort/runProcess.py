"""The background process of a cohort run started from a panel: ``virtual-biopsy run`` in its own session, so
Cancel stops the whole process tree; its output goes to a log file, polled without waiting.

Kept free of psutil at import (:mod:`VirtualBiopsy.workers.processTree` is imported when a process starts).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from VirtualBiopsy.cohort.runRequest import PACKAGE_PARENT, CohortRunRequest
from VirtualBiopsy.errors import InputError

if TYPE_CHECKING:
    from VirtualBiopsy.workers.processTree import ProcessTree


class CohortRunProcess:
    """A command running in a process session of its own, polled rather than waited for.

    Its output (stdout and stderr) goes to a temporary file read by :meth:`output`. :meth:`stop` asks it to
    end like Ctrl-C does (SIGINT, so the run records where it stopped); :meth:`poll` then stops what is left
    of its process tree, and the whole tree at once once ``graceSeconds`` have passed.
    """

    def __init__(
        self, command: list[str], environment: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        from VirtualBiopsy.workers.processTree import ProcessTree, newSessionOptions

        descriptor, logPath = tempfile.mkstemp(prefix="VirtualBiopsy-run-", suffix=".log")
        os.close(descriptor)
        self.logPath = pathlib.Path(logPath)
        self.command = list(command)
        self._status: int | None = None
        self._stopDeadline: float | None = None
        try:
            with open(self.logPath, "ab") as log:
                process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(environment) if environment is not None else None,
                    cwd=cwd,
                    close_fds=True,
                    **newSessionOptions(),
                )
        except OSError as error:
            self.logPath.unlink(missing_ok=True)
            raise InputError(
                f"Could not start {command[0]!r}: {error}. Inside 3D Slicer the run uses its PythonSlicer executable."
            ) from error
        self._tree: ProcessTree = ProcessTree(process)

    @classmethod
    def start(
        cls, request: CohortRunRequest, pythonExecutable: str | None = None, check: bool = False
    ) -> CohortRunProcess:
        """Start ``virtual-biopsy run`` (``--check`` when ``check``) for ``request`` with ``pythonExecutable``,
        with this library first on its ``PYTHONPATH``."""
        environment = dict(os.environ)
        paths = [str(PACKAGE_PARENT), *([environment["PYTHONPATH"]] if environment.get("PYTHONPATH") else [])]
        environment["PYTHONPATH"] = os.pathsep.join(paths)
        environment["PYTHONUNBUFFERED"] = "1"
        return cls(request.command(pythonExecutable, check), environment)

    @property
    def pid(self) -> int:
        """The process id (also its process group's)."""
        return self._tree.pid

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopDeadline is not None

    def poll(self, graceSeconds: float = 1.0) -> int | None:
        """The exit status once the process has ended (its leftover descendants stopped), else ``None``.

        The status is the exit code, or minus the signal that ended the process.
        """
        if self._status is not None:
            return self._status
        exited = self._tree.hasExited()
        if not exited:
            self._tree.remember()
        if exited or (self._stopDeadline is not None and time.monotonic() >= self._stopDeadline):
            self._status = self._tree.stop(graceSeconds)
        return self._status

    def stop(self, graceSeconds: float = 5.0) -> None:
        """Ask the process to end (SIGINT) and have :meth:`poll` stop its whole tree after ``graceSeconds``."""
        if self._status is not None or self._stopDeadline is not None:
            return
        self._tree.remember()
        self._stopDeadline = time.monotonic() + graceSeconds
        if os.name == "posix":
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        else:
            self._stopDeadline = time.monotonic()

    def kill(self, graceSeconds: float = 1.0) -> int:
        """Stop the process and its descendants now (SIGTERM, SIGKILL after ``graceSeconds``); its exit status."""
        if self._status is None:
            self._status = self._tree.stop(graceSeconds)
        return self._status

    def output(self) -> str:
        """What the process has written so far (stdout and stderr together)."""
        try:
            return self.logPath.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        """Kill the process if it still runs and remove its output file."""
        self.kill()
        self.logPath.unlink(missing_ok=True)
