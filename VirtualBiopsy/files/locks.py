"""Exclusive file locks between processes."""

from __future__ import annotations

import contextlib
import pathlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def exclusiveLock(path: pathlib.Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block, e.g. so that concurrent writers of one
    manifest do not lose entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
