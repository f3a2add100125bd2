"""File-name checks: extensions (double ones such as ``.nii.gz`` included) and existing paths."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable

from VirtualBiopsy.errors import InputError

#: Extensions made of two suffixes, checked before the single ones.
_DOUBLE_EXTENSIONS = (".nii.gz", ".seg.nrrd", ".seg.nhdr", ".schema.csv", ".schema.tsv")


def extensionOf(path: pathlib.Path) -> str:
    """The lower-case file extension, keeping double ones such as ``.nii.gz`` and ``.seg.nrrd``."""
    name = path.name.lower()
    for extension in _DOUBLE_EXTENSIONS:
        if name.endswith(extension):
            return extension
    return path.suffix.lower()


def requireExisting(path: str | os.PathLike, what: str) -> pathlib.Path:
    """Return ``path`` as an absolute :class:`pathlib.Path`, or raise :class:`InputError` if it does not exist."""
    path = pathlib.Path(path).expanduser().absolute()
    if not path.exists():
        raise InputError(f"The {what} was not found: {path}. Check the path (and that the folder is mounted).")
    return path


def requireExtension(path: pathlib.Path, supported: Iterable[str], what: str) -> str:
    """Return the extension of ``path`` or raise :class:`InputError` listing the ``supported`` ones."""
    extension = extensionOf(path)
    supported = list(supported)
    if extension not in supported:
        shown = extension or "no extension"
        raise InputError(
            f"Cannot use {path} as a {what}: '{shown}' is not supported. Supported extensions: {', '.join(supported)}."
        )
    return extension
