"""Atomic file writing: a file (with its companions) appears complete under its final name or not at all.

Every file and folder written here gets the mode an ordinary ``open(path, "w")`` or ``mkdir`` would give
(``0o666`` or ``0o777`` less the umask), also where a private temporary file is renamed into place. A write that
fails (a full disk, a file size limit) removes its temporary files, and the :class:`OSError` it raises names the
final path, not the hidden temporary one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files.outputChecks import checkOutputLocation, truncationErrno, writeFailureErrno

_CHUNK = 1 << 20


def currentUmask() -> int:
    """The process's umask, read without changing it where the system reports it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ordinaryFileMode() -> int:
    """The mode ``open(path, "w")`` gives a new file: ``0o666`` less the umask."""
    return 0o666 & ~currentUmask()


def ordinaryFolderMode() -> int:
    """The mode ``os.mkdir`` gives a new folder: ``0o777`` less the umask."""
    return 0o777 & ~currentUmask()


def makeTemporaryFile(folder: str | os.PathLike, prefix: str, suffix: str = "") -> tuple[int, pathlib.Path]:
    """A new uniquely named file in ``folder`` (as :func:`tempfile.mkstemp`) with the ordinary file mode, so that
    renaming it into place gives an ordinary file; returns its open descriptor and its path."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        os.chmod(name, ordinaryFileMode())
    except BaseException:
        os.close(handle)
        os.unlink(name)
        raise
    return handle, pathlib.Path(name)


def makeTemporaryFolder(folder: str | os.PathLike, prefix: str, suffix: str = "") -> pathlib.Path:
    """A new uniquely named folder in ``folder`` (as :func:`tempfile.mkdtemp`) with the ordinary folder mode, so
    that renaming it into place gives an ordinary folder."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=folder))
    try:
        path.chmod(ordinaryFolderMode())
    except BaseException:
        path.rmdir()
        raise
    return path


@contextlib.contextmanager
def clearOutputErrors(path: pathlib.Path, what: str) -> Iterator[None]:
    """Turn an :class:`OSError` of the block (which prepares the writing of ``path``: folders, temporary files) into
    the :class:`~VirtualBiopsy.errors.InputError` of :func:`checkOutputLocation` where that finds the cause (a path
    under a file, a name too long, a folder that accepts no file); otherwise it is raised as it is."""
    try:
        yield
    except OSError:
        checkOutputLocation(path, what, needBytes=0)
        raise


@contextlib.contextmanager
def finalPathsInErrors(
    staging: pathlib.Path, final: pathlib.Path, unnamed: pathlib.Path | None = None
) -> Iterator[None]:
    """Re-raise an :class:`OSError` of the block with ``final`` (or the same place under it) instead of a path at or
    under ``staging``, and with ``unnamed`` (default ``final``) where a failed write named no file (``write()`` on
    a full disk)."""
    try:
        yield
    except OSError as error:
        names = [_finalName(name, staging, final) for name in (error.filename, error.filename2)]
        if names[0] is None and error.errno is not None:
            names[0] = str(unnamed or final)
        if names[1] is not None and str(names[1]) == str(names[0]):  # a rename onto the final path
            names[1] = None
        if names == [error.filename, error.filename2] or error.errno is None:
            raise
        raise OSError(error.errno, error.strerror, names[0], None, names[1]) from error


def _finalName(name: object, staging: pathlib.Path, final: pathlib.Path) -> object:
    if not isinstance(name, (str, os.PathLike)):
        return name
    try:
        relative = pathlib.Path(os.fsdecode(name)).absolute().relative_to(staging.absolute())
    except ValueError:
        return name
    return str(final / relative) if relative.parts else str(final)


@contextlib.contextmanager
def temporarySibling(path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A temporary path next to ``path`` (same suffix, ``.nii.gz`` whole) that is moved onto ``path`` on success.

    The temporary file has the ordinary file mode and is removed if the block raises.
    """
    path = pathlib.Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    with clearOutputErrors(path, "Output file"):
        handle, temporary = makeTemporaryFile(path.parent, prefix=f".{path.stem}.", suffix=f".partial{suffix}")
    os.close(handle)
    try:
        with finalPathsInErrors(temporary, path):
            yield temporary
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def writeTextAtomically(text: str, path: pathlib.Path) -> pathlib.Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with temporarySibling(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")
    return pathlib.Path(path)


def writeImage(image: sitk.Image, path: str | os.PathLike, compress: bool = True) -> pathlib.Path:
    """Write ``image`` with SimpleITK (format from the suffix), in place.

    Compressed NRRD files are cut short without an error when the disk fills at their last block (seen with a file
    size limit); a file that reached the limit, or that does not read back on a nearly full disk, is an error.

    :raises OSError: when SimpleITK's writer fails for a full disk, a file size limit or a folder that cannot be
        written (SimpleITK says only "could not write"); any other writer failure is raised as it is.
    """
    try:
        sitk.WriteImage(image, str(path), useCompression=compress)
    except RuntimeError as error:
        code = writeFailureErrno(pathlib.Path(path))
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from error
    code = truncationErrno(pathlib.Path(path))
    if code is not None:
        raise OSError(code, os.strerror(code), str(path))
    return pathlib.Path(path)


def writeImageAtomically(image: sitk.Image, path: pathlib.Path, compress: bool = True) -> pathlib.Path:
    """Write ``image`` with SimpleITK (format from the suffix) atomically."""
    with temporarySibling(path) as temporary:
        writeImage(image, temporary, compress)
    return pathlib.Path(path)


def sha256File(path: pathlib.Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomicOutput(path: str | os.PathLike, overwrite: bool) -> Iterator[pathlib.Path]:
    """Write ``path`` (and any companion files) all-or-nothing.

    Yields a path with the same name inside a hidden staging folder next to
    ``path``.  When the block succeeds, every file written in the staging folder
    is moved to the same relative place beside ``path`` (companions first, the
    main file last) with :func:`os.replace`, which is atomic on one file system;
    when it fails, nothing is moved and the staging folder is removed. The files
    moved get the ordinary file mode.

    :raises InputError: if ``path`` or a companion exists and ``overwrite`` is false,
        or if the block wrote no file at the staging path.
    """
    path = pathlib.Path(path).expanduser().absolute()
    with clearOutputErrors(path, "Output file"):
        _refuseExisting([path], overwrite)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = makeTemporaryFolder(path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        stagedPath = staging / path.name
        with finalPathsInErrors(staging, path.parent, unnamed=path):
            yield stagedPath
        if not stagedPath.is_file():
            raise InputError(f"Nothing was written for {path}. Check the node and the file extension.")
        written = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p == stagedPath)
        targets = [path.parent / p.relative_to(staging) for p in written]
        _refuseExisting(targets, overwrite)
        mode = ordinaryFileMode()
        for source, target in zip(written, targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            source.chmod(mode)
            os.replace(source, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuseExisting(paths: list[pathlib.Path], overwrite: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise InputError(
            f"Refusing to overwrite existing file(s): {', '.join(existing)}. "
            "Choose another path or pass overwrite=True."
        )
