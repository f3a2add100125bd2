"""Index a DICOM folder tree: one row per series, classified and curated, from headers only.

:func:`indexFolder` lists every file under the folder, reads the headers (no pixel
data, :mod:`.headers`: a byte parser for the common file, pydicom for the rest) in
a process pool (chunks of :data:`CHUNK` files, compact tuples back; faster than
threads: parsing holds the GIL), groups the files by ``SeriesInstanceUID`` and
gives each series its class (:mod:`.classification`) and curation flags
(:mod:`.curation`, plus the folder and reference flags set here). Files that are
not DICOM images or objects are listed per file with the reason. Nothing in the
input folder is written.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any

from VirtualBiopsy.dicom.classification import classify
from VirtualBiopsy.dicom.curation import curationFlags, sliceSpacing
from VirtualBiopsy.dicom.headers import headerFromTuple, readHeaders
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.progress import CancelToken, noProgress

#: Files per pool task.
CHUNK = 64


@dataclasses.dataclass
class SeriesRow:
    """One series of the index. ``folders`` are relative to the indexed folder; ``flags`` map name → reason."""

    patientId: str
    studyUid: str
    seriesUid: str
    studyDate: str
    modality: str
    description: str
    sequence: str
    confidence: float
    reason: str
    flags: dict[str, str]
    files: int
    folders: list[str]
    seriesNumber: Any = None
    rows: Any = None
    columns: Any = None
    pixelSpacing: Any = None
    sliceThickness: Any = None
    sliceSpacing: float | None = None
    orientation: Any = None
    repetitionTime: Any = None
    echoTime: Any = None
    inversionTime: Any = None
    flipAngle: Any = None
    fieldStrength: Any = None
    contrastAgent: Any = None
    bValues: tuple[float, ...] = ()
    timePoints: int = 0
    frameOfReference: str = ""
    references: tuple[str, ...] = ()
    firstFile: str = ""


@dataclasses.dataclass
class DicomIndex:
    """The series of a folder (sorted by patient, study, series number) and the files that are not DICOM images."""

    folder: pathlib.Path
    series: list[SeriesRow]
    skipped: list[tuple[str, str]]
    files: int
    seconds: float


def indexFolder(
    folder: pathlib.Path | str,
    workers: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: CancelToken | None = None,
    threads: bool = False,
) -> DicomIndex:
    """Index every file under ``folder`` from its header.

    :param workers: pool size (default: the CPU count, at most 8); 1 reads in this process.
    :param threads: a thread pool instead of processes (for benchmarks).
    :raises InputError: for a folder that does not exist or is not a folder.
    :raises CancelledError: when ``cancel`` is cancelled.
    """
    requirePackage("pydicom")
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise InputError(f"DICOM folder {folder} does not exist or is not a folder; give the folder of the export.")
    progress = progress or noProgress
    started = time.perf_counter()
    paths = listFiles(folder)
    chunks = [paths[start : start + CHUNK] for start in range(0, len(paths), CHUNK)]
    workers = max(1, min(workers or min(os.cpu_count() or 1, 8), len(chunks) or 1))
    headers: list[dict[str, Any]] = []
    progress(0.0, f"reading {len(paths)} DICOM headers")
    if workers == 1:
        for number, chunk in enumerate(chunks, start=1):
            if cancel is not None:
                cancel.raiseIfCancelled()
            headers += map(headerFromTuple, readHeaders(chunk))
            progress(number / len(chunks), f"read {len(headers)} of {len(paths)} headers")
    else:
        poolType = concurrent.futures.ThreadPoolExecutor if threads else concurrent.futures.ProcessPoolExecutor
        with poolType(max_workers=workers) as pool:
            futures = [pool.submit(readHeaders, chunk) for chunk in chunks]
            try:
                for number, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                    if cancel is not None:
                        cancel.raiseIfCancelled()
                    headers += map(headerFromTuple, future.result())
                    progress(number / len(chunks), f"read {len(headers)} of {len(paths)} headers")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    series, skipped = _group(headers, folder)
    return DicomIndex(folder, series, skipped, len(paths), time.perf_counter() - started)


def listFiles(folder: pathlib.Path) -> list[str]:
    """Every file under ``folder`` (links to files included; linked folders are not entered), sorted."""
    paths: list[str] = []
    pending = [str(folder)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file():
                    paths.append(entry.path)
    return sorted(paths)


def _group(headers: list[dict[str, Any]], folder: pathlib.Path) -> tuple[list[SeriesRow], list[tuple[str, str]]]:
    relative: dict[str, str] = {}
    for header in headers:
        name = os.path.dirname(header["path"])
        if name not in relative:
            relative[name] = _relative(name, folder)
        header["folder"] = relative[name]
        base = os.path.basename(header["path"])
        header["file"] = base if header["folder"] == "." else f"{header['folder']}/{base}"
    skipped = sorted((h["file"], h["problem"]) for h in headers if "problem" in h)
    bySeries: dict[str, list[dict[str, Any]]] = {}
    for header in headers:
        if "problem" not in header:
            bySeries.setdefault(header["SeriesInstanceUID"], []).append(header)
    seriesOfFolder: dict[str, set[str]] = {}
    for uid, files in bySeries.items():
        for header in files:
            seriesOfFolder.setdefault(header["folder"], set()).add(uid)
    rows = [_row(files, seriesOfFolder) for files in bySeries.values()]
    rows.sort(key=lambda row: (row.patientId, row.studyUid, str(row.seriesNumber).zfill(6), row.seriesUid))
    referenceFlags(rows)
    return rows, skipped


def referenceFlags(rows: list[SeriesRow]) -> None:
    """Flag objects (RTSTRUCT, SEG) whose referenced series is absent (``reference_missing``) and SEGs whose frame
    of reference differs from their referenced series' (``frame_of_reference_mismatch``)."""
    byUid = {row.seriesUid: row for row in rows}
    for row in rows:
        if row.modality not in ("RTSTRUCT", "SEG") and not row.references:
            continue
        absent = [uid for uid in row.references if uid not in byUid]
        if row.modality in ("RTSTRUCT", "SEG") and not row.references:
            row.flags["reference_missing"] = f"the {row.modality} names no referenced series"
        elif absent:
            row.flags["reference_missing"] = (
                f"the {row.modality} references series {', '.join(absent)}, absent from the export"
            )
        if row.modality != "SEG":
            continue
        for uid in row.references:
            if uid in byUid and byUid[uid].frameOfReference != row.frameOfReference:
                row.flags["frame_of_reference_mismatch"] = (
                    f"the SEG's FrameOfReferenceUID {row.frameOfReference or '(none)'} differs from "
                    f"{byUid[uid].frameOfReference or '(none)'} of its referenced series {uid}"
                )


