"""Each module's ``@parameterNodeWrapper`` class mirrors the stage config dataclasses it builds,
field for field: same names, same types, defaults read from the dataclass.

A parameter node is either flat (the config fields are its own) or made of one ``@parameterPack`` per panel
section (``configFromParameterNode(Config, parameterNode.<pack>)``: the pack mirrors the config, its config
fields first, then the section's nodes). Read statically (see :mod:`moduleSources`): the module files need
Slicer to import.
"""

import ast
import dataclasses

import pytest
from moduleSources import (
    configBindings,
    dataclassFieldType,
    moduleLevelDefaults,
    moduleSources,
    parameterFields,
    parameterNodeClass,
    parameterPacks,
)

MODULES = moduleSources()


def mirrorProblems(configClass: type, fields: dict, defaultsNames: set[str], where: str) -> list[str]:
    """How ``fields`` (of the flat node, ``where`` "", or of a pack, ``where`` "<pack>.") differ from ``configClass``."""
    problems = []
    for field in dataclasses.fields(configClass):
        if field.name not in fields:
            problems.append(
                f"{configClass.__name__}.{field.name} is missing" + (f" from {where[:-1]}" if where else "")
            )
            continue
        parameter = fields[field.name]
        if parameter.typeText != dataclassFieldType(field):
            problems.append(
                f"{where}{field.name} is '{parameter.typeText}' here but '{dataclassFieldType(field)}' in "
                f"{configClass.__name__}"
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
            problems.append(f"{where}{field.name} default is {shown}, not <{configClass.__name__}()>.{field.name}")
    return problems


def parameterNodeProblems(tree: ast.Module) -> list[str]:
    """Every way the module's parameter node differs from the configs it builds.

    A module builds a config with ``configFromParameterNode(Config, parameterNode)`` (flat node) or
    ``configFromParameterNode(Config, parameterNode.<pack>)`` (one pack per section). The node, or the pack,
    must then have each field of ``Config`` with the same type and a default read from a module-level
    ``NAME = Config()`` (``NAME.<field>``); a pack lists the config's fields first, in order. Other fields
    must be MRML nodes (or, on the node, packs), two configs read from one place must not share a field
    name, and every pack must mirror a config.
    """
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return ["no @parameterNodeWrapper class"]
    bindings = configBindings(tree)
    if not bindings:
        return ["no configFromParameterNode(<Config>, ...) call"]
    packs = parameterPacks(tree)
    instances = moduleLevelDefaults(tree)
    places = {None: parameterFields(classNode)} | {name: parameterFields(pack) for name, (pack, _) in packs.items()}
    problems, owners = [], {place: {} for place in places}
    for configClass, pack in bindings:
        if pack not in places:
            problems.append(
                f"configFromParameterNode({configClass.__name__}, parameterNode.{pack}): the parameter node "
                f"has no parameter pack '{pack}'"
            )
            continue
        where = f"{pack}." if pack else ""
        for field in dataclasses.fields(configClass):
            if field.name in owners[pack]:
                problems.append(
                    f"'{where}{field.name}' is a field of both {owners[pack][field.name]} and {configClass.__name__}"
                )
            owners[pack][field.name] = configClass.__name__
        defaultsNames = {name for name, className in instances.items() if className == configClass.__name__}
        problems += mirrorProblems(configClass, places[pack], defaultsNames, where)
        if pack is not None:
            names = [field.name for field in dataclasses.fields(configClass)]
            if list(places[pack])[: len(names)] != names:
                problems.append(
                    f"pack {pack} does not start with the fields of {configClass.__name__} in their order "
                    "(saveStageConfig(..., pack=) writes only them; Slicer reads a pack by its first member)"
                )
    for place, fields in places.items():
        where = f"{place}." if place else ""
        for name, parameter in fields.items():
            isPack = place is None and name in packs
            if name not in owners[place] and not isPack and not parameter.typeText.startswith("vtkMRML"):
                problems.append(f"{where}{name} ({parameter.typeText}) is neither a config field nor an MRML node")
        if place is not None and not owners[place]:
            if any(not parameter.typeText.startswith("vtkMRML") for parameter in fields.values()):
                problems.append(
                    f"pack {place} mirrors no config (no configFromParameterNode(<Config>, "
                    f"parameterNode.{place})) but holds values; a pack without a config holds nodes only"
                )
    return problems


def test_the_three_modules_are_found():
    names = {source.name for source in MODULES}
    assert {"VirtualBiopsyHarmonization", "VirtualBiopsySegmentation", "VirtualBiopsyOutcome"} <= names


@pytest.mark.parametrize("source", MODULES, ids=[source.name for source in MODULES])
def test_parameter_node_mirrors_the_configs(source):
    assert source.tree is not None, f"{source.uiPath} has no module file {source.pyPath}"
    problems = parameterNodeProblems(source.tree)
    assert not problems, f"{source.pyPath.name}: " + "; ".join(problems)


def test_outcome_node_is_one_pack_per_section():
    """The Outcome node holds one pack per section of the panel and nothing else; each pack mirrors its
    section's config (checked above)."""
    (source,) = [source for source in MODULES if source.name == "VirtualBiopsyOutcome"]
    bindings = {pack: configClass.__name__ for configClass, pack in configBindings(source.tree)}
    assert bindings == {
        "features": "ExtractionConfig",
        "cohort": "OutcomeConfig",
        "exploration": "ExplorationConfig",
        "survival": "SurvivalConfig",
        "classifiers": "ClassifierPanelConfig",
        "deepLearning": "DeepOutcomeConfig",
        "patientSummary": "PatientSummaryConfig",
        "cohortRun": "CohortRunRequest",
    }
    assert set(parameterFields(parameterNodeClass(source.tree))) == set(bindings) == set(parameterPacks(source.tree))


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


PLANTED_PACKS = """
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
DEFAULTS = HarmonizationConfig()
COMBAT = ComBatConfig()

@parameterPack
class NormalizationParameters:
    inputVolume: vtkMRMLScalarVolumeNode
    normalization: str = DEFAULTS.normalization
    maskMode: Annotated[str, Choice(["none"])] = DEFAULTS.maskMode
    backgroundValue: Annotated[int, WithinRange(-1, 1)] = DEFAULTS.backgroundValue
    threshold: float = 0.5

@parameterPack
class UnusedParameters:
    volume: vtkMRMLScalarVolumeNode
    note: str = "not from a config"

@parameterNodeWrapper
class P:
    normalization: NormalizationParameters
    unused: UnusedParameters

def process(parameterNode):
    configFromParameterNode(ComBatConfig, parameterNode.combat)
    return configFromParameterNode(HarmonizationConfig, parameterNode.normalization)
"""


def test_detector_reports_planted_drift_in_packs():
    """Self-check on a node of packs: a missing field, a wrong type, config fields after a node, a stray field,
    a pack that mirrors no config and a config read from a pack that does not exist are all reported."""
    problems = "\n".join(parameterNodeProblems(ast.parse(PLANTED_PACKS)))
    assert "HarmonizationConfig.whiteStripeWidth is missing from normalization" in problems
    assert "normalization.backgroundValue is 'int' here but 'float'" in problems
    assert "pack normalization does not start with the fields of HarmonizationConfig" in problems
    assert "normalization.threshold (float) is neither a config field nor an MRML node" in problems
    assert "pack unused mirrors no config" in problems
    assert "has no parameter pack 'combat'" in problems
    assert "normalization.maskMode" not in problems
    assert "inputVolume" not in problems


def test_harmonization_node_is_one_pack_per_section():
    (source,) = [source for source in MODULES if source.name == "VirtualBiopsyHarmonization"]
    bindings = {pack: configClass.__name__ for configClass, pack in configBindings(source.tree)}
    assert bindings == {
        "preprocessing": "PreprocessingConfig",
        "registration": "RegistrationConfig",
        "normalization": "HarmonizationConfig",
        "combat": "ComBatConfig",
        "styleTransfer": "StyleTransferConfig",
    }
    assert set(parameterFields(parameterNodeClass(source.tree))) == set(bindings) == set(parameterPacks(source.tree))


def test_segmentation_node_is_one_pack_per_section():
    """Segmentation: pack ``segmentation`` mirrors SegmentationConfig (its fields first) and holds the input volume
    and output segmentation; pack ``review`` holds the review's table only; nothing on the node itself."""
    from VirtualBiopsy.segment.config import SegmentationConfig

    (source,) = [source for source in MODULES if source.name == "VirtualBiopsySegmentation"]
    packs = parameterPacks(source.tree)
    assert set(parameterFields(parameterNodeClass(source.tree))) == set(packs) == {"segmentation", "review"}
    assert configBindings(source.tree) == [(SegmentationConfig, "segmentation")]
    assert list(parameterFields(packs["segmentation"][0])) == [
        *(field.name for field in dataclasses.fields(SegmentationConfig)),
        "inputVolume",
        "outputSegmentation",
    ]
    review = parameterFields(packs["review"][0])
    assert {name: field.typeText for name, field in review.items()} == {"changesTable": "vtkMRMLTableNode"}
