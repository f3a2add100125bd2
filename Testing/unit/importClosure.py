"""What a piece of the library imports when it runs, read from the syntax trees.

:func:`thirdPartyImports` follows every ``import`` and ``from ... import`` of ``VirtualBiopsy`` modules,
at module level AND inside functions (Slicer actions import lazily, at the point of use), transitively,
plus the string arguments of ``requirePackage("name")`` and, for pandas' ``to_excel``, its openpyxl engine.
It over-approximates on purpose: a module counts as imported when any code path imports it.
"""

from __future__ import annotations

import ast
import functools
import pathlib
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def modulePath(name: str) -> pathlib.Path | None:
    """The file of a ``VirtualBiopsy`` module (package ``__init__`` or ``.py``), or ``None``."""
    path = REPOSITORY.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def importsIn(tree: ast.AST) -> set[str]:
    """Dotted names imported anywhere in ``tree`` (``from a import b`` gives ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if function == "requirePackage" and node.args and isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
            elif function == "to_excel":
                names.add("openpyxl")
    return names


@functools.cache
def _parsed(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def thirdPartyImports(names: set[str], excluded: frozenset[str] = frozenset()) -> set[str]:
    """Top-level non-standard-library packages that importing/running ``names`` may import.

    :param excluded: library modules not followed (a branch the action provably never takes).
    """
    seen, found, pending = set(), set(), list(names)
    while pending:
        name = pending.pop()
        top = name.split(".")[0]
        if top == "VirtualBiopsy":
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                module = ".".join(parts[:end])
                path = modulePath(module)
                if path is not None and module not in seen and module not in excluded:
                    seen.add(module)
                    pending.extend(importsIn(_parsed(path)))
        elif top not in sys.stdlib_module_names and top != "__future__":
            found.add(top)
    return found
