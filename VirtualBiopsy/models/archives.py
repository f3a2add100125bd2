"""Safety checks on model folders and zip archives before anything is copied or extracted.

An archive is refused, before a byte is written, for: absolute paths or drive letters, ``..`` or ``.``
components, backslashes, links, devices or pipes, encrypted entries, repeated names (also when they differ only
in case or Unicode form, or when a file name is also used as a folder), more files or bytes than the limits, or
a compression ratio above the limit (zip bombs). Extraction then writes only the checked entries, never more
bytes than each declares, and never over an existing file.
"""

from __future__ import annotations

import lzma
import os
import pathlib
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.hashing import scanTree
from VirtualBiopsy.models.manifest import unsafeRelativePath
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImportLimits:
    """Limits on what an import may unpack.

    :ivar maxTotalBytes: total uncompressed size.
    :ivar maxFiles: number of entries.
    :ivar maxRatio: uncompressed / compressed size, per entry and in total.
    :ivar ratioFloorBytes: sizes below this are not ratio-checked (tiny files compress well).
    """

    maxTotalBytes: int = 32 * 2**30
    maxFiles: int = 10_000
    maxRatio: float = 200.0
    ratioFloorBytes: int = 1 << 20


def checkArchive(path: pathlib.Path, limits: ImportLimits = ImportLimits()) -> list[zipfile.ZipInfo]:
    """The entries of a zip archive, after every check above.

    :raises InputError: naming the archive, the offending entry and the rule it breaks.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"Cannot read the zip archive {path} ({error}); give a valid .zip file.") from error

    def refuse(entry: str, why: str) -> InputError:
        return InputError(
            f"Zip archive {path} is refused: entry '{entry}' {why}. Nothing was extracted; "
            "rebuild the archive from the model folder (zip -r model.zip FOLDER)."
        )

    if len(entries) > limits.maxFiles:
        raise InputError(
            f"Zip archive {path} has {len(entries)} entries, more than the limit of {limits.maxFiles}; "
            "nothing was extracted. Import the model folder instead, or remove unneeded files."
        )
    seen: dict[str, str] = {}
    folders: set[str] = set()
    total = compressed = 0
    for entry in entries:
        name = entry.filename
        kind = stat.S_IFMT(entry.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise refuse(name, "is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise refuse(name, "is a device, pipe or socket")
        if entry.flag_bits & 0x1:
            raise refuse(name, "is encrypted")
        plain = name[:-1] if entry.is_dir() else name
        if reason := unsafeRelativePath(plain):
            raise refuse(name, f"has an unsafe path ({reason})")
        key = unicodedata.normalize("NFC", plain).casefold()
        if key in seen:
            raise refuse(name, f"repeats the entry '{seen[key]}'")
        seen[key] = name
        parts = key.split("/")
        folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        if entry.is_dir():
            folders.add(key)
            continue
        total += entry.file_size
        compressed += entry.compress_size
        if entry.file_size > limits.ratioFloorBytes and entry.file_size > limits.maxRatio * max(entry.compress_size, 1):
            raise refuse(
                name,
                f"expands {entry.file_size / max(entry.compress_size, 1):.0f}-fold "
                f"({entry.file_size} bytes), beyond the limit of {limits.maxRatio:.0f} (a zip bomb?)",
            )
    clashes = sorted(seen[key] for key in seen if key in folders and not seen[key].endswith("/"))
    if clashes:
        raise refuse(clashes[0], "is a file whose name other entries use as a folder")
    if total > limits.maxTotalBytes:
        raise InputError(
            f"Zip archive {path} would unpack to {total} bytes, more than the limit of "
            f"{limits.maxTotalBytes}; nothing was extracted."
        )
    if total > limits.ratioFloorBytes and total > limits.maxRatio * max(compressed, 1):
        raise InputError(
            f"Zip archive {path} expands {total / max(compressed, 1):.0f}-fold in total, beyond the "
            f"limit of {limits.maxRatio:.0f} (a zip bomb?); nothing was extracted."
        )
    return entries


def extractArchive(
    path: pathlib.Path,
    destination: pathlib.Path,
    limits: ImportLimits = ImportLimits(),
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
) -> None:
    """Check ``path`` with :func:`checkArchive`, then extract it into the new or empty folder ``destination``.

    :raises InputError: for a hostile archive (nothing extracted) or one whose data is corrupt.
    :raises CancelledError: when ``cancel`` is set (the caller removes ``destination``).
    """
    entries = checkArchive(path, limits)
    total = sum(entry.file_size for entry in entries) or 1
    requireFreeSpace(destination, total)
    root = destination.resolve()
    done = 0
    with zipfile.ZipFile(path) as archive:
        for entry in entries:
            if cancel is not None:
                cancel.raiseIfCancelled()
            target = (root / entry.filename).resolve()
            if root not in target.parents:
                raise InputError(f"Zip archive {path}: entry '{entry.filename}' resolves outside the folder; refused.")
            if entry.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(entry) as source, open(target, "xb") as sink:
                    written = 0
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        if written > entry.file_size:
                            raise InputError(
                                f"Zip archive {path}: entry '{entry.filename}' holds more data than "
                                f"it declares ({entry.file_size} bytes); refused."
                            )
                        sink.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError, NotImplementedError) as error:
                raise InputError(
                    f"Zip archive {path}: entry '{entry.filename}' is corrupt ({error}); get a new copy of the archive."
                ) from error
            done += entry.file_size
            progress(done / total, f"extracting {entry.filename}")


def checkFolder(path: pathlib.Path) -> list[str]:
    """The files of a model folder, after checking it holds no links, devices, pipes or sockets.

    :raises InputError: naming the offending entries.
    """
    files, unsafe = scanTree(path)
    if unsafe:
        shown = ", ".join(unsafe[:5]) + (", ..." if len(unsafe) > 5 else "")
        raise InputError(
            f"Model folder {path} is refused: it holds {len(unsafe)} link(s) or special file(s) "
            f"({shown}). Nothing was copied; replace links by the files they point to."
        )
    return files


def requireFreeSpace(folder: pathlib.Path, needed: int) -> None:
    """:raises InputError: when the disk holding ``folder`` has less than ``needed`` bytes free."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise InputError(
            f"The model needs {needed} bytes but {folder} has only {free} bytes free; "
            "free some space or choose another --models-dir."
        )


def wrappedRoot(folder: pathlib.Path, depth: int = 2) -> pathlib.Path:
    """``folder``, or the folder it wraps alone (up to ``depth`` levels), as zip archives often add one."""
    for _ in range(depth):
        children = list(folder.iterdir())
        if len(children) != 1 or not children[0].is_dir() or os.path.islink(children[0]):
            break
        folder = children[0]
    return folder
