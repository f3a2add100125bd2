"""The library (``VirtualBiopsy/``) stays Qt-free and never reaches for Slicer's application.

It must not import ``qt``, ``ctk``, ``slicer.util``, ``slicer.app``,
``slicer.ScriptedLoadableModule`` or ``slicer.parameterNodeWrapper`` in any form,
nor read the global ``slicer.mrmlScene``: the scene is passed in. Checked on the
syntax tree, so docstrings and comments that mention these names are fine.
"""

import ast
import pathlib

import pytest

LIBRARY = pathlib.Path(__file__).resolve().parents[2] / "VirtualBiopsy"

#: Modules the library must not import (or anything below them).
FORBIDDEN_MODULES = (
    "qt",
    "ctk",
    "slicer.util",
    "slicer.app",
    "slicer.ScriptedLoadableModule",
    "slicer.parameterNodeWrapper",
)
#: Attributes of the ``slicer`` package the library must not use.
FORBIDDEN_SLICER_ATTRIBUTES = {"util", "app", "ScriptedLoadableModule", "parameterNodeWrapper", "mrmlScene"}


def _forbiddenModule(name: str) -> str | None:
    for forbidden in FORBIDDEN_MODULES:
        if name == forbidden or name.startswith(forbidden + "."):
            return forbidden
    return None


def boundaryViolations(source: str, filename: str = "<source>") -> list[str]:
    """Return ``"line N: what"`` for each forbidden import or use of Slicer's application in ``source``."""
    tree = ast.parse(source, filename)
    violations = []
    slicerNames = {"slicer"}  # names bound to the slicer package (import slicer as sl)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbiddenModule(alias.name):
                    violations.append(f"line {node.lineno}: import {alias.name}")
                elif alias.name == "slicer":
                    slicerNames.add(alias.asname or "slicer")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbiddenModule(node.module):
                violations.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module == "slicer":
                for alias in node.names:
                    if alias.name in FORBIDDEN_SLICER_ATTRIBUTES or alias.name == "*":
                        violations.append(f"line {node.lineno}: from slicer import {alias.name}")
        elif isinstance(node, ast.Call) and _isDynamicImport(node):
            argument = node.args[0]
            if (
                isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
                and _forbiddenModule(argument.value)
            ):
                violations.append(f"line {node.lineno}: dynamic import of {argument.value}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in slicerNames
            and node.attr in FORBIDDEN_SLICER_ATTRIBUTES
        ):
            violations.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return violations


def _isDynamicImport(node: ast.Call) -> bool:
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    return name in ("import_module", "__import__") and bool(node.args)


LIBRARY_FILES = sorted(LIBRARY.rglob("*.py"))


def test_library_files_are_found():
    assert LIBRARY / "settings.py" in LIBRARY_FILES


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=[str(p.relative_to(LIBRARY)) for p in LIBRARY_FILES])
def test_library_file_respects_the_boundary(path):
    violations = boundaryViolations(path.read_text(encoding="utf-8"), str(path))
    assert not violations, f"{path.relative_to(LIBRARY.parent)} crosses the Qt/Slicer-app boundary: " + "; ".join(
        violations
    )


@pytest.mark.parametrize(
    "planted",
    [
        "import qt",
        "import ctk",
        "import qt.QtCore",
        "from qt import QWidget",
        "import slicer.util",
        "import slicer.util as su",
        "from slicer import util",
        "from slicer import util as su",
        "from slicer.util import arrayFromVolume",
        "from slicer import app",
        "from slicer import mrmlScene",
        "from slicer import *",
        "from slicer.ScriptedLoadableModule import *",
        "from slicer.parameterNodeWrapper import parameterNodeWrapper",
        "import slicer.parameterNodeWrapper",
        "import slicer\nscene = slicer.mrmlScene",
        "import slicer\nslicer.app.processEvents()",
        "import slicer as sl\nsl.util.arrayFromVolume(node)",
        "import slicer.vtkMRMLScalarVolumeNode\nslicer.util.getNode('a')",
        "def f():\n    import qt\n    return qt",
        "import importlib\nimportlib.import_module('slicer.util')",
        "__import__('ctk')",
    ],
)
def test_detector_catches_planted_violation(planted):
    """Self-check: each planted violation is reported."""
    assert boundaryViolations(planted), f"not detected: {planted!r}"


@pytest.mark.parametrize(
    "clean",
    [
        "import slicer\nscene = slicer.vtkMRMLScene()",
        "from slicer import vtkMRMLScalarVolumeNode, vtkMRMLScene",
        "import qtpy",
        "import ctkish",
        "import slicer_core",
        '"""Inside Slicer, pass slicer.mrmlScene; never import qt here."""',
        "def run(scene):\n    return scene.GetFirstNodeByClass('vtkMRMLTableNode')",
        "from VirtualBiopsy.mrml.scene import createScene",
    ],
)
def test_detector_accepts_clean_code(clean):
    """Self-check: allowed code (and mere mentions in strings) is not reported."""
    assert boundaryViolations(clean) == []
