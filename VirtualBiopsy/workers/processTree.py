"""A worker process and every process it starts, stopped together.

The worker starts in a session (process group) of its own, so one signal to the
group reaches it and its descendants even after they are orphaned; descendants
that leave the group (``setsid``) are caught by remembering the process tree
(psutil) while the worker runs. The worker is not reaped before the group is
signalled, so its pid, the group's id, cannot be reused in between.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import psutil

logger = logging.getLogger(__name__)

#: Seconds between checks while waiting for processes to end.
WAIT_STEP_SECONDS = 0.02


def newSessionOptions() -> dict:
    """Keyword arguments for :class:`subprocess.Popen` that start the process in a group of its own."""
    if sys.platform == "win32":  # sys.platform, not os.name: type checkers know the flag exists only there
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


class ProcessTree:
    """The process ``process`` (started with :func:`newSessionOptions`) and its descendants."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._process = process
        self._descendants: set[psutil.Process] = set()
        self._exitStatus: int | None = None

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self._process.pid

    def remember(self) -> None:
        """Record the worker's current descendants, so that they are stopped even if they leave its group."""
        if self.hasExited():
            return
        try:
            self._descendants.update(psutil.Process(self.pid).children(recursive=True))
        except psutil.Error:
            pass

    def hasExited(self) -> bool:
        """Whether the worker has ended; it is left unreaped (a zombie) until :meth:`stop`."""
        if self._exitStatus is not None:
            return True
        if os.name != "posix":
            return self._process.poll() is not None
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None and info.si_pid == self.pid

    def stop(self, graceSeconds: float) -> int:
        """End the worker and its descendants (terminate, then kill after ``graceSeconds``); return its exit status.

        The status is the worker's exit code, or minus the signal that ended it (as :attr:`subprocess.Popen.returncode`).
        """
        if self._exitStatus is not None:
            return self._exitStatus
        self.remember()
        self._signal(signal.SIGTERM)
        if not self._waitForAll(graceSeconds):
            logger.debug(
                "Worker process tree of pid %d still running after %.1f s; killing it.", self.pid, graceSeconds
            )
        self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
        if not self._waitForAll(max(graceSeconds, 2.0)):
            logger.warning("Some processes started by worker %d did not end after being killed.", self.pid)
        self._exitStatus = self._process.wait()
        return self._exitStatus

    def _signal(self, signalNumber: int) -> None:
        if os.name == "posix":
            try:
                os.killpg(self.pid, signalNumber)  # the group outlives its leader while members remain
            except (ProcessLookupError, PermissionError):
                pass
            if not self.hasExited():
                try:
                    os.kill(self.pid, signalNumber)
                except ProcessLookupError:
                    pass
        elif self._process.poll() is None:
            self._process.kill()
        for descendant in self._descendants:
            try:
                if os.name == "posix":
                    descendant.send_signal(signalNumber)
                else:
                    descendant.kill()
            except psutil.Error:
                pass

    def _waitForAll(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if self.hasExited() and not any(_isAlive(descendant) for descendant in self._descendants):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_STEP_SECONDS)


def _isAlive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
