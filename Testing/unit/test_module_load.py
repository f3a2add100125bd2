"""Loading a Slicer module file imports nothing that 3D Slicer does not ship.

Slicer 5.10 has no pandas, PyYAML, jsonschema, openpyxl, scikit-learn, lifelines, torch, MONAI or nnU-Net:
a module that imports one of them when it loads does not appear in Slicer at all. Each module file is
imported here in a fresh interpreter where those packages cannot be imported (a ``sys.meta_path``
blocker that records every attempt) and where the Slicer-only modules are replaced by the minimal
stand-ins of :mod:`slicerStandIns`, only so that the file can be imported. The test then asserts that the
import succeeded, that nothing tried to import a blocked package (even one that caught the error), and
that every third-party package the import loaded is one Slicer ships.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from moduleSources import REPOSITORY, moduleSources

MODULES = moduleSources()
#: Not shipped with Slicer 5.10 (see its SuperBuild/), and needed by some action.
BLOCKED = (
    "pandas",
    "yaml",
    "jsonschema",
    "openpyxl",
    "sklearn",
    "lifelines",
    "torch",
    "monai",
    "nnunetv2",
    "matplotlib",
    "torchio",
    "shapiq",
    "skops",
    "radiomics",
    "psutil",
    "skimage",
    "combatlearn",
    "intensity_normalization",
    "dask",
    "distributed",
    "tqdm",
)
#: Top-level packages a module file may load: Slicer's own Python packages (SuperBuild/External_python-*;
#: ``swig_runtime_data5`` is SimpleITK's SWIG runtime),
#: the stand-ins, and this extension's two packages.
SHIPPED_WITH_SLICER = {
    "numpy",
    "scipy",
    "SimpleITK",
    "vtk",
    "vtkmodules",
    "pydicom",
    "packaging",
    "PIL",
    "requests",
    "urllib3",
    "certifi",
    "idna",
    "charset_normalizer",
    "six",
    "highdicom",
    "typing_extensions",
    "pyparsing",
    "swig_runtime_data5",
    "slicer",
    "qt",
    "ctk",
    "VirtualBiopsy",
    "VirtualBiopsyWidgets",
}

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {testing!r})
from importBlocker import blockImports
attempts = blockImports({blocked!r}, "Slicer does not ship it")
import slicerStandIns
slicerStandIns.install()
before = set(sys.modules)
spec = importlib.util.spec_from_file_location({name!r}, {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
loaded = sorted({{name.split(".")[0] for name in set(sys.modules) - before}} - set(sys.stdlib_module_names))
print(json.dumps({{"attempts": attempts, "loaded": loaded}}))
"""


def loadModuleFile(source) -> dict:
    """Import ``source``'s module file in a fresh interpreter; return what it tried and loaded."""
    script = PROBE.format(
        testing=str(pathlib.Path(__file__).parent), blocked=BLOCKED, name=source.name, path=str(source.pyPath)
    )
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        cwd=str(REPOSITORY),
        timeout=120,
    )
    assert completed.returncode == 0, (
        f"{source.pyPath.name} does not load without Slicer-foreign packages:\n" + (completed.stderr[-3000:])
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("source", MODULES, ids=[source.name for source in MODULES])
def test_module_file_loads_with_only_what_slicer_ships(source):
    report = loadModuleFile(source)
    assert not report["attempts"], f"{source.pyPath.name} tries to import {report['attempts']} when it loads"
    foreign = sorted(set(report["loaded"]) - SHIPPED_WITH_SLICER)
    assert not foreign, f"{source.pyPath.name} loads packages Slicer does not ship: {foreign}"
    assert {"VirtualBiopsy", "VirtualBiopsyWidgets"} <= set(report["loaded"])


def test_the_three_modules_are_checked():
    assert {source.name for source in MODULES} >= {
        "VirtualBiopsyHarmonization",
        "VirtualBiopsySegmentation",
        "VirtualBiopsyOutcome",
    }


def test_probe_catches_a_load_time_import(tmp_path):
    """Self-check: a module file that imports pandas at load fails, one that catches the error is reported."""
    from moduleSources import ModuleSource

    failing = tmp_path / "Failing.py"
    failing.write_text("import pandas\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="No module named 'pandas'"):
        loadModuleFile(ModuleSource("Failing", failing, failing, None))
    hiding = tmp_path / "Hiding.py"
    hiding.write_text(
        "try:\n    import yaml\nexcept ImportError:\n    yaml = None\nimport VirtualBiopsy\n"
        "import VirtualBiopsyWidgets.moduleSupport\n",
        encoding="utf-8",
    )
    assert loadModuleFile(ModuleSource("Hiding", hiding, hiding, None))["attempts"] == ["yaml"]
