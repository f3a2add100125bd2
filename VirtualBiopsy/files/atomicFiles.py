"""Atomic file writing: a file (with its companions) appears complete under its final name or not at all."""

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

_CHUNK = 1 << 20


@contextlib.contextmanager
def temporarySibling(path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A temporary path next to ``path`` (same suffix, ``.nii.gz`` whole) that is moved onto ``path`` on success.

    The temporary file is removed if the block raises.
    """
    path = pathlib.Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{suffix}", dir=path.parent)
    os.close(handle)
    temporary = pathlib.Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def writeTextAtomically(text: str, path: pathlib.Path) -> pathlib.Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with temporarySibling(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="\n")
    return pathlib.Path(path)


def writeImageAtomically(image: sitk.Image, path: pathlib.Path, compress: bool = True) -> pathlib.Path:
    """Write ``image`` with SimpleITK (format from the suffix) atomically."""
    with temporarySibling(path) as temporary:
        sitk.WriteImage(image, str(temporary), useCompression=compress)
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
    when it fails, nothing is moved and the staging folder is removed.

    :raises InputError: if ``path`` or a companion exists and ``overwrite`` is false,
        or if the block wrote no file at the staging path.
    """
    path = pathlib.Path(path).expanduser().absolute()
    _refuseExisting([path], overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        stagedPath = staging / path.name
        yield stagedPath
        if not stagedPath.is_file():
            raise InputError(f"Nothing was written for {path}. Check the node and the file extension.")
        written = sorted((p for p in staging.rglob("*") if p.is_file()), key=lambda p: p == stagedPath)
        targets = [path.parent / p.relative_to(staging) for p in written]
        _refuseExisting(targets, overwrite)
        for source, target in zip(written, targets):
            target.parent.mkdir(parents=True, exist_ok=True)
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
