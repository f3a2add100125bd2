"""Output locations checked before the work, and failed writes explained.

:func:`checkOutputLocation` refuses, before any computing, an output that could not be written: a name longer
than the file system allows, a path under a regular file, a folder where no file can be created (read-only,
no permission, ``/proc``), or a disk with less than :data:`MINIMUM_FREE_BYTES` free. :func:`explainPathError`
turns an :class:`OSError` about the user's paths into one line with the path, the reason and the fix.
"""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
import stat
import tempfile
from collections.abc import Sequence

from VirtualBiopsy.errors import InputError

#: Free space an output's disk must have before a command starts, unless the command gives its own estimate.
MINIMUM_FREE_BYTES = 100 * 1000 * 1000

#: Characters of a file system's name limit kept for the hidden temporary copy (``.NAME.xxxxxxxx.partial.nii.gz``).
STAGING_NAME_ROOM = 40

#: Below this many free bytes, a failed image write is put down to a full disk.
_NEARLY_FULL_BYTES = 1 << 20

#: OSErrors about the user's paths: the reason as the message says it.
_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system or for the file size limit (ulimit -f)",
    errno.ENAMETOOLONG: "name too long",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
}
_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def checkOutputLocation(path: str | os.PathLike, what: str = "Output", needBytes: int | None = None) -> pathlib.Path:
    """Check, before any work, that ``path`` (a file or folder to be written, new or existing) can be written.

    The nearest existing folder at or above ``path`` is actually written to (a hidden file is created and
    removed: permission bits lie on some mounts and for root).

    :param what: how messages name the output, e.g. ``"--out"``.
    :param needBytes: free bytes needed on its disk (default :data:`MINIMUM_FREE_BYTES`).
    :returns: the nearest existing folder, where the output will be created.
    :raises InputError: naming the output, the reason and the fix, when a name is too long, the path lies under
        a file, nothing can be created in the folder or its disk has too little free space.
    """
    path = pathlib.Path(path).expanduser().absolute()
    _checkNameLengths(path, what)
    folder = _nearestFolder(path, what)
    refused = _writeProbe(folder)
    if refused is not None:
        if refused.errno == errno.ENOENT:  # /proc, /sys: folders of the kernel, not of files
            reason, fix = "it is a special folder that accepts no new files", ""
        else:
            reason = _REASONS.get(refused.errno or 0, refused.strerror or str(refused))
            fix = ", or free some space there" if refused.errno in _SPACE else f", or make {folder} writable"
        raise InputError(
            f"{what} {path} cannot be written: creating a file in {folder} failed ({reason}); nothing was written. "
            f"Choose another {what} in a folder you can write to{fix}."
        ) from refused
    free = shutil.disk_usage(folder).free
    needed = MINIMUM_FREE_BYTES if needBytes is None else needBytes
    if free < needed:
        raise InputError(
            f"{what} {path} cannot be written: the disk holding {folder} has only {_size(free)} free and "
            f"Virtual Biopsy needs at least {_size(needed)} there before it starts; nothing was written. "
            f"Free some space or choose another {what} on another disk."
        )
    return folder


def _checkNameLengths(path: pathlib.Path, what: str) -> None:
    nameMax, pathMax = _limits(path)
    last = len(path.parts) - 1
    for index, part in enumerate(path.parts[1:], start=1):
        length = len(os.fsencode(part))
        room = STAGING_NAME_ROOM if index == last else 0
        if length + room > nameMax:
            kept = f", {room} of them kept for the hidden temporary copy" if room else ""
            raise InputError(
                f"{what} {_shortened(path)} cannot be written: the name '{_shortened(part)}' is too long "
                f"({length} bytes; this file system allows {nameMax} per name{kept}); nothing was written. "
                f"Use a name of at most {nameMax - room} bytes."
            )
    length = len(os.fsencode(str(path)))
    if length + STAGING_NAME_ROOM > pathMax:
        raise InputError(
            f"{what} {_shortened(path)} cannot be written: the path is too long ({length} bytes; this system "
            f"allows {pathMax}, {STAGING_NAME_ROOM} of them kept for the hidden temporary copy); nothing was "
            "written. Choose a shorter path."
        )


def _limits(path: pathlib.Path) -> tuple[int, int]:
    """The file system's longest name and path (255 and 4096 where it does not say)."""
    for candidate in (path, *path.parents):
        try:
            if os.path.isdir(candidate):
                return os.pathconf(candidate, "PC_NAME_MAX"), os.pathconf(candidate, "PC_PATH_MAX")
        except (OSError, ValueError, AttributeError):
            break
    return 255, 4096


