"""Safety checks on tar archives (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``) of model folders.

The rules are those of zip archives (:mod:`~VirtualBiopsy.models.archives`): an archive is refused, before a
byte is written, for absolute paths, ``..`` or ``.`` components, backslashes, symbolic or hard links, devices,
pipes or other special members, repeated names (also when they differ only in case or Unicode form, or when a
file name is also used as a folder), more members or bytes than the limits, or more declared bytes than the
compression ratio allows (a tar bomb is caught at the header that declares it, before its data is unpacked).
A leading ``./`` (``tar -C FOLDER -czf model.tgz .``) is dropped. Extraction writes only regular files and
folders, never more bytes than each member declares, never over an existing file, and no tar permissions.
"""

from __future__ import annotations

import pathlib
import tarfile
import unicodedata
import zlib

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.manifest import unsafeRelativePath
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_CHUNK = 1 << 20
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, ValueError)


def isTarName(path: pathlib.Path) -> bool:
    """Whether ``path``'s name ends like a tar archive's."""
    return pathlib.Path(path).name.lower().endswith(TAR_SUFFIXES)


def memberName(member: tarfile.TarInfo) -> str:
    """The member's name without a leading ``./`` and a trailing ``/``."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/") if name not in ("", ".") else ""


def checkTarArchive(path: pathlib.Path, limits) -> list[tarfile.TarInfo]:
    """The regular-file and folder members of a tar archive, after every check above.

    :param limits: an :class:`~VirtualBiopsy.models.archives.ImportLimits`.
    :raises InputError: naming the archive, the offending member and the rule it breaks.
    """

    def refuse(entry: str, why: str) -> InputError:
        return InputError(
            f"Tar archive {path} is refused: member '{entry}' {why}. Nothing was extracted; "
            "rebuild the archive from the model folder (tar -czf model.tgz FOLDER) without links or special files."
        )

    compressedSize = max(path.stat().st_size, 1)
    kept: list[tarfile.TarInfo] = []
    seen: dict[str, tuple[str, bool]] = {}  # key: (member name, is a folder)
    folders: set[str] = set()
    total = count = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            while (member := archive.next()) is not None:
                count += 1
                if count > limits.maxFiles:
                    raise InputError(
                        f"Tar archive {path} has more than {limits.maxFiles} members; nothing was extracted. "
                        "Import the model folder instead, or remove unneeded files."
                    )
                name = memberName(member)
                if member.issym():
                    raise refuse(member.name, f"is a symbolic link (to '{member.linkname}')")
                if member.islnk():
                    raise refuse(member.name, f"is a hard link (to '{member.linkname}')")
                if not (member.isreg() or member.isdir()):
                    raise refuse(member.name, "is a device, pipe or other special member")
                if not name and member.isdir():
                    continue  # the archive's own folder, "./"
                if reason := unsafeRelativePath(name):
                    raise refuse(member.name, f"has an unsafe path ({reason})")
                key = unicodedata.normalize("NFC", name).casefold()
                if key in seen:
                    raise refuse(member.name, f"repeats the member '{seen[key][0]}'")
                seen[key] = (member.name, member.isdir())
                parts = key.split("/")
                folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
                kept.append(member)
                if member.isdir():
                    folders.add(key)
                    continue
                total += member.size
                if total > limits.maxTotalBytes:
                    raise InputError(
                        f"Tar archive {path} would unpack to more than {limits.maxTotalBytes} bytes (member "
                        f"'{member.name}' declares {member.size}); nothing was extracted."
                    )
                if total > limits.ratioFloorBytes and total > limits.maxRatio * compressedSize:
                    raise InputError(
                        f"Tar archive {path} declares {total} bytes by member '{member.name}', "
                        f"{total / compressedSize:.0f} times its own size, beyond the limit of {limits.maxRatio:.0f} "
                        "(a tar bomb?); nothing was extracted."
                    )
    except InputError:
        raise
    except _READ_ERRORS as error:
        raise InputError(f"Cannot read the tar archive {path} ({error}); give a valid tar file.") from error
    clashes = sorted(name for key, (name, isFolder) in seen.items() if key in folders and not isFolder)
    if clashes:
        raise refuse(clashes[0], "is a file whose name other members use as a folder")
    return kept


def extractTarArchive(
    path: pathlib.Path,
    destination: pathlib.Path,
    limits,
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
) -> None:
    """Check ``path`` with :func:`checkTarArchive`, then extract it into the new or empty folder ``destination``.

    :raises InputError: for a hostile archive (nothing extracted) or one whose data is corrupt.
    :raises CancelledError: when ``cancel`` is set (the caller removes ``destination``).
    """
    from VirtualBiopsy.models.archives import requireFreeSpace

    members = checkTarArchive(path, limits)
    total = sum(member.size for member in members if member.isreg()) or 1
    requireFreeSpace(destination, total)
    root = destination.resolve()
    done = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in members:
                if cancel is not None:
                    cancel.raiseIfCancelled()
                target = (root / memberName(member)).resolve()
                if root not in target.parents:
                    raise InputError(f"Tar archive {path}: member '{member.name}' resolves outside the folder.")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is None:
                    raise InputError(f"Tar archive {path}: member '{member.name}' has no data; refused.")
                with source, open(target, "xb") as sink:
                    left = member.size
                    while left and (chunk := source.read(min(_CHUNK, left))):
                        sink.write(chunk)
                        left -= len(chunk)
                    if left:
                        raise InputError(
                            f"Tar archive {path}: member '{member.name}' is shorter than it declares; "
                            "get a new copy of the archive."
                        )
                done += member.size
                progress(done / total, f"extracting {memberName(member)}")
    except InputError:
        raise
    except _READ_ERRORS as error:
        raise InputError(f"Tar archive {path} is corrupt ({error}); get a new copy of the archive.") from error
