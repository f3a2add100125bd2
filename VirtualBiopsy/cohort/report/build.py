"""Build the report of a run folder: every page written into a staging folder, which then replaces
``DIR/report`` (a reader sees the old report or the new one, never a half-written one)."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable

from VirtualBiopsy.cohort.report import html
from VirtualBiopsy.cohort.report.cohortPage import cohortPage, guarded
from VirtualBiopsy.cohort.report.patientPage import patientPage
from VirtualBiopsy.cohort.report.runFolder import CaseRecord, RunFolder, readRunFolder
from VirtualBiopsy.files import stagedOutputFolder, writeTextAtomically
from VirtualBiopsy.progress import ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: The report's folder inside the run folder.
REPORT_FOLDER = "report"


def buildReport(
    runFolder: str | os.PathLike, progress: ProgressCallback | None = None, complete: bool | None = None
) -> pathlib.Path:
    """Write ``runFolder/report/index.html`` and ``report/patients/<patient>.html`` from what the run folder holds
    (a finished or partial run), replacing any earlier report only once the new one is complete.

    :param complete: whether the run has finished; default: what its completion marker says (the run itself passes
        ``True``, as it builds the report after its results and before its marker).

    :returns: the path of ``index.html``.
    :raises InputError: when ``runFolder`` is not a run folder.
    """
    progress = progress or noProgress
    run = readRunFolder(runFolder)
    if complete is not None:
        run.complete = complete
    target = run.folder / REPORT_FOLDER
    progress(0.0, "Cohort page")
    staged = pathlib.Path(tempfile.mkdtemp(prefix=f".{REPORT_FOLDER}.", suffix=".new", dir=run.folder))
    try:
        with stagedOutputFolder(staged / REPORT_FOLDER, "Report folder") as staging:
            writeTextAtomically(cohortPage(run), staging / "index.html")
            (staging / "patients").mkdir()
            names = [html.patientFileName(case.patient) for case in run.cases]
            for index, case in enumerate(run.cases):
                progress((index + 1) / (len(run.cases) + 1), f"Patient {case.patient}")
                neighbours = (names[index - 1] if index else None, names[index + 1] if index + 1 < len(names) else None)
                page = guarded(f"Page of {case.patient}", _pageBuilder(case, neighbours), run)
                if not page.startswith("<!DOCTYPE"):
                    page = html.page(
                        f"Patient {case.patient}", run.folder.name, [("../index.html", "← Cohort report")], page
                    )
                writeTextAtomically(page, staging / "patients" / names[index])
        _replace(staged / REPORT_FOLDER, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    progress(1.0, "Report written")
    return target / "index.html"


def _pageBuilder(case: CaseRecord, neighbours: tuple[str | None, str | None]) -> Callable[[RunFolder], str]:
    def build(run: RunFolder) -> str:
        return patientPage(run, case, neighbours)

    return build


def _replace(new: pathlib.Path, target: pathlib.Path) -> None:
    """Put the complete folder ``new`` in the place of ``target``: the old report is moved aside (one rename), the
    new one moved in (one rename), then the old one removed."""
    old = None
    if target.exists():
        old = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)) / target.name
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
