"""Public names of a package, imported on first use (PEP 562), so that importing one of its small modules (a
config, inside a Slicer module at load time) does not import its heavy ones."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazyExports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` (a module under ``package``) when
    ``name`` is first asked for.

    :param exports: ``{public name: module name relative to package}``.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
