"""The run folder's identity (``run.json``): which manifest, clinical table and settings its results belong to.

A folder is never silently reused for another cohort or other settings: the same command again continues the
run (finished work is skipped), ``--resume`` accepts a change (only what it affects is redone, the previous
identity is kept in ``history``), anything else is refused with the fix. One run at a time holds the folder.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import pathlib
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from VirtualBiopsy.cohort.caseTask import inputHash
from VirtualBiopsy.cohort.ledger import hashSettings
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import writeTextAtomically

RUN_FILE = "run.json"
_LOCK_FILE = ".run.lock"


@dataclass(frozen=True)
class RunIdentity:
    """What a run folder's results belong to."""

    manifest: str
    manifestSha256: str
    clinical: str | None
    clinicalSha256: str | None
    settingsSha256: str

    @classmethod
    def of(cls, manifest: pathlib.Path, clinical: pathlib.Path | None, settings: dict[str, Any]) -> RunIdentity:
        return cls(
            manifest=str(manifest.resolve()),
            manifestSha256=inputHash(manifest),
            clinical=str(clinical.resolve()) if clinical else None,
            clinicalSha256=inputHash(clinical) if clinical else None,
            settingsSha256=hashSettings(settings),
        )

    def differences(self, other: dict[str, Any]) -> list[str]:
        """What differs from a recorded identity, for people."""
        names = {
            "manifest": "the manifest's path",
            "manifestSha256": "the manifest's content",
            "clinical": "the clinical table's path",
            "clinicalSha256": "the clinical table's content",
            "settingsSha256": "the pipeline settings",
        }
        return [label for key, label in names.items() if other.get(key) != getattr(self, key)]


def inspectRunFolder(folder: pathlib.Path, identity: RunIdentity, resume: bool) -> str:
    """Whether ``folder`` may hold a run of ``identity``, without writing anything.

    :returns: ``"new"``, ``"same"`` (the same run again) or ``"resumed"`` (a changed run, with ``resume``).
    :raises InputError: the folder is a file, holds something else, holds another run without ``resume``,
        or ``resume`` finds no run to continue.
    """
    runFile = folder / RUN_FILE
    if folder.exists() and not folder.is_dir():
        raise InputError(f"Output folder {folder} is a file; give a new or empty folder, or a run folder.")
    if not runFile.is_file():
        if folder.is_dir() and any(entry.name != _LOCK_FILE for entry in folder.iterdir()):
            raise InputError(
                f"Output folder {folder} is not empty and holds no run ({RUN_FILE} is missing); nothing in it is "
                "overwritten. Give a new or empty folder."
            )
        if resume:
            raise InputError(f"--resume: {folder} holds no run to resume; drop --resume to start one there.")
        return "new"
    differences = identity.differences(_recorded(runFile))
    if not differences:
        return "same"
    if not resume:
        raise InputError(
            f"Output folder {folder} holds a run with other inputs ({', '.join(differences)} changed); nothing "
            "was overwritten. To update that run and redo only what the change affects, add --resume; to keep "
            "it, give another --out."
        )
    return "resumed"


def openRunFolder(folder: pathlib.Path, identity: RunIdentity, resume: bool) -> str:
    """:func:`inspectRunFolder`, then record ``identity`` in ``run.json`` (a changed run keeps the previous
    identity in ``history``).

    :returns: ``"new"``, ``"same"`` or ``"resumed"``.
    """
    state = inspectRunFolder(folder, identity, resume)
    if state == "new":
        _writeIdentity(folder, identity, history=[])
    elif state == "resumed":
        recorded = _recorded(folder / RUN_FILE)
        previous = {key: value for key, value in recorded.items() if key != "history"}
        _writeIdentity(folder, identity, history=[*recorded.get("history", []), previous])
    return state


def _recorded(runFile: pathlib.Path) -> dict[str, Any]:
    try:
        recorded = json.loads(runFile.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InputError(f"{runFile} is corrupt ({error}); restore it, or give a new output folder.") from error
    if not isinstance(recorded, dict) or not isinstance(recorded.get("history", []), list):
        raise InputError(f"{runFile} is corrupt (not a run record); restore it, or give a new output folder.")
    return recorded


@contextlib.contextmanager
def runFolderLock(folder: pathlib.Path) -> Iterator[None]:
    """Hold ``folder`` for one run; a second run on it at the same time is refused (POSIX; not enforced on Windows)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK_FILE, "a+b") as handle:
        if sys.platform != "win32":
            import fcntl

            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise InputError(
                    f"Another run is using {folder} now; wait for it to finish, or give another --out."
                ) from error
        yield


def _writeIdentity(folder: pathlib.Path, identity: RunIdentity, history: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        **asdict(identity),
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "history": history,
    }
    writeTextAtomically(json.dumps(document, indent=2) + "\n", folder / RUN_FILE)
