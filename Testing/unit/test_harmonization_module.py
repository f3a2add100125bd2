"""The Harmonization panel (read statically): the sections follow the pipeline and each binds every
setting of its config through its own parameter pack (``<pack>.<field>``); every parameter-node field has a widget; every action runs through ``runStage``;
every method-specific normalization option sits in the "Options" section, and the widgets the module
enables per method exist and cover each option of that method."""

import ast
import dataclasses
import xml.etree.ElementTree as ElementTree

from moduleSources import moduleSources

from VirtualBiopsy.harmonize.config import NORMALIZATION_METHODS, HarmonizationConfig

(SOURCE,) = [source for source in moduleSources() if source.name == "VirtualBiopsyHarmonization"]
#: Config fields that belong to one method (the others apply to every method).
GENERAL_FIELDS = {"normalization", "maskMode", "backgroundValue", "normalizeOutsideMask"}


def _methodWidgets() -> dict[str, tuple[str, ...]]:
    for node in SOURCE.tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "METHOD_OPTION_WIDGETS":
            return ast.literal_eval(node.value)
    raise AssertionError("METHOD_OPTION_WIDGETS not found in the module file")


def _boundWidgets(element: ElementTree.Element) -> dict[str, str]:
    """``{parameter name (``<pack>.<field>``): widget name}`` of the widgets under ``element``."""
    bound = {}
    for widget in element.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.findtext("string")] = widget.get("name")
    return bound


def test_method_options_sit_in_the_options_section():
    root = ElementTree.parse(SOURCE.uiPath).getroot()
    options = next(w for w in root.iter("widget") if w.get("name") == "optionsCollapsibleButton")
    inOptions = set(_boundWidgets(options))
    assert all(name.startswith("normalization.") for name in inOptions), inOptions
    inOptions = {name.split(".", 1)[1] for name in inOptions}
    specific = {field.name for field in dataclasses.fields(HarmonizationConfig)} - GENERAL_FIELDS
    assert inOptions == specific


def test_enabled_widgets_exist_and_cover_each_methods_options():
    widgets = _methodWidgets()
    assert set(widgets) <= set(NORMALIZATION_METHODS)
    root = ElementTree.parse(SOURCE.uiPath).getroot()
    names = {element.get("name") for element in root.iter("widget")}
    missing = sorted({name for group in widgets.values() for name in group} - names)
    assert not missing, f"widgets the module enables but the .ui lacks: {missing}"
    bound = {
        name.split(".", 1)[1]: widget
        for name, widget in _boundWidgets(root).items()
        if name.startswith("normalization.")
    }
    prefixes = {
        "whitestripe": "whiteStripe",
        "nyul": "nyul",
        "histmatch": "histogram",
        "percentile": "percentile",
        "clahe": "clahe",
    }
    for method, prefix in prefixes.items():
        fields = [field for field in bound if field.startswith(prefix)]
        assert fields and all(bound[field] in widgets[method] for field in fields), (method, fields)


#: The panel's sections, in pipeline order: (collapsible button, title, the config its widgets bind, its pack).
SECTIONS = [
    ("preprocessingCollapsibleButton", "Preprocessing", "PreprocessingConfig", "preprocessing"),
    ("registrationCollapsibleButton", "Registration", "RegistrationConfig", "registration"),
    ("normalizationCollapsibleButton", "Intensity normalization", "HarmonizationConfig", "normalization"),
    ("combatCollapsibleButton", "ComBat", "ComBatConfig", "combat"),
    ("styleTransferCollapsibleButton", "Style transfer", "StyleTransferConfig", "styleTransfer"),
]


def test_sections_follow_the_pipeline_and_each_binds_its_config():
    """Each section's widgets bind every field of its config, and only members of its own pack (its config
    fields and its nodes); the module reads that config from that pack."""
    from moduleSources import configBindings, configClassesUsed

    root = ElementTree.parse(SOURCE.uiPath).getroot()
    top = root.find("widget").find("layout")
    sections = [
        item.find("widget")
        for item in top.findall("item")
        if item.find("widget") is not None and item.find("widget").get("class") == "ctkCollapsibleButton"
    ]
    assert [(w.get("name"), w.find("property/string").text) for w in sections] == [s[:2] for s in SECTIONS]
    configs = {configClass.__name__: configClass for configClass in configClassesUsed(SOURCE.tree)}
    assert set(configs) == {s[2] for s in SECTIONS}
    packs = {pack: configClass.__name__ for configClass, pack in configBindings(SOURCE.tree)}
    for widget, (_name, title, configName, pack) in zip(sections, SECTIONS):
        assert packs[pack] == configName
        names = set(_boundWidgets(widget))
        foreign = sorted(name for name in names if not name.startswith(f"{pack}."))
        assert not foreign, f"{title}: widgets bound outside pack {pack}: {foreign}"
        bound = {name.split(".", 1)[1] for name in names}
        fields = {field.name for field in dataclasses.fields(configs[configName])}
        assert fields <= bound, f"{title}: settings without a widget: {sorted(fields - bound)}"


