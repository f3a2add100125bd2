"""Atomic file writing: a file appears complete under its final name or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import tempfile
from collections.abc import Iterator

import SimpleITK as sitk

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
