"""The run ledger: an append-only journal per case of what each pipeline stage did, that survives a crash.

A run folder holds ``ledger/<case>.jsonl``: one JSON object per line, one line per event (a stage ``started``,
``done`` or ``failed``). A line is committed when its final ``"\\n"`` is on disk: it is written with one
``os.write`` on a file opened ``O_APPEND`` and then ``os.fsync``-ed, so killing the process at any moment leaves
every earlier line intact and at most one unterminated fragment at the end. Readers ignore that fragment (with a
warning) and the next :meth:`RunLedger.record` cuts it off before appending, so the journal stays parseable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import math
import os
import pathlib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import sha256File

logger = logging.getLogger(__name__)

#: The statuses a ledger entry may have.
STATUSES = ("started", "done", "failed")

_SAFE_CASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    """One event of one stage of one case.

    :ivar case: the case id (a safe file name: letters, digits, ``.``, ``_``, ``-``).
    :ivar stage: the stage name, e.g. ``"extract"``.
    :ivar status: ``started``, ``done`` or ``failed``.
    :ivar inputs: SHA-256 of each input, by a name the caller chooses.
    :ivar settingsHash: :func:`hashSettings` of the stage's settings.
    :ivar outputs: SHA-256 of each output file, by its path relative to the run folder (``/`` separators).
    :ivar seconds: wall time the stage took (the caller measures it with ``time.perf_counter``).
    :ivar peakMemoryBytes: peak resident memory of the process, see :func:`processPeakMemoryBytes`.
    :ivar error: what went wrong, for ``failed``.
    :ivar time: when the event was recorded (UTC, ISO 8601).
    """

    case: str
    stage: str
    status: str
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)
    settingsHash: str = ""
    outputs: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    peakMemoryBytes: int | None = None
    error: str | None = None
    time: str = dataclasses.field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat())

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first invalid field."""
        requireSafeCase(self.case)
        if not isinstance(self.stage, str) or not self.stage:
            raise InputError(f"Ledger entry stage is {self.stage!r}; give the stage's name, e.g. 'extract'.")
        if self.status not in STATUSES:
            raise InputError(f"Ledger entry status is {self.status!r}; use one of: {', '.join(STATUSES)}.")
        for what, hashes in (("inputs", self.inputs), ("outputs", self.outputs)):
            if not isinstance(hashes, dict) or not all(
                isinstance(key, str) and isinstance(value, str) and _SHA256.fullmatch(value)
                for key, value in hashes.items()
            ):
                raise InputError(f"Ledger entry {what} is {hashes!r}; give {{name: lower-case hex SHA-256}}.")
        for relative in self.outputs:
            requireRelativeOutput(relative)
        if not isinstance(self.seconds, (int, float)) or not math.isfinite(self.seconds) or self.seconds < 0:
            raise InputError(f"Ledger entry seconds is {self.seconds!r}; give a finite duration >= 0.")
        for name, value, kind, wanted in (
            ("settingsHash", self.settingsHash, str, "a hex string"),
            ("peakMemoryBytes", self.peakMemoryBytes, (int, type(None)), "a whole number of bytes or null"),
            ("error", self.error, (str, type(None)), "a message or null"),
            ("time", self.time, str, "an ISO 8601 time"),
        ):
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"Ledger entry {name} is {value!r}; give {wanted}.")

    def toDict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def fromDict(cls, document: Mapping[str, Any]) -> LedgerEntry:
        """Build and validate an entry; unknown or missing keys raise :class:`InputError`."""
        names = {field.name for field in dataclasses.fields(cls)}
        if (
            not isinstance(document, Mapping)
            or set(document) - names
            or not {"case", "stage", "status"} <= set(document)
        ):
            raise InputError(f"Ledger entry {document!r} is not an object with the fields {sorted(names)}.")
        entry = cls(**document)
        entry.validate()
        return entry


def requireSafeCase(case: str) -> str:
    """Return ``case`` if it is a safe journal file name, else raise :class:`InputError`."""
    if not isinstance(case, str) or not _SAFE_CASE.fullmatch(case):
        raise InputError(
            f"Case id {case!r} cannot name a ledger journal; use 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no '..')."
        )
    return case


def requireRelativeOutput(relative: str) -> str:
    """Return ``relative`` if it is a path inside the run folder written with ``/``, else raise :class:`InputError`."""
    parts = relative.split("/")
    if not relative or relative.startswith("/") or "\\" in relative or any(part in ("", ".", "..") for part in parts):
        raise InputError(
            f"Ledger output path {relative!r} is not a plain relative path inside the run folder; "
            "give it relative to the run folder with '/' separators and no '..'."
        )
    return relative


