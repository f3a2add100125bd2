"""``pip install virtual-biopsy`` (no ``[ai]`` extra) gives a library that imports and extracts.

In a fresh interpreter where torch, MONAI, nnU-Net, TorchIO and shapiq cannot be imported (a
``sys.meta_path`` blocker), every library module imports except the few that build networks at import
time (:data:`AI_ONLY`), and a radiomics extraction of a synthetic image with a lesion gives finite features.
The pyproject's core dependencies must not name those packages; ``[ai]`` must.
"""

import json
import os
import pathlib
import subprocess
import sys

import tomllib
from moduleSources import REPOSITORY

#: The ``[ai]`` extra's packages (and what they pull in that is never imported here).
AI_PACKAGES = ("torch", "monai", "nnunetv2", "torchio", "shapiq", "torchvision", "timm")
#: Library modules that need torch as soon as they are imported (they define networks).
AI_ONLY = {"VirtualBiopsy.harmonize.styleTransfer.cycleGan", "VirtualBiopsy.harmonize.styleTransfer.networks"}

PROBE = """
import importlib, json, math, pkgutil, sys
sys.path.insert(0, {testing!r})
from importBlocker import blockImports
attempts = blockImports({blocked!r}, "not installed without [ai]")
import VirtualBiopsy
failed = {{}}
for info in pkgutil.walk_packages(VirtualBiopsy.__path__, "VirtualBiopsy."):
    try:
        importlib.import_module(info.name)
    except Exception as error:
        failed[info.name] = f"{{type(error).__name__}}: {{error}}"
from syntheticImages import headWithLesion
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
image, lesion, head = headWithLesion(size=40)
result = extractFeatures(image, lesion, RadiomicsSettings.fromPreset("mr-default"))
finite = all(math.isfinite(value) for value in result.features.values())
print(json.dumps({{"failed": failed, "features": len(result.features), "finite": finite,
                  "shape": "original_shape_MeshVolume" in result.features}}))
"""


def test_library_imports_and_extracts_without_the_ai_packages():
    script = PROBE.format(blocked=AI_PACKAGES, testing=str(pathlib.Path(__file__).parent))
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(REPOSITORY),
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    unexpected = {name: error for name, error in report["failed"].items() if name not in AI_ONLY}
    assert not unexpected, f"library modules that need the [ai] extra to import: {unexpected}"
    assert set(report["failed"]) == AI_ONLY, "an AI-only module now imports without torch: update AI_ONLY"
    assert report["features"] > 50 and report["finite"] and report["shape"]


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()


def test_core_dependencies_leave_the_ai_stack_to_the_ai_extra():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_name(requirement) for requirement in project["dependencies"]}
    ai = {_name(requirement) for requirement in project["optional-dependencies"]["ai"]}
    assert not core & set(AI_PACKAGES), sorted(core & set(AI_PACKAGES))
    assert {"torch", "monai", "nnunetv2", "torchio", "shapiq"} <= ai
    assert {
        "slicer-core",
        "pyradiomics",
        "simpleitk",
        "pandas",
        "scikit-learn",
        "lifelines",
        "pyyaml",
        "jsonschema",
        "openpyxl",
    } <= core


def test_make_setup_installs_every_extra_the_tests_use():
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    assert '-e ".[ai,dicom,test,lint]"' in makefile
