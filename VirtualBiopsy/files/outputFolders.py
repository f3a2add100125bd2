"""A results folder that appears complete or not at all: written in a hidden sibling, then moved into place."""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
from collections.abc import Iterator

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files.atomicFiles import clearOutputErrors, finalPathsInErrors, makeTemporaryFolder


def requireNewFolder(outDir: str | os.PathLike, what: str = "Output folder") -> pathlib.Path:
    """``outDir`` as a path, after checking it is absent or an empty folder.

    :raises InputError: when it is a file or a folder with entries (nothing is overwritten).
    """
    outDir = pathlib.Path(outDir).expanduser()
    if outDir.exists() and not outDir.is_dir():
        raise InputError(f"{what} {outDir} is a file; give the path of a new or empty folder.")
    if outDir.is_dir():
        entries = sorted(entry.name for entry in outDir.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise InputError(
                f"{what} {outDir} is not empty ({len(entries)} entries: {shown}); nothing was written. "
                "Choose a new folder or empty this one first."
            )
    return outDir


@contextlib.contextmanager
def stagedOutputFolder(outDir: str | os.PathLike, what: str = "Output folder") -> Iterator[pathlib.Path]:
    """Yield a hidden staging folder; on success it replaces the new or empty ``outDir``, on error it is removed.

    The folder has the ordinary folder mode; an :class:`OSError` of the block (a full disk) names the place under
    ``outDir``, not the hidden staging folder.

    :raises InputError: when ``outDir`` is a file or not empty, before or after the block.
    """
    outDir = requireNewFolder(outDir, what)
    with clearOutputErrors(outDir, what):
        outDir.parent.mkdir(parents=True, exist_ok=True)
        staging = makeTemporaryFolder(outDir.parent, prefix=f".{outDir.name}.", suffix=".partial")
    try:
        with finalPathsInErrors(staging, outDir.absolute()):
            yield staging
        if outDir.is_dir():
            try:
                outDir.rmdir()
            except OSError as error:
                raise InputError(
                    f"{what} {outDir} was filled by something else during the run ({error}); "
                    "nothing was written there. Choose a new folder."
                ) from error
        os.replace(staging, outDir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