def hashSettings(settings: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``settings`` as canonical JSON (sorted keys, no spaces, UTF-8); NaN and infinities refused."""
    try:
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"Settings {settings!r} cannot be hashed ({error}); use JSON values only (no NaN, no infinities)."
        ) from error
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def processPeakMemoryBytes() -> int | None:
    """Peak resident memory of this process in bytes.

    On Linux ``VmHWM`` from ``/proc/self/status``; elsewhere ``resource.getrusage`` (``ru_maxrss``: KiB on Linux,
    bytes on macOS); ``None`` where neither exists (Windows).
    """
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    try:
        import resource
    except ImportError:
        return None
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024


class RunLedger:
    """The journals of one run folder, ``folder/ledger/<case>.jsonl``.

    :param folder: the run folder; output paths in entries are relative to it.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = pathlib.Path(folder)
        self.journalFolder = self.folder / "ledger"

    def journalPath(self, case: str) -> pathlib.Path:
        """The journal file of ``case`` (whether or not it exists)."""
        return self.journalFolder / f"{requireSafeCase(case)}.jsonl"

    def cases(self) -> list[str]:
        """The cases that have a journal, sorted."""
        if not self.journalFolder.is_dir():
            return []
        return sorted(path.stem for path in self.journalFolder.glob("*.jsonl") if _SAFE_CASE.fullmatch(path.stem))

    def record(self, entry: LedgerEntry) -> None:
        """Append ``entry`` to its case's journal and force it to disk before returning."""
        entry.validate()
        data = (json.dumps(entry.toDict(), sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()
        path = self.journalPath(entry.case)
        self.journalFolder.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        descriptor = os.open(path, flags, 0o666)
        try:
            with _locked(descriptor):
                _cutUncommittedTail(descriptor, path)
                written = os.write(descriptor, data)
                while written < len(data):  # regular files write whole; a short write just continues the line
                    written += os.write(descriptor, data[written:])
                os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if created:
            _syncFolder(self.journalFolder)

    def history(self, case: str) -> list[LedgerEntry]:
        """Every committed entry of ``case``, oldest first (empty if it has no journal).

        An unterminated last line (a write cut short by a crash) is ignored with a warning; any other line that does
        not decode raises :class:`InputError` naming the file and line.
        """
        path = self.journalPath(case)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if lines[-1]:
            logger.warning(
                "Ignoring the unterminated last line %d of %s (%d bytes, a write cut short)",
                len(lines),
                path,
                len(lines[-1]),
            )
        entries = []
        for number, line in enumerate(lines[:-1], start=1):
            try:
                entry = LedgerEntry.fromDict(json.loads(line.decode("utf-8")))
            except (ValueError, TypeError) as error:
                raise InputError(
                    f"Ledger journal {path} line {number} is corrupt ({error}); "
                    "restore the file from a backup or move it away to redo that case."
                ) from error
            if entry.case != case:
                raise InputError(
                    f"Ledger journal {path} line {number} is for case {entry.case!r}; "
                    "move the line to its own case's journal."
                )
            entries.append(entry)
        return entries

    def latest(self, case: str, stage: str) -> LedgerEntry | None:
        """The last entry of ``stage`` for ``case``, or ``None``."""
        return next((entry for entry in reversed(self.history(case)) if entry.stage == stage), None)

    def isDone(self, case: str, stage: str, inputs: Mapping[str, str], settingsHash: str) -> bool:
        """Whether ``stage`` of ``case`` can be skipped: its latest entry is ``done`` with these input hashes and
        settings hash, and every output it recorded still exists with the recorded SHA-256."""
        entry = self.latest(case, stage)
        if entry is None or entry.status != "done":
            return False
        if entry.inputs != dict(inputs) or entry.settingsHash != settingsHash:
            return False
        for relative, digest in entry.outputs.items():
            path = self.folder / relative
            if not path.is_file() or sha256File(path) != digest:
                logger.info("Case %s stage %s redoes: output %s is missing or changed", case, stage, relative)
                return False
        return True

    def hashOutputs(self, paths: Iterable[str | os.PathLike]) -> dict[str, str]:
        """SHA-256 of each output file by its path relative to the run folder, ready for :attr:`LedgerEntry.outputs`.

        :raises InputError: a path is outside the run folder.
        """
        root = self.folder.resolve()
        hashes = {}
        for path in paths:
            absolute = (self.folder / path).resolve()
            if not absolute.is_relative_to(root):
                raise InputError(f"Output {path} is outside the run folder {self.folder}; write outputs inside it.")
            hashes[absolute.relative_to(root).as_posix()] = sha256File(absolute)
        return hashes


@contextlib.contextmanager
def _locked(descriptor: int) -> Iterator[None]:
    """Hold an exclusive lock on an open journal so writers of one case do not interleave (POSIX only)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def _cutUncommittedTail(descriptor: int, path: pathlib.Path) -> None:
    """Remove a fragment after the last ``"\\n"`` (a write a crash cut short), so the next line starts cleanly.

    Only bytes no reader ever accepted are removed: a line is committed by its final ``"\\n"``.
    """
    size = os.fstat(descriptor).st_size
    if size == 0 or _readAt(descriptor, size - 1, 1) == b"\n":
        return
    chunk = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - chunk)
        found = _readAt(descriptor, start, end - start).rfind(b"\n")
        if found >= 0:
            end = start + found + 1
            break
        end = start
    logger.warning("Cutting an unterminated %d-byte fragment off the end of %s before appending", size - end, path)
    os.ftruncate(descriptor, end)


def _readAt(descriptor: int, offset: int, count: int) -> bytes:
    """Read ``count`` bytes at ``offset`` (appends with ``O_APPEND`` go to the end whatever the position)."""
    os.lseek(descriptor, offset, os.SEEK_SET)
    return os.read(descriptor, count)


def _syncFolder(folder: pathlib.Path) -> None:
    """Force a new file's directory entry to disk (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
