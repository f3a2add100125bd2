"""Each action of a module installs exactly what it imports, and nothing more.

A module's actions run through ``runStage(message, action, function)`` (or, in the Outcome module, a section
whose ``ACTION`` names it); before running, the panel installs ``Resources/Requirements/<module>/<action>.txt``.
For every action, the logic methods it calls are read from the module file, and the packages those methods'
imports reach (:mod:`importClosure`) must be listed in the action's file, shipped with Slicer, or come from a
Slicer extension; the file must list nothing else (the threshold segmentation does not ask for MONAI).
"""

import ast
import pathlib
import re

import pytest
from importClosure import importsIn, thirdPartyImports
from moduleSources import helperFiles, moduleSources

MODULES = {source.name: source for source in moduleSources()}
#: Python packages that 3D Slicer 5.10 ships (SuperBuild/External_python-*.cmake) and the stand-ins of its own API.
#: Not highdicom: Slicer ships it from 5.12 on (External_python-dicom-requirements.cmake), 5.10 does not.
SHIPPED_WITH_SLICER = {
    "numpy",
    "scipy",
    "SimpleITK",
    "vtk",
    "slicer",
    "qt",
    "ctk",
    "pydicom",
    "packaging",
    "PIL",
    "requests",
}
#: Import name → the distribution a requirements file names.
DISTRIBUTIONS = {
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "radiomics": "pyradiomics",
    "pywt": "pywavelets",
    "intensity_normalization": "intensity-normalization",
}
#: Imports a requirements file does not list because an extension provides them (EXTENSION_DEPENDS):
#: pyradiomics' own dependencies come with SlicerRadiomics' pyradiomics.
FROM_EXTENSIONS = {"pykwalify", "pywt"}
#: Library modules an action never reaches, with why (the closure would follow them otherwise).
NOT_REACHED = {
    # SegmentationLogic.run hands method "model" to modelLogic (the model registry, sequence names); z-scoring imports the normalization package,
    # whose CLAHE (scikit-image) the threshold never calls. test_threshold_segmentation_without_ai_packages
    # runs the threshold action with those packages blocked.
    ("VirtualBiopsySegmentation", "threshold"): frozenset(
        {
            "VirtualBiopsy.segment.modelLogic",
            "VirtualBiopsy.models.registry",
            "VirtualBiopsy.segment.backends.channels",
            "VirtualBiopsy.harmonize.normalization.clahe",
        }
    ),
}
#: Imports made by Slicer's own helpers that an action calls (``slicer.util.dataframeFromTable`` imports pandas).
THROUGH_SLICER = {("VirtualBiopsySegmentation", "review"): {"pandas"}}


def _logicReferences(node: ast.AST) -> set[str]:
    """``logic.<name>`` attributes used under ``node`` (``self.logic.x``, ``self.widget.logic.x``)."""
    return {
        inner.attr
        for inner in ast.walk(node)
        if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Attribute) and inner.value.attr == "logic"
    }


def _constants(node: ast.AST) -> list[str]:
    return [inner.value for inner in ast.walk(node) if isinstance(inner, ast.Constant) and isinstance(inner.value, str)]


def actionMethods(source) -> dict[str, set[str]]:
    """``{action: logic methods it runs}`` from the module file and its own helper files."""
    trees = [source.tree] + [ast.parse(path.read_text(encoding="utf-8")) for path in helperFiles(source.tree)]
    actions: dict[str, set[str]] = {}
    forwarders = {}  # helper methods that hand a logic method to runStage with a fixed action
    for tree in trees:
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                for call in ast.walk(function):
                    if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "runStage":
                        if (
                            len(call.args) >= 2
                            and isinstance(call.args[1], ast.Constant)
                            and not _logicReferences(call)
                        ):
                            forwarders[function.name] = call.args[1].value
    for tree in trees:
        for classNode in [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]:
            classAction = next(
                (
                    statement.value.value
                    for statement in classNode.body
                    if isinstance(statement, ast.Assign)
                    and getattr(statement.targets[0], "id", "") == "ACTION"
                    and isinstance(statement.value, ast.Constant)
                ),
                None,
            )
            for call in ast.walk(classNode):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "attr", None)
                if name == "runStage" and len(call.args) == 3:
                    names = _constants(call.args[1])
                elif name in forwarders:
                    names = [forwarders[name]]
                elif (
                    name == "run"
                    and classAction
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == "self"
                ):
                    names = [classAction]
                else:
                    continue
                for action in names:
                    actions.setdefault(action, set()).update(_logicReferences(call))
    return actions


