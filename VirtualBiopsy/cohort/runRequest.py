"""A cohort run asked for from a panel: the settings of ``virtual-biopsy run`` (``docs/cohort-run.md``), their
checks, the command line, and the background process that runs it.

Kept free of pandas, PyYAML and psutil at import: the Outcome module imports this file when it loads
(:mod:`VirtualBiopsy.workers.processTree`, which needs psutil, is imported when a process starts).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

if TYPE_CHECKING:
    from VirtualBiopsy.workers.processTree import ProcessTree

#: The shipped pipeline presets (``VirtualBiopsy/resources/presets/pipelines/``).
PRESETS = ("demo", "brain-mr", "ct")
#: The module that ``python -m`` runs for the ``virtual-biopsy`` command.
CLI_MODULE = "VirtualBiopsy.cli"
#: The folder that holds the ``VirtualBiopsy`` package; put first on the run's ``PYTHONPATH``.
PACKAGE_PARENT = pathlib.Path(__file__).resolve().parents[2]
#: What a run folder holds once a run has started in it.
RUN_FILE = "run.json"


@dataclass
class CohortRunRequest(StageConfig):
    """The settings of one ``virtual-biopsy run``.

    :ivar manifest: the cohort manifest (CSV).
    :ivar clinical: the clinical table (CSV), or ``""`` for none.
    :ivar preset: a shipped pipeline preset (:data:`PRESETS`); ignored when ``configFile`` is given.
    :ivar configFile: a pipeline settings file (YAML), or ``""`` to use ``preset``.
    :ivar outDir: the run folder: new, empty, or holding a run of the same inputs (see ``resume``).
    :ivar workers: parallel case workers; 1 runs the cases one after the other.
    :ivar resume: continue the run in ``outDir`` even if an input or a setting changed (only what it
        affects is redone).
    """

    manifest: str = ""
    clinical: str = ""
    preset: str = "demo"
    configFile: str = ""
    outDir: str = ""
    workers: int = 1
    resume: bool = False

    def validate(self) -> None:
        """Check every setting against the files it names.

        :raises InputError: naming the setting, its value and the fix.
        """
        requireRange(self, "workers", 1)
        if not self.manifest.strip():
            raise InputError("CohortRunRequest.manifest is empty; choose the cohort manifest (CSV file).")
        _requireFile(self.manifest, "manifest", "choose the cohort manifest (CSV file)")
        if self.clinical.strip():
            _requireFile(self.clinical, "clinical", "choose the clinical table (CSV file) or clear the field")
        if self.configFile.strip():
            _requireFile(self.configFile, "configFile", "choose a pipeline settings file or clear it to use a preset")
            if pathlib.Path(self.configFile).suffix.lower() not in (".yaml", ".yml"):
                raise InputError(
                    f"CohortRunRequest.configFile is '{self.configFile}', not a YAML file; choose a pipeline "
                    "settings file (.yaml or .yml), e.g. one written by 'virtual-biopsy run --print-config'."
                )
        else:
            requireChoice(self, "preset", PRESETS)
        self._validateOutDir()

    def _validateOutDir(self) -> None:
        if not self.outDir.strip():
            raise InputError(
                "CohortRunRequest.outDir is empty; choose the run folder (a new or empty folder, or the folder "
                "of an earlier run)."
            )
        folder = pathlib.Path(self.outDir)
        if folder.exists() and not folder.is_dir():
            raise InputError(f"CohortRunRequest.outDir '{folder}' is a file; choose a folder for the run.")
        holdsRun = (folder / RUN_FILE).is_file()
        if self.resume and not holdsRun:
            raise InputError(
                f"CohortRunRequest.outDir '{folder}' holds no run (no {RUN_FILE}) to resume; uncheck Resume to "
                "start a new run there, or choose the folder of an earlier run."
            )
        if not self.resume and folder.is_dir() and not holdsRun and any(folder.iterdir()):
            raise InputError(
                f"CohortRunRequest.outDir '{folder}' is not empty and holds no run; choose a new or empty folder."
            )

    def arguments(self, check: bool = False) -> list[str]:
        """The arguments of ``virtual-biopsy`` for this run (``run --check`` when ``check``)."""
        arguments = ["run", "--manifest", self.manifest]
        if self.clinical.strip():
            arguments += ["--clinical", self.clinical]
        if self.configFile.strip():
            arguments += ["--config", self.configFile]
        else:
            arguments += ["--preset", self.preset]
        arguments += ["--out", self.outDir]
        if self.workers > 1:
            arguments += ["--workers", str(self.workers)]
        if self.resume:
            arguments.append("--resume")
        if check:
            arguments.append("--check")
        return arguments

    def command(self, pythonExecutable: str | None = None, check: bool = False) -> list[str]:
        """The whole command line: ``python -m VirtualBiopsy.cli run ...``.

        :param pythonExecutable: inside 3D Slicer its ``PythonSlicer``; this Python by default.
        """
        return [str(pythonExecutable or sys.executable), "-m", CLI_MODULE, *self.arguments(check)]


def _requireFile(path: str, name: str, fix: str) -> None:
    if not pathlib.Path(path).is_file():
        raise InputError(f"CohortRunRequest.{name} '{path}' is not an existing file; {fix}.")


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
