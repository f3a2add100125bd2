"""Make packages unimportable in a test's child interpreter, recording every attempt (an import wrapped in
``try``/``except ImportError`` is still seen)."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterable


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: Iterable[str], reason: str) -> None:
        self.blocked = frozenset(blocked)
        self.reason = reason
        self.attempts: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            self.attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: {self.reason})", name=name)
        return None


def blockImports(blocked: Iterable[str], reason: str) -> list[str]:
    """Refuse every import of ``blocked`` top-level packages from now on.

    :returns: the list the refused module names are appended to.
    """
    blocker = _Blocker(blocked, reason)
    sys.meta_path.insert(0, blocker)
    return blocker.attempts