def methodImports(source, methods: set[str]) -> set[str]:
    """What the module logic's ``methods`` import inside their bodies (and the private helpers they call)."""
    logic = next(node for node in source.tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Logic"))
    bodies = {node.name: node for node in logic.body if isinstance(node, ast.FunctionDef)}
    moduleFunctions = {node.name: node for node in source.tree.body if isinstance(node, ast.FunctionDef)}
    names, pending, seen = set(), list(methods), set()
    while pending:
        name = pending.pop()
        node = bodies.get(name) or moduleFunctions.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        names |= importsIn(node)
        pending += [
            call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            for call in ast.walk(node)
            if isinstance(call, ast.Call)
        ]
    return names


def listedRequirements(path: pathlib.Path) -> set[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return {re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0].lower().replace("_", "-") for line in lines if line}


CASES = [(name, action) for name, source in sorted(MODULES.items()) for action in sorted(actionMethods(source))]


def test_every_module_has_its_actions():
    assert {action for name, action in CASES if name == "VirtualBiopsySegmentation"} == {
        "threshold",
        "model",
        "review",
        "dicomExport",
    }
    assert {action for name, action in CASES if name == "VirtualBiopsyHarmonization"} == {
        "preprocessing",
        "registration",
        "normalization",
        "combat",
        "styleTransfer",
    }
    assert {action for name, action in CASES if name == "VirtualBiopsyOutcome"} == {
        "features",
        "cohortOutcome",
        "exploration",
        "survival",
        "classifiers",
        "deepLearning",
        "patientSummary",
    }


@pytest.mark.parametrize(("moduleName", "action"), CASES, ids=[f"{m}-{a}" for m, a in CASES])
def test_action_requirements_are_what_the_action_imports(moduleName, action):
    source = MODULES[moduleName]
    methods = actionMethods(source)[action]
    assert methods, f"{action} runs no logic method"
    path = source.folder / "Resources" / "Requirements" / moduleName / f"{action}.txt"
    assert path.is_file(), f"{action} has no requirements file {path.relative_to(source.folder)}"
    imported = thirdPartyImports(methodImports(source, methods), NOT_REACHED.get((moduleName, action), frozenset()))
    imported |= THROUGH_SLICER.get((moduleName, action), set())
    needed = {DISTRIBUTIONS.get(name, name).lower() for name in imported - SHIPPED_WITH_SLICER - FROM_EXTENSIONS}
    listed = listedRequirements(path)
    assert needed <= listed, f"{path.name} misses {sorted(needed - listed)} (the action imports them)"
    assert listed <= needed, f"{path.name} lists {sorted(listed - needed)}, which the action never imports"


def test_segmentation_threshold_needs_no_ai_packages():
    listed = listedRequirements(
        MODULES["VirtualBiopsySegmentation"].folder
        / "Resources"
        / "Requirements"
        / "VirtualBiopsySegmentation"
        / "threshold.txt"
    )
    assert not listed & {"torch", "monai", "nnunetv2"}


def test_build_files_install_every_requirements_file():
    for source in MODULES.values():
        text = (source.folder / "CMakeLists.txt").read_text(encoding="utf-8")
        files = sorted((source.folder / "Resources" / "Requirements").rglob("*.txt"))
        for path in files:
            relative = path.relative_to(source.folder).as_posix().replace(source.name, "${MODULE_NAME}")
            assert relative in text, f"{source.folder.name}/CMakeLists.txt does not install {relative}"


THRESHOLD_RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from importBlocker import blockImports
attempts = blockImports(("torch", "monai", "nnunetv2", "jsonschema", "skimage", "psutil"), "not for the threshold")
from syntheticImages import headWithLesion
from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.logic import SegmentationLogic
scene = createScene()
image, lesion, head = headWithLesion(size=48)
volume = imageToVolumeNode(image, scene, "T1c")
segmentation = SegmentationLogic(scene).run(volume, SegmentationConfig(method="threshold"))
print(json.dumps({"segments": segmentation.GetSegmentation().GetNumberOfSegments(), "attempts": attempts}))
"""


def test_threshold_segmentation_without_ai_packages():
    """The threshold action runs (on real slicer-core nodes) with torch, MONAI, nnU-Net, jsonschema, scikit-image
    and psutil unimportable: what :data:`NOT_REACHED` leaves out is indeed never reached."""
    import json
    import os
    import subprocess
    import sys

    from moduleSources import REPOSITORY

    completed = subprocess.run(
        [sys.executable, "-c", THRESHOLD_RUN, str(pathlib.Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(REPOSITORY),
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"segments": 1, "attempts": []}


def test_readme_names_every_package_an_action_installs():
    """The README's "In 3D Slicer" section says what gets installed when: every package of every action file."""
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").lower()
    section = readme[readme.index("## in 3d slicer") : readme.index("## in the python console")]
    spelled = {"pyyaml": "pyyaml", "nnunetv2": "nnu-net v2", "scikit-image": "scikit-image"}
    for source in MODULES.values():
        for path in (source.folder / "Resources" / "Requirements").rglob("*.txt"):
            for name in listedRequirements(path):
                assert spelled.get(name, name) in section, (
                    f"the README does not say when {name} ({path.name}) is installed"
                )