def _nearestFolder(path: pathlib.Path, what: str) -> pathlib.Path:
    """The nearest existing folder at or above ``path`` (``path`` itself only if it is a folder)."""
    current = path
    while True:
        try:
            mode = os.stat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            current = current.parent
            continue
        except OSError as error:
            raise InputError(
                f"{what} {path} cannot be checked: {current} gave '{error.strerror}'; nothing was written. "
                f"Check the path and its permissions, or choose another {what}."
            ) from error
        if stat.S_ISDIR(mode):
            return current
        if current == path:  # an existing file: it is replaced from its folder
            current = current.parent
            continue
        raise InputError(
            f"{what} {path} cannot be written: {current} is a file, not a folder, so nothing can be created under "
            f"it; nothing was written. Choose another {what} in a folder (e.g. beside {current.name})."
        )


def writeFailureErrno(path: pathlib.Path) -> int | None:
    """Why writing ``path`` failed, for writers that do not say (SimpleITK): the file size limit (``EFBIG``) when
    the process has one, a nearly full disk (``ENOSPC``), or the folder's own error when no file can be created
    there; ``None`` when none of these holds."""
    if _fileSizeLimit() is not None:
        return errno.EFBIG
    folder = pathlib.Path(path).absolute().parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        if shutil.disk_usage(folder).free < _NEARLY_FULL_BYTES:
            return errno.ENOSPC
    except OSError as error:
        return error.errno
    refused = _writeProbe(folder)
    return refused.errno if refused is not None else None


def _writeProbe(folder: pathlib.Path) -> OSError | None:
    """Create and remove a hidden file in ``folder``: the error that refused it, or ``None``."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".virtual-biopsy-write-check-", dir=folder)
    except OSError as error:
        return error
    os.close(handle)
    os.unlink(probe)
    return None


def truncationErrno(path: pathlib.Path) -> int | None:
    """Why a file a writer reported as written is cut short: ``EFBIG`` when it reached the process's file size limit,
    ``ENOSPC`` when the disk is nearly full and the file does not read back as an image; else ``None``."""
    size = path.stat().st_size
    limit = _fileSizeLimit()
    if limit is not None and size >= limit:
        return errno.EFBIG
    if shutil.disk_usage(path.parent).free >= _NEARLY_FULL_BYTES:
        return None
    import SimpleITK as sitk

    try:
        sitk.ReadImage(str(path))
    except RuntimeError:
        return errno.ENOSPC
    return None


def _fileSizeLimit() -> int | None:
    """The process's file size limit (``ulimit -f``) in bytes, ``None`` where there is none."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if limit == resource.RLIM_INFINITY else limit


def explainPathError(error: OSError | None, outputs: Sequence[tuple[str, pathlib.Path]] = ()) -> str | None:
    """One line for an :class:`OSError` about the user's paths (permission, read-only, full disk, file too large,
    name too long, not a folder): the path, the reason and the fix; ``None`` for any other error.

    :param outputs: the command's outputs as ``(option, path)``: a failure at, under or beside one (its hidden
        temporary copy) is reported under the output's own path and option.
    """
    reason = _REASONS.get(error.errno or 0) if error is not None else None
    if error is None or reason is None:
        return None
    option, shown = _matchingOutput(error.filename, outputs)
    if error.errno in _SPACE:
        limit = ", raise the limit" if error.errno == errno.EFBIG else ""
        return (
            f"{reason} while writing {shown}; nothing was written there; free space{limit} or choose another "
            f"{option or 'output path'}"
        )
    other = f" (and {error.filename2})" if error.filename2 else ""
    fixes = {
        errno.EROFS: f"choose {option or 'an output path'} on a disk you can write to",
        errno.ENAMETOOLONG: "use a shorter file or folder name",
        errno.ENOTDIR: "choose a path whose folders are folders",
        errno.EISDIR: "give the path of a file",
    }
    fix = fixes.get(error.errno or 0, "check the permissions of the file and its folder, or choose another path")
    return f"cannot use {shown}{other}: {reason}; {fix}"


def _matchingOutput(filename: object, outputs: Sequence[tuple[str, pathlib.Path]]) -> tuple[str | None, str]:
    """The option and the path to name for a failure at ``filename``."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return (outputs[0][0], str(outputs[0][1])) if outputs else (None, "a file")
    failing = pathlib.Path(os.fsdecode(filename)).absolute()
    for option, output in outputs:
        output = pathlib.Path(output).expanduser().absolute()
        if failing == output or output in failing.parents:
            return option, str(output)
        if output.parent in failing.parents:
            first = failing.relative_to(output.parent).parts[0]
            if first.startswith((f".{output.name}.", f".{output.stem}.")):
                return option, str(output)
    return (outputs[0][0] if outputs else None), str(failing)


def _shortened(text: str | os.PathLike, keep: int = 60) -> str:
    text = str(text)
    return text if len(text) <= keep else f"{text[: keep // 2]}…{text[-keep // 2 :]}"


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