def test_every_parameter_node_field_has_a_widget():
    from moduleSources import bindableParameters

    bound = set(_boundWidgets(ElementTree.parse(SOURCE.uiPath).getroot()))
    fields = set(bindableParameters(SOURCE.tree))
    assert fields == bound, (sorted(fields - bound), sorted(bound - fields))


def _logicMethodsWithCancel() -> set[str]:
    (logic,) = [node for node in SOURCE.tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Logic")]
    return {
        node.name
        for node in logic.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and "cancel" in [argument.arg for argument in node.args.args]
    }


def test_every_action_runs_through_run_stage():
    """Each logic action (a method taking ``cancel``) has a button, and the widget code refers to it only
    inside ``self.runStage(...)`` (progress bar, Cancel, error display), directly or through
    ``self._runVolumeAction(...)``, which hands it to ``runStage``."""
    from moduleSources import helperFiles

    actions = _logicMethodsWithCancel()
    assert {
        "correctBiasField",
        "denoise",
        "resample",
        "headMask",
        "register",
        "process",
        "harmonizeFeatures",
        "transferStyle",
    } <= actions
    trees = [SOURCE.tree] + [ast.parse(path.read_text(encoding="utf-8")) for path in helperFiles(SOURCE.tree)]
    referenced, guarded = set(), set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "logic":
                referenced.add((node.attr, node.lineno, node.col_offset))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("runStage", "_runVolumeAction"):
                guarded |= {
                    (inner.attr, inner.lineno, inner.col_offset)
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Attribute)
                    and isinstance(inner.value, ast.Attribute)
                    and inner.value.attr == "logic"
                }
            if isinstance(node, ast.FunctionDef) and node.name == "_runVolumeAction":
                assert any(
                    getattr(call.func, "attr", None) == "runStage"
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call)
                )
    assert actions <= {name for name, *_ in referenced}, "actions that no button runs"
    unguarded = sorted(name for name, *where in referenced - guarded if name in actions)
    assert not unguarded, f"actions called outside runStage: {unguarded}"


def test_parameter_node_attributes_the_code_reads_exist():
    """Every ``parameterNode.<pack>`` (and ``self._parameterNode.<pack>``) in the module, its section glue
    and its self-tests is a pack of the parameter node, every ``<...>.<pack>.<member>`` a member of that
    pack, and every dotted name given as text (``DEFAULT_VOLUME_FIELDS``) a bindable name (a typo would only
    fail inside Slicer)."""
    from moduleSources import bindableParameters, helperFiles, parameterFields, parameterNodeClass, parameterPacks

    fields = set(parameterFields(parameterNodeClass(SOURCE.tree)))
    members = {
        pack: set(parameterFields(classNode)) for pack, (classNode, _tree) in parameterPacks(SOURCE.tree).items()
    }
    dotted = set(bindableParameters(SOURCE.tree))
    wrapperMethods = {"connectGui", "disconnectGui", "parameterNode", "default", "getValue", "setValue"}
    trees = {SOURCE.pyPath.name: SOURCE.tree}
    trees |= {path.name: ast.parse(path.read_text(encoding="utf-8")) for path in helperFiles(SOURCE.tree)}
    assert {"harmonizationSections.py", "harmonizationSelfTests.py"} <= set(trees)

    def isParameterNode(owner: ast.expr) -> bool:
        return (isinstance(owner, ast.Name) and owner.id == "parameterNode") or (
            isinstance(owner, ast.Attribute) and owner.attr == "_parameterNode"
        )

    unknown = set()
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            if isParameterNode(node.value) and node.attr not in fields | wrapperMethods:
                unknown.add(f"{name}: {node.attr}")
            owner = node.value
            if isinstance(owner, ast.Attribute) and isParameterNode(owner.value) and owner.attr in members:
                if node.attr not in members[owner.attr]:
                    unknown.add(f"{name}: {owner.attr}.{node.attr}")
        for node in tree.body:  # field names given as text (setValue)
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DEFAULT_VOLUME_FIELDS":
                unknown |= {f"{name}: {field}" for field in ast.literal_eval(node.value) if field not in dotted}
    assert not unknown, sorted(unknown)
