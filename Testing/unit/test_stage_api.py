"""The stages' public API: each stage package exports its logics and configs (imported on first use), the
README's console example imports only names that exist, and importing a stage package stays light."""

import ast
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
STAGE_API = {
    "VirtualBiopsy.harmonize": {"HarmonizationLogic", "HarmonizationConfig"},
    "VirtualBiopsy.segment": {"SegmentationLogic", "SegmentationConfig", "ReviewLogic"},
    "VirtualBiopsy.extract": {"ExtractionLogic", "ExtractionConfig"},
    "VirtualBiopsy.outcome": {"SurvivalLogic", "ClassificationLogic"},
}


@pytest.mark.parametrize("package", sorted(STAGE_API))
def test_each_stage_exports_its_logics_and_configs(package):
    module = importlib.import_module(package)
    assert STAGE_API[package] <= set(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        assert value.__name__ == name and value.__module__.startswith(package + "."), name
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr(module, "Nope")


def test_the_readme_console_example_imports_exist():
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## In the Python console") : readme.index("## Headless batch")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    imports = [node for node in ast.parse(code).body if isinstance(node, ast.ImportFrom)]
    assert len(imports) >= 4
    for node in imports:
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def test_importing_a_stage_package_imports_none_of_its_logics():
    """A Slicer module imports a stage's config at load time; the package must not drag in its logics."""
    code = (
        "import sys, VirtualBiopsy.harmonize, VirtualBiopsy.segment, VirtualBiopsy.extract, VirtualBiopsy.outcome; "
        "print(sorted(m for m in sys.modules if m.startswith('VirtualBiopsy.') and m.count('.') > 1))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPOSITORY)
    names = ast.literal_eval(loaded.stdout.strip())
    assert not [name for name in names if name.rsplit(".", 1)[-1].lower().endswith("logic")], names
