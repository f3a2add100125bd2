"""SHA-256 of model files and of whole model trees.

A model is a tree of regular files: a folder, or a single file (a tree of one file,
named by its file name). Its tree hash is the SHA-256 of the lines
``"<file sha256>  <relative POSIX path>\\n"`` sorted by path, the format of ``sha256sum``,
so it can be checked by hand in the folder:
``find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum``.
Links, devices and other special files are refused: they could point outside the model.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import stat
from collections.abc import Mapping

from VirtualBiopsy.errors import InputError

_CHUNK = 1 << 20


def fileSha256(path: str | os.PathLike) -> str:
    """SHA-256 (lower-case hex) of a file's bytes.

    :raises InputError: when the path is missing, a link or not a regular file.
    """
    path = pathlib.Path(path)
    _requireRegularFile(path)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bytesSha256(data: bytes) -> str:
    """SHA-256 (lower-case hex) of bytes already in memory."""
    return hashlib.sha256(data).hexdigest()


def treeDigest(files: Mapping[str, str]) -> str:
    """The tree hash of ``{relative POSIX path: file SHA-256}``."""
    lines = "".join(f"{files[name]}  {name}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def scanTree(root: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The regular files under ``root`` and the entries that are not regular files or folders.

    :returns: ``(files, unsafe)``: sorted relative POSIX paths; ``unsafe`` holds links
        (to files or folders, inside the tree or not), devices, pipes and sockets. Links
        to folders are not followed. A ``root`` that is a file gives its name alone.
    :raises InputError: when ``root`` does not exist or is itself a link.
    """
    root = pathlib.Path(root)
    if root.is_symlink():
        raise InputError(f"Model path {root} is a symbolic link; give the real file or folder it points to.")
    if not root.exists():
        raise InputError(f"Model path {root} does not exist; check the path.")
    if not root.is_dir():
        return ([root.name], []) if stat.S_ISREG(root.lstat().st_mode) else ([], [root.name])
    files, unsafe = [], []
    for folder, subfolders, names in os.walk(root, followlinks=False):
        base = pathlib.Path(folder)
        for name in [*subfolders, *names]:
            mode = (base / name).lstat().st_mode
            relative = (base / name).relative_to(root).as_posix()
            if stat.S_ISREG(mode):
                files.append(relative)
            elif not stat.S_ISDIR(mode):
                unsafe.append(relative)
    return sorted(files), sorted(unsafe)


def treeHashes(root: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """The tree hash and per-file SHA-256 of a model folder or file.

    :returns: ``(treeHash, {relative POSIX path: sha256})``.
    :raises InputError: for a missing root or any link or special file in the tree (naming them).
    """
    root = pathlib.Path(root)
    files, unsafe = scanTree(root)
    if unsafe:
        shown = ", ".join(unsafe[:5]) + (", ..." if len(unsafe) > 5 else "")
        raise InputError(
            f"Model {root} holds {len(unsafe)} link(s) or special file(s) ({shown}); models must be "
            "plain files and folders. Replace links by copies of the files they point to."
        )
    hashes = {name: fileSha256(root / name if root.is_dir() else root) for name in files}
    return treeDigest(hashes), hashes


def _requireRegularFile(path: pathlib.Path) -> None:
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; give the real file it points to.")
    if not path.exists():
        raise InputError(f"File {path} does not exist; check the path.")
    if not stat.S_ISREG(path.stat().st_mode):
        raise InputError(f"{path} is not a regular file; give a model file.")
