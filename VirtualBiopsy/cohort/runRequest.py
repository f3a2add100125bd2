"""A cohort run asked for from a panel: the settings of ``virtual-biopsy run`` (``docs/cohort-run.md``), their
checks and the command line (:mod:`~VirtualBiopsy.cohort.runProcess` runs it in the background).

Kept free of pandas, PyYAML and psutil at import: the Outcome module imports this file when it loads
(:mod:`VirtualBiopsy.workers.processTree`, which needs psutil, is imported when a process starts).
"""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

if TYPE_CHECKING:
    pass

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
