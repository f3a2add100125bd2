"""The library loads files as data: a scan of its source (the ``VirtualBiopsy`` package, the widgets and the Slicer
module files) for YAML loaders other than the safe ones, for unpickling (``pickle``, ``joblib``, ``pandas.read_pickle``,
``numpy.load(allow_pickle=True)``, skops without a trusted-type list), for ``torch.load`` without
``weights_only=True`` outside the files documented to need it, and for ``eval``/``exec``. The scanner's own
rules are checked on small snippets, good and bad, so that a clean scan means something."""

from __future__ import annotations

import ast
import pathlib

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]

#: Files allowed to load with ``torch.load(weights_only=False)``, and why (each is documented in the file).
DOCUMENTED_FULL_UNPICKLING = {
    "VirtualBiopsy/models/checkpoints.py": "a trusted model's checkpoint, after its SHA-256 matched the manifest",
}
_SAFE_LOADERS = {"SafeLoader", "CSafeLoader"}
_UNSAFE_YAML_CALLS = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}
_UNSAFE_LOADER_NAMES = {"Loader", "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader", "CFullLoader"}
_UNPICKLERS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("marshal", "load"),
    ("marshal", "loads"),
    ("shelve", "open"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}


def libraryFiles() -> list[pathlib.Path]:
    files = sorted((REPOSITORY / "VirtualBiopsy").rglob("*.py"))
    files += sorted((REPOSITORY / "VirtualBiopsyWidgets").rglob("*.py"))
    files += sorted(REPOSITORY.glob("*Module/*.py"))
    return files


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` of a name or attribute chain ('' for anything else)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _isConstant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def violations(source: str, relative: str) -> list[str]:
    """Each unsafe load in ``source`` as ``relative:line: what``."""
    found = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{relative}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml" and node.attr in _UNSAFE_LOADER_NAMES:
            flag(node, f"yaml.{node.attr} (use yaml.safe_load or VirtualBiopsy.settings.loadYaml)")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        parts = name.split(".")
        loader = _keyword(node, "Loader")
        if loader is not None and _dotted(loader).split(".")[-1] not in _SAFE_LOADERS:
            flag(node, f"{name}(Loader={_dotted(loader) or '...'})")
        if parts[0] == "yaml" and parts[-1] in _UNSAFE_YAML_CALLS:
            flag(node, f"{name}() builds Python objects")
        if parts[0] == "yaml" and parts[-1] in ("load", "load_all") and loader is None:
            flag(node, f"{name}() without a safe Loader")
        if len(parts) >= 2 and (parts[-2], parts[-1]) in _UNPICKLERS:
            flag(node, f"{name}() unpickles")
        allowPickle = _keyword(node, "allow_pickle")
        if parts[-1] == "load" and parts[0] in ("np", "numpy") and allowPickle is not None:
            if not _isConstant(allowPickle, False):
                flag(node, f"{name}(allow_pickle=...) unpickles")
        if name == "torch.load" and not _isConstant(_keyword(node, "weights_only"), True):
            if relative not in DOCUMENTED_FULL_UNPICKLING:
                flag(node, "torch.load without weights_only=True")
        if parts[-1] == "load" and parts[0] in ("sio", "skops") and len(parts) <= 3:
            trusted = _keyword(node, "trusted")
            if trusted is None or _isConstant(trusted, True):
                flag(node, f"{name}() without a list of trusted types")
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            flag(node, f"{name}() runs code")
    return found


def test_the_library_loads_files_as_data_only():
    problems = []
    for path in libraryFiles():
        relative = path.relative_to(REPOSITORY).as_posix()
        problems += violations(path.read_text(encoding="utf-8"), relative)
    assert not problems, "unsafe loading:\n" + "\n".join(problems)
    assert len(libraryFiles()) > 100  # the scan saw the library


def test_the_documented_full_unpickling_is_behind_the_trust_check():
    """The one ``weights_only=False`` load is in the trusted branch of the checkpoint loader."""
    source = (REPOSITORY / "VirtualBiopsy/models/checkpoints.py").read_text(encoding="utf-8")
    trusted, _, fullLoad = source.partition("if entry is None or not entry.trusted:")
    assert "weights_only=False" not in trusted and fullLoad.count("weights_only=False") == 1


BAD = {
    "yaml.load": "import yaml\nyaml.load(text)\n",
    "yaml.load unsafe Loader": "import yaml\nyaml.load(text, Loader=yaml.Loader)\n",
    "yaml.full_load": "import yaml\nyaml.full_load(text)\n",
    "yaml.unsafe_load": "import yaml\nyaml.unsafe_load(text)\n",
    "yaml.compose FullLoader": "import yaml\nyaml.compose(text, Loader=yaml.FullLoader)\n",
    "UnsafeLoader reference": "import yaml\nloader = yaml.UnsafeLoader\n",
    "pickle.load": "import pickle\npickle.load(handle)\n",
    "pickle.loads": "import pickle\npickle.loads(data)\n",
    "joblib.load": "import joblib\njoblib.load(path)\n",
    "read_pickle": "import pandas as pd\npd.read_pickle(path)\n",
    "np.load allow_pickle": "import numpy as np\nnp.load(path, allow_pickle=True)\n",
    "torch.load": "import torch\ntorch.load(path)\n",
    "torch.load weights_only False": "import torch\ntorch.load(path, weights_only=False)\n",
    "skops without trusted": "import skops.io as sio\nsio.load(path)\n",
    "skops trusted=True": "import skops.io as sio\nsio.load(path, trusted=True)\n",
    "eval": "eval(text)\n",
}
GOOD = {
    "safe_load": "import yaml\nyaml.safe_load(text)\n",
    "load SafeLoader": "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)\n",
    "compose SafeLoader": "import yaml\nyaml.compose(text, Loader=yaml.SafeLoader)\n",
    "torch weights_only": "import torch\ntorch.load(path, map_location='cpu', weights_only=True)\n",
    "np.load": "import numpy as np\nnp.load(path)\n",
    "skops trusted list": "import skops.io as sio\nsio.load(path, trusted=['numpy.dtype'])\n",
    "network.eval": "network.eval()\n",
}


@pytest.mark.parametrize("snippet", BAD)
def test_the_scan_flags_each_unsafe_load(snippet):
    assert violations(BAD[snippet], "VirtualBiopsy/example.py"), snippet


@pytest.mark.parametrize("snippet", GOOD)
def test_the_scan_passes_safe_loads(snippet):
    assert violations(GOOD[snippet], "VirtualBiopsy/example.py") == []
