"""De-identify a folder tree: walk IN, write OUT (pseudonymous names), in parallel, with reports.

IN is never written. OUT must be new or empty (or, with ``resume``, hold an earlier run's outputs: a file whose
output exists with the same bytes is not written again), and may not be inside IN (nor IN inside OUT). Every file
is read whole, refused (not DICOM, a DICOMDIR, truncated, burned-in) or de-identified and written atomically under
``OUT/<patient pseudonym>/<study UID>/<series UID>/<SOP instance UID>.dcm``; the reports are written last
(:mod:`.report`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import time
from collections.abc import Callable

from VirtualBiopsy.dicom.deidentify.instance import TEMPORARY_PREFIX, TEMPORARY_SUFFIX, FileOutcome, processFile
from VirtualBiopsy.dicom.deidentify.profile import ProfileOptions
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms
from VirtualBiopsy.dicom.deidentify.report import writeReports
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.progress import CancelToken, noProgress

#: Files per pool task.
CHUNK = 32


@dataclasses.dataclass
class DeidentificationResult:
    """The outcome of every input file (by relative path), the report paths and the time taken."""

    outcomes: list[FileOutcome]
    reports: dict[str, pathlib.Path]
    seconds: float

    def count(self, status: str) -> int:
        """How many files have ``status`` (written, resumed, flagged, skipped)."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def checkFolders(inFolder: pathlib.Path, outFolder: pathlib.Path, resume: bool) -> tuple[pathlib.Path, pathlib.Path]:
    """The resolved IN and OUT after checking them (before anything is written).

    :raises InputError: for an IN that is not a folder, OUT inside IN or IN inside OUT, OUT a file, or OUT not
        empty without ``resume``.
    """
    source, target = pathlib.Path(inFolder).resolve(), pathlib.Path(outFolder).resolve()
    if not source.is_dir():
        raise InputError(f"DICOM folder {inFolder} does not exist or is not a folder; give the folder of the export.")
    if target == source or source in target.parents:
        raise InputError(
            f"Output folder {outFolder} is inside the DICOM folder {inFolder}, which is never written; give a folder "
            "outside it."
        )
    if target in source.parents:
        raise InputError(
            f"DICOM folder {inFolder} is inside the output folder {outFolder}; give an output folder outside it."
        )
    if target.exists() and not target.is_dir():
        raise InputError(f"Output folder {outFolder} is a file; give the path of a new or empty folder.")
    if target.is_dir() and any(target.iterdir()) and not resume:
        raise InputError(
            f"Output folder {outFolder} is not empty; nothing was written. Give a new or empty folder, or --resume to "
            "continue an interrupted run with the same key and options."
        )
    return source, target


def deidentifyFolder(
    inFolder: str | os.PathLike,
    outFolder: str | os.PathLike,
    key: bytes,
    options: ProfileOptions | None = None,
    *,
    resume: bool = False,
    workers: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: CancelToken | None = None,
) -> DeidentificationResult:
    """De-identify every file under ``inFolder`` into ``outFolder`` (see the module text).

    :param key: the secret of the keyed pseudonyms (:func:`.keyFile.readKey`).
    :param workers: processes (default: the CPU count, at most 8); 1 works in this process.
    :raises InputError: from :func:`checkFolders`.
    :raises CancelledError: when ``cancel`` is cancelled (the files written so far stay; ``resume`` continues).
    """
    requirePackage("pydicom")
    options = options or ProfileOptions()
    source, target = checkFolders(pathlib.Path(inFolder), pathlib.Path(outFolder), resume)
    progress = progress or noProgress
    started = time.perf_counter()
    relatives = sorted(
        path.relative_to(source).as_posix() for path in source.rglob("*") if path.is_file() or path.is_symlink()
    )
    target.mkdir(parents=True, exist_ok=True)
    if resume:
        for stale in target.rglob(f"{TEMPORARY_PREFIX}*{TEMPORARY_SUFFIX}"):
            stale.unlink(missing_ok=True)
    chunks = [relatives[start : start + CHUNK] for start in range(0, len(relatives), CHUNK)]
    workers = max(1, min(workers or min(os.cpu_count() or 1, 8), len(chunks) or 1))
    outcomes: list[FileOutcome] = []
    progress(0.0, f"de-identifying {len(relatives)} files")
    if workers == 1:
        for number, chunk in enumerate(chunks, start=1):
            if cancel is not None:
                cancel.raiseIfCancelled()
            outcomes += processChunk(str(source), str(target), key, options, chunk, resume)
            progress(number / len(chunks), f"{len(outcomes)} of {len(relatives)} files")
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(processChunk, str(source), str(target), key, options, c, resume) for c in chunks]
            try:
                for number, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                    if cancel is not None:
                        cancel.raiseIfCancelled()
                    outcomes += future.result()
                    progress(number / len(chunks), f"{len(outcomes)} of {len(relatives)} files")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    outcomes.sort(key=lambda outcome: outcome.relative)
    reports = writeReports(outcomes, target, Pseudonyms(key))
    return DeidentificationResult(outcomes, reports, time.perf_counter() - started)


def processChunk(
    source: str, target: str, key: bytes, options: ProfileOptions, relatives: list[str], resume: bool
) -> list[FileOutcome]:
    """:func:`~.instance.processFile` of each path (one task of the pool)."""
    pseudonyms = Pseudonyms(key)
    return [
        processFile(pathlib.Path(source), pathlib.Path(target), relative, pseudonyms, options, resume)
        for relative in relatives
    ]
