"""File-name checks and all-or-nothing writes shared by the storage functions."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator

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


def messageText(messages: object) -> str:
    """The text of a ``vtkMRMLMessageCollection`` on one line, without VTK's source-file noise."""
    lines = []
    for line in messages.GetAllMessagesAsString().splitlines():
        line = re.sub(r"^[-\s]*(Error|Warning):\s*", "", line.strip())
        if not line or re.match(r"^(ERROR|WARNING): In .*, line \d+$", line):
            continue
        lines.append(re.sub(r"^\w+ \(0x[0-9a-fA-F]+\): ", "", line))
    return " ".join(lines)


def _refuseExisting(paths: list[pathlib.Path], overwrite: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise InputError(
            f"Refusing to overwrite existing file(s): {', '.join(existing)}. "
            "Choose another path or pass overwrite=True."
        )
