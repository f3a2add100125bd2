"""The Harmonization panel: every method-specific option sits in the "Options" section, and the widgets
the module enables per method exist and cover each option of that method (read statically)."""

import ast
import dataclasses
import xml.etree.ElementTree as ElementTree

from VirtualBiopsy.harmonize.config import NORMALIZATION_METHODS, HarmonizationConfig

from moduleSources import moduleSources

(SOURCE,) = [source for source in moduleSources() if source.name == "VirtualBiopsyHarmonization"]
#: Config fields that belong to one method (the others apply to every method).
GENERAL_FIELDS = {"normalization", "maskMode", "backgroundValue", "normalizeOutsideMask"}


def _methodWidgets() -> dict[str, tuple[str, ...]]:
    for node in SOURCE.tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "METHOD_OPTION_WIDGETS":
            return ast.literal_eval(node.value)
    raise AssertionError("METHOD_OPTION_WIDGETS not found in the module file")


def _boundWidgets(element: ElementTree.Element) -> dict[str, str]:
    """``{parameter name: widget name}`` of the widgets under ``element``."""
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
    specific = {field.name for field in dataclasses.fields(HarmonizationConfig)} - GENERAL_FIELDS
    assert inOptions == specific


def test_enabled_widgets_exist_and_cover_each_methods_options():
    widgets = _methodWidgets()
    assert set(widgets) <= set(NORMALIZATION_METHODS)
    root = ElementTree.parse(SOURCE.uiPath).getroot()
    names = {element.get("name") for element in root.iter("widget")}
    missing = sorted({name for group in widgets.values() for name in group} - names)
    assert not missing, f"widgets the module enables but the .ui lacks: {missing}"
    bound = _boundWidgets(root)
    prefixes = {"whitestripe": "whiteStripe", "nyul": "nyul", "histmatch": "histogram", "percentile": "percentile",
                "clahe": "clahe"}
    for method, prefix in prefixes.items():
        fields = [field for field in bound if field.startswith(prefix)]
        assert fields and all(bound[field] in widgets[method] for field in fields), (method, fields)
