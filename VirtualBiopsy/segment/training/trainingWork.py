"""The work folder of an nnU-Net training, kept when the training stops so that it can resume.

``<out>.partial-work`` (:func:`~VirtualBiopsy.resumableWork.workFolderOf`) beside the trained-model folder ``out`` holds the exported raw
dataset (``raw/``), nnU-Net's preprocessed data and results (``nnunet/``, with the per-epoch checkpoints of
:mod:`.nnunetCheckpoints`) and ``resume.json``: the training's settings and the SHA-256 of the exported dataset.
A training resumes only with the same settings and the same exported cases; the model folder ``out`` is
written only at the end, so it appears complete or not at all, and the work folder is removed after it.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import sha256File, writeTextAtomically
from VirtualBiopsy.resumableWork import discardWork as discardWorkEntries
from VirtualBiopsy.resumableWork import workFolderOf

RECORD_NAME = "resume.json"
#: The work folder's sub-folders: the export, a resumed run's export to compare, nnU-Net's folders.
RAW, RAW_CHECK, NNUNET = "raw", "raw-check", "nnunet"
#: Written in ``nnunet/`` once nnU-Net's planning and preprocessing are complete.
PREPARED_NAME = "prepared.json"
_FORMAT = 1


def datasetSha256(folder: pathlib.Path) -> str:
    """One SHA-256 of an exported dataset folder: every file's relative path and content, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256File(path)}\n".encode())
    return digest.hexdigest()


def startedTraining(work: pathlib.Path) -> dict[str, Any] | None:
    """The ``resume.json`` record of a training started in ``work``, or ``None`` when there is none.

    :raises InputError: when the record is damaged (the fix: ``--restart``).
    """
    path = work / RECORD_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(
            f"The training record {path} cannot be read ({error}); pass --restart to discard {work} and train "
            "from the start."
        ) from error
    if not isinstance(record, dict) or record.get("format") != _FORMAT or not isinstance(record.get("settings"), dict):
        raise InputError(
            f"{path} is not a training record of format {_FORMAT}; pass --restart to discard {work} and train "
            "from the start."
        )
    return record


def recordTraining(work: pathlib.Path, settings: dict[str, Any], dataset: str) -> None:
    """Write ``resume.json`` (the settings and the exported dataset's SHA-256) atomically."""
    record = {"format": _FORMAT, "settings": settings, "datasetSha256": dataset}
    writeTextAtomically(json.dumps(record, indent=2) + "\n", work / RECORD_NAME)


def requireSameTraining(record: dict[str, Any], settings: dict[str, Any], dataset: str, work: pathlib.Path) -> None:
    """Refuse to resume a training started with other settings or other training cases.

    :raises InputError: naming what differs and the two ways on.
    """
    saved = record["settings"]
    differences = [
        f"{name} {saved.get(name)!r} → {settings.get(name)!r}"
        for name in sorted(set(saved) | set(settings))
        if saved.get(name) != settings.get(name)
    ]
    if record.get("datasetSha256") != dataset:
        differences.append("the training cases (their images, masks or number)")
    if differences:
        raise InputError(
            f"The training in {work} was started with other settings or cases ({'; '.join(differences)}), so it "
            "cannot be resumed with these. Resume with the options and cases it was started with, or pass "
            "--restart to discard it and train from the start."
        )


def openWorkFolder(out: pathlib.Path, resume: bool) -> tuple[pathlib.Path, dict[str, Any] | None]:
    """The work folder of ``out`` and the record of the training to resume (``None``: start afresh).

    A work folder without a record (a run stopped before its export was complete) holds nothing to resume and
    is discarded (:func:`discardWork`).

    :raises InputError: for a started training without ``resume``.
    """
    work = workFolderOf(out)
    record = startedTraining(work) if work.is_dir() else None
    if record is not None and not resume:
        raise InputError(
            f"A stopped or killed training of {out} left its work in {work}. Resume it with --resume (and the "
            "options and cases it was started with), or pass --restart to discard it and train from the start."
        )
    if record is None and work.exists():
        discardWork(work)
    return work, record


def hasReusableWork(work: pathlib.Path) -> bool:
    """Whether a stopped training left something a resumed one reuses: complete preprocessing (and perhaps
    finished epochs). Without it the work folder is discarded after a failure."""
    return (work / NNUNET / PREPARED_NAME).is_file()


def discardWork(work: pathlib.Path) -> None:
    """Remove what a training wrote in ``work``, then the folder if that leaves it empty (a file someone else
    put there stays, and so does the folder)."""
    discardWorkEntries(work, [RAW, RAW_CHECK, NNUNET, RECORD_NAME], [".resume.*.partial.json"])