def _row(files: list[dict[str, Any]], seriesOfFolder: dict[str, set[str]]) -> SeriesRow:
    files.sort(key=lambda h: (h.get("InstanceNumber") or 0, h["path"]))
    first = files[0]
    classification = classify(files)
    flags = curationFlags(files)
    folders = sorted({h["folder"] for h in files})
    if len(folders) > 1:
        flags["spread_folders"] = f"the series' files are in {len(folders)} folders: {', '.join(folders)}"
    shared = sorted(name for name in folders if len(seriesOfFolder[name]) > 1)
    if shared:
        flags["shared_folder"] = (
            f"folder {shared[0]} also holds files of {len(seriesOfFolder[shared[0]]) - 1} other series"
        )
    references = tuple(dict.fromkeys(uid for h in files for uid in h.get("references", ())))
    return SeriesRow(
        patientId=str(first.get("PatientID", "")), studyUid=str(first.get("StudyInstanceUID", "")),
        studyDate=str(first.get("StudyDate", "")),
        seriesUid=first["SeriesInstanceUID"], modality=str(first.get("Modality", "")),
        description=str(first.get("SeriesDescription", "")), sequence=classification.sequence,
        confidence=classification.confidence, reason=classification.reason, flags=flags, files=len(files),
        folders=folders, seriesNumber=first.get("SeriesNumber"), rows=first.get("Rows"), columns=first.get("Columns"),
        pixelSpacing=first.get("PixelSpacing"), sliceThickness=first.get("SliceThickness"),
        sliceSpacing=sliceSpacing(files), orientation=first.get("ImageOrientationPatient"),
        repetitionTime=first.get("RepetitionTime"), echoTime=first.get("EchoTime"),
        inversionTime=first.get("InversionTime"), flipAngle=first.get("FlipAngle"),
        fieldStrength=first.get("MagneticFieldStrength"), contrastAgent=first.get("ContrastBolusAgent"),
        bValues=classification.bValues, timePoints=classification.timePoints,
        frameOfReference=str(first.get("FrameOfReferenceUID", "")), references=references,
        firstFile=first["file"],
    )  # fmt: skip


def _relative(path: str, folder: pathlib.Path) -> str:
    relative = os.path.relpath(path, folder)
    return "." if relative == "." else pathlib.PurePath(relative).as_posix()
