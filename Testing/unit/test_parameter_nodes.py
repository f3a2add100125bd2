"""Each module's ``@parameterNodeWrapper`` class mirrors the stage config dataclasses it builds,
field for field: same names, same types, defaults read from the dataclass.

Read statically (see :mod:`moduleSources`): the module files need Slicer to import.
"""

import ast
import dataclasses

import pytest
from moduleSources import (
    configClassesUsed,
    dataclassFieldType,
    defaultsInstances,
    moduleSources,
    parameterFields,
    parameterNodeClass,
)

MODULES = moduleSources()


def parameterNodeProblems(tree: ast.Module) -> list[str]:
    """Every way the module's parameter node differs from the configs it builds.

    A module builds a config with ``configFromParameterNode(Config, parameterNode)``;
    the parameter node must then have each field of ``Config`` with the same type
    and a default read from a module-level ``NAME = Config()`` (``NAME.<field>``).
    Its other fields must be MRML nodes, and two configs of one module must not
    share a field name.
    """
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return ["no @parameterNodeWrapper class"]
    configs = configClassesUsed(tree)
    if not configs:
        return ["no configFromParameterNode(<Config>, ...) call"]
    fields = parameterFields(classNode)
    instances = defaultsInstances(tree)
    problems, owners = [], {}
    for configClass in configs:
        defaultsNames = {name for name, className in instances.items() if className == configClass.__name__}
        for field in dataclasses.fields(configClass):
            if field.name in owners:
                problems.append(f"'{field.name}' is a field of both {owners[field.name]} and {configClass.__name__}")
            owners[field.name] = configClass.__name__
            if field.name not in fields:
                problems.append(f"{configClass.__name__}.{field.name} is missing")
                continue
            parameter = fields[field.name]
            if parameter.typeText != dataclassFieldType(field):
                problems.append(
                    f"{field.name} is '{parameter.typeText}' here but '{dataclassFieldType(field)}' in {configClass.__name__}"
                )
            readsDefault = parameter.default is not None and any(
                isinstance(node, ast.Attribute)
                and node.attr == field.name
                and isinstance(node.value, ast.Name)
                and node.value.id in defaultsNames
                for node in ast.walk(parameter.default)
            )
            if not readsDefault:
                shown = ast.unparse(parameter.default) if parameter.default is not None else "no default"
                problems.append(f"{field.name} default is {shown}, not <{configClass.__name__}()>.{field.name}")
    for name, parameter in fields.items():
        if name not in owners and not parameter.typeText.startswith("vtkMRML"):
            problems.append(f"{name} ({parameter.typeText}) is neither a config field nor an MRML node")
    return problems


def test_the_three_modules_are_found():
    names = {source.name for source in MODULES}
    assert {"VirtualBiopsyHarmonization", "VirtualBiopsySegmentation", "VirtualBiopsyOutcome"} <= names


@pytest.mark.parametrize("source", MODULES, ids=[source.name for source in MODULES])
def test_parameter_node_mirrors_the_configs(source):
    assert source.tree is not None, f"{source.uiPath} has no module file {source.pyPath}"
    problems = parameterNodeProblems(source.tree)
    assert not problems, f"{source.pyPath.name}: " + "; ".join(problems)


def test_outcome_module_holds_the_settings_of_its_seven_sections():
    (source,) = [source for source in MODULES if source.name == "VirtualBiopsyOutcome"]
    names = [configClass.__name__ for configClass in configClassesUsed(source.tree)]
    assert sorted(names) == sorted(["ExtractionConfig", "OutcomeConfig", "ExplorationConfig", "SurvivalConfig",
                                    "ClassifierPanelConfig", "DeepOutcomeConfig", "PatientSummaryConfig"])


PLANTED = """
from VirtualBiopsy.harmonize.config import HarmonizationConfig
DEFAULTS = HarmonizationConfig()

@parameterNodeWrapper
class P:
    inputVolume: vtkMRMLScalarVolumeNode
    normalisation: str = DEFAULTS.normalization
    maskMode: Annotated[int, Choice([1])] = 1
    backgroundValue: Annotated[float, WithinRange(-1, 1)] = DEFAULTS.backgroundValue

def process(parameterNode):
    return configFromParameterNode(HarmonizationConfig, parameterNode)
"""


def test_detector_reports_planted_drift():
    """Self-check: a renamed field, a wrong type and a literal default are all reported."""
    problems = "\n".join(parameterNodeProblems(ast.parse(PLANTED)))
    assert "HarmonizationConfig.normalization is missing" in problems
    assert "maskMode is 'int' here but 'str'" in problems
    assert "maskMode default is 1" in problems
    assert "normalisation (str) is neither a config field nor an MRML node" in problems
    assert "backgroundValue" not in problems
    assert "inputVolume" not in problems
