"""The Outcome module's code reads only what its parameter node has: ``parameterNode.<pack>.<member>`` (and
members of a pack held in a variable, ``cohort = parameterNode.cohort``) in the module file, its section glue and
its self-tests name a pack of the node and a member of that pack (a typo would only fail inside Slicer).

Read statically (see :mod:`moduleSources`): the module files need Slicer to import.
"""

import ast

from moduleSources import (
    WIDGET_HELPERS,
    helperFiles,
    moduleSources,
    parameterFields,
    parameterNodeClass,
    parameterPacks,
)

(SOURCE,) = [source for source in moduleSources() if source.name == "VirtualBiopsyOutcome"]
WRAPPER_METHODS = {"connectGui", "disconnectGui", "parameterNode", "default", "getValue", "setValue"}


def _isParameterNode(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "parameterNode") or (
        isinstance(node, ast.Attribute) and node.attr in ("parameterNode", "_parameterNode")
    )


def attributeProblems(tree: ast.Module, packs: dict[str, set[str]], where: str) -> set[str]:
    """``parameterNode.<x>`` that is no pack, ``parameterNode.<pack>.<y>`` and ``<variable>.<y>`` (a variable
    assigned ``parameterNode.<pack>``) that are no member of the pack."""
    problems, variables = set(), {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Attribute)
            and _isParameterNode(node.value.value)
        ):
            variables[node.targets[0].id] = node.value.attr
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if _isParameterNode(node.value) and node.attr not in packs and node.attr not in WRAPPER_METHODS:
            problems.add(f"{where}: parameterNode.{node.attr} is no pack")
        owner = node.value
        if isinstance(owner, ast.Attribute) and _isParameterNode(owner.value) and owner.attr in packs:
            pack = owner.attr
        elif isinstance(owner, ast.Name) and owner.id in variables and variables[owner.id] in packs:
            pack = variables[owner.id]
        else:
            continue
        if node.attr not in packs[pack]:
            problems.add(f"{where}: {pack}.{node.attr} is no member of pack {pack}")
    return problems


def outcomeTrees() -> dict[str, ast.Module]:
    trees = {SOURCE.pyPath.name: SOURCE.tree}
    paths = [*helperFiles(SOURCE.tree), WIDGET_HELPERS / "outcomeSelfTests.py"]
    trees |= {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in paths}
    return trees


def test_parameter_node_attributes_the_code_reads_exist():
    packs = {name: set(parameterFields(pack)) for name, (pack, _tree) in parameterPacks(SOURCE.tree).items()}
    assert set(packs) == set(parameterFields(parameterNodeClass(SOURCE.tree)))
    trees = outcomeTrees()
    expected = {"outcomeSections.py", "outcomeModelSections.py", "outcomeSelfTests.py", "outcomeParameters.py"}
    assert expected <= set(trees)
    problems = set()
    for name, tree in trees.items():
        problems |= attributeProblems(tree, packs, name)
    assert not problems, sorted(problems)


def test_detector_reports_planted_typos():
    """Self-check: an unknown pack, an unknown member and an unknown member through a variable are reported."""
    tree = ast.parse("""
def f(self, parameterNode):
    parameterNode.cohort.featuresTable = None
    parameterNode.survival.tabel
    parameterNode.surival.table
    cohort = parameterNode.cohort
    cohort.chrt = 1
    self.parameterNode.cohort.chart
""")
    packs = {"cohort": {"featuresTable", "chart"}, "survival": {"table"}}
    assert attributeProblems(tree, packs, "f") == {
        "f: survival.tabel is no member of pack survival",
        "f: parameterNode.surival is no pack",
        "f: cohort.chrt is no member of pack cohort",
    }
