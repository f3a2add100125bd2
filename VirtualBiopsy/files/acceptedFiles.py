"""What this process accepted a file's content with: the options a user gave for a manifest or a table.

A command checks its inputs with the user's options (``--data-root``, ``--decimal``, ...) before any work; code
further down that reads the same file again without those options (a library call that takes only a path) gets
the same options back, as long as the file is byte for byte the one accepted. A file that changed since is
read with the defaults again. The memory lives in this process only, so nothing a file contains can add to it.
"""

from __future__ import annotations

import hashlib
import pathlib
import threading
from typing import Any

_lock = threading.Lock()
_accepted: dict[tuple[str, str, str], Any] = {}


def _key(kind: str, path: pathlib.Path, content: bytes) -> tuple[str, str, str]:
    return kind, str(pathlib.Path(path).resolve()), hashlib.sha256(content).hexdigest()


def rememberAccepted(kind: str, path: pathlib.Path, content: bytes, options: Any) -> None:
    """Remember that ``path`` with exactly ``content`` was accepted with ``options`` (``kind`` names the reader)."""
    with _lock:
        _accepted[_key(kind, path, content)] = options


def acceptedWith(kind: str, path: pathlib.Path, content: bytes) -> Any | None:
    """The options ``path`` with exactly ``content`` was last accepted with in this process, or ``None``."""
    with _lock:
        return _accepted.get(_key(kind, path, content))
