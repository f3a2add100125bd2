"""Each module's ``@parameterNodeWrapper`` class mirrors the stage config dataclasses it builds,
field for field: same names, same types, defaults read from the dataclass.

A node is flat (the configs' fields on the node itself) or made of one ``@parameterPack`` per panel
section, each pack mirroring the config that ``configFromParameterNode(Config, parameterNode.<pack>)``
builds from it, plus that section's MRML nodes. Both shapes are checked the same way.

Read statically (see :mod:`moduleSources`): the module files need Slicer to import.
"""

import ast
import dataclasses

import pytest
from moduleSources import (
    configClassesUsed,
    configUses,
    dataclassFieldType,
    defaultsInstances,
    moduleSources,
    parameterFields,
    parameterNodeClass,
    parameterPackClasses,
    parameterScopes,
)

MODULES = moduleSources()


def parameterNodeProblems(tree: ast.Module) -> list[str]:
    """Every way the module's parameter node differs from the configs it builds.

    A module builds a config with ``configFromParameterNode(Config, parameterNode)`` (a flat node) or
    ``configFromParameterNode(Config, parameterNode.<pack>)`` (a ``@parameterPack`` field of the node);
    that node or pack must then have each field of ``Config`` with the same name and type and a default
    read from a module-level ``NAME = Config()`` (``NAME.<field>``). Its other fields must be MRML
    nodes; two configs read from the same node or pack must not share a field name, and a pack mirrors
    one config only (one pack per panel section).
    """
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return ["no @parameterNodeWrapper class"]
    uses = configUses(tree)
    if not uses:
        return ["no configFromParameterNode(<Config>, ...) call"]
    scopes = parameterScopes(tree)
    instances = defaultsInstances(tree)
    problems, owners, configsOf = [], {}, {}
    for configClass, scope in uses:
        configName = configClass.__name__
        if scope not in scopes:
            problems.append(f"configFromParameterNode({configName}, ...) reads '{scope}', which is neither the "
                            "parameter node nor one of its @parameterPack fields")
            continue
        configsOf.setdefault(scope, []).append(configName)
        fields, where = scopes[scope], f"{scope}." if scope else ""
        defaultsNames = {name for name, className in instances.items() if className == configName}
        for field in dataclasses.fields(configClass):
            if (scope, field.name) in owners:
                problems.append(f"'{where}{field.name}' is a field of both {owners[scope, field.name]} and {configName}")
            owners[scope, field.name] = configName
            if field.name not in fields:
                problems.append(f"{configName}.{field.name} is missing" + (f" from pack '{scope}'" if scope else ""))
                continue
            parameter = fields[field.name]
            if parameter.typeText != dataclassFieldType(field):
                problems.append(
                    f"{where}{field.name} is '{parameter.typeText}' here but '{dataclassFieldType(field)}' in {configName}"
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
                problems.append(f"{where}{field.name} default is {shown}, not <{configName}()>.{field.name}")
    for scope, names in configsOf.items():
        if scope and len(names) > 1:
            problems.append(f"pack '{scope}' mirrors {' and '.join(names)}; give each config its own pack")
    for scope, fields in scopes.items():
        where = f"{scope}." if scope else ""
        for name, parameter in fields.items():
            if (scope, name) not in owners and not parameter.typeText.startswith("vtkMRML"):
                problems.append(f"{where}{name} ({parameter.typeText}) is neither a config field nor an MRML node")
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


PLANTED_PACKS = """
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
SEGMENTATION = SegmentationConfig()
HARMONIZATION = HarmonizationConfig()

@parameterPack
class SegmentationSection:
    inputVolume: vtkMRMLScalarVolumeNode
    method: Annotated[str, Choice(["a"])] = SEGMENTATION.method
    treshold: float = SEGMENTATION.threshold

@parameterPack
class ReviewSection:
    changesTable: vtkMRMLTableNode
    note: str = ""

@parameterNodeWrapper
class P:
    segmentation: SegmentationSection
    review: ReviewSection

def process(parameterNode):
    configFromParameterNode(SegmentationConfig, parameterNode.segmentation)
    configFromParameterNode(HarmonizationConfig, parameterNode.segmentation)
    return configFromParameterNode(SegmentationConfig, parameterNode.missing)
"""


def test_detector_reports_planted_drift_in_packs():
    """Self-check: a pack's misspelt field, a second config in one pack, a value that belongs to no config,
    and a config read from something that is not a pack are reported, with dotted names."""
    problems = "\n".join(parameterNodeProblems(ast.parse(PLANTED_PACKS)))
    assert "SegmentationConfig.threshold is missing from pack 'segmentation'" in problems
    assert "segmentation.treshold (float) is neither a config field nor an MRML node" in problems
    assert "review.note (str) is neither a config field nor an MRML node" in problems
    assert "pack 'segmentation' mirrors SegmentationConfig and HarmonizationConfig" in problems
    assert "reads 'missing'" in problems
    assert "segmentation.method" not in problems
    assert "inputVolume" not in problems and "changesTable" not in problems


def test_segmentation_node_is_one_pack_per_section():
    """Segmentation: the settings (Automatic segmentation, AI model) with their input volume and output
    segmentation in pack ``segmentation``, built into SegmentationConfig; the review's table in pack
    ``review``; nothing on the node itself."""
    from VirtualBiopsy.segment.config import SegmentationConfig

    (source,) = [source for source in MODULES if source.name == "VirtualBiopsySegmentation"]
    packs = parameterPackClasses(source.tree)
    node = parameterFields(parameterNodeClass(source.tree))
    assert {name: field.typeText for name, field in node.items()} == {
        "segmentation": "SegmentationSection", "review": "ReviewSection"}
    assert set(packs) == {"SegmentationSection", "ReviewSection"}
    assert configUses(source.tree) == [(SegmentationConfig, "segmentation")]
    scopes = parameterScopes(source.tree)
    assert scopes[""] == {}
    assert list(scopes["segmentation"]) == ["inputVolume", "outputSegmentation",
                                            *(field.name for field in dataclasses.fields(SegmentationConfig))]
    assert {name: field.typeText for name, field in scopes["review"].items()} == {"changesTable": "vtkMRMLTableNode"}


def test_detector_reports_planted_drift():
    """Self-check: a renamed field, a wrong type and a literal default are all reported."""
    problems = "\n".join(parameterNodeProblems(ast.parse(PLANTED)))
    assert "HarmonizationConfig.normalization is missing" in problems
    assert "maskMode is 'int' here but 'str'" in problems
    assert "maskMode default is 1" in problems
    assert "normalisation (str) is neither a config field nor an MRML node" in problems
    assert "backgroundValue" not in problems
    assert "inputVolume" not in problems
