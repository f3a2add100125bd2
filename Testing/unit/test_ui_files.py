"""The modules' ``.ui`` files load, have every widget their module uses, and bind only
parameter-node fields, each to a widget Slicer can connect it to. A field inside a ``@parameterPack``
is bound by its dotted name (``segmentation.method``), which Slicer's ``parameterNodeWrapper``
resolves to the pack's member (``connectGui`` → ``_checkParamName`` → ``checkPackMember``).

The files are loaded with PySide6's ``QUiLoader`` on the offscreen platform. CTK and
MRML widgets do not exist there: they must be declared in ``<customwidgets>`` with an
``<extends>`` base class, which the loader then creates instead. Their signal/slot
``<connections>`` (``mrmlSceneChanged`` -> ``setMRMLScene``) cannot be made on the
base classes, so they are checked statically and left out of the load.
"""

import os
import re
import xml.etree.ElementTree as ElementTree

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

from moduleSources import (  # noqa: E402
    bindableParameters,
    moduleSources,
    moduleUiReferences,
    parameterFields,
    parameterPacks,
    sharedUiReferences,
)
from PySide6 import QtCore, QtWidgets  # noqa: E402
from PySide6.QtUiTools import QUiLoader  # noqa: E402

MODULES = moduleSources()
MODULE_IDS = [source.name for source in MODULES]
CUSTOM_PREFIXES = ("ctk", "qMRML", "qSlicer")
FALLBACK = re.compile(r"unable to create a custom widget of the class '(\w+)'; defaulting to base class '(\w+)'")

#: Widget class -> field types the parameterNodeWrapper's GUI connectors accept for it.
CONNECTABLE = {
    "QCheckBox": {"bool"},
    "QSpinBox": {"int"},
    "QDoubleSpinBox": {"float", "int"},
    "ctkSliderWidget": {"float", "int"},
    "ctkDoubleSpinBox": {"float", "int"},
    "QComboBox": {"str", "int", "float", "bool"},
    "QLineEdit": {"str"},
    "QLabel": {"str"},
    # Slicer's own connector takes pathlib.Path; VirtualBiopsyWidgets.pathConnector registers one for str.
    "ctkPathLineEdit": {"str"},
}


@pytest.fixture(scope="module")
def application():
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def customWidgets(root: ElementTree.Element) -> dict[str, str]:
    """``{class: extends}`` declared in the file's ``<customwidgets>``."""
    return {
        element.findtext("class"): (element.findtext("extends") or "").strip() for element in root.iter("customwidget")
    }


def loadUi(path, application) -> tuple[QtWidgets.QWidget, list[str]]:
    """Load a ``.ui`` file, without its ``<connections>``, and return the widget and the
    Qt warnings it caused.
    """
    root = ElementTree.parse(path).getroot()
    for connections in root.findall("connections"):
        root.remove(connections)
    buffer = QtCore.QBuffer()
    buffer.setData(QtCore.QByteArray(ElementTree.tostring(root, encoding="utf-8")))
    buffer.open(QtCore.QIODevice.OpenModeFlag.ReadOnly)
    messages = []

    def handler(messageType, context, message):
        if messageType != QtCore.QtMsgType.QtDebugMsg:
            messages.append(message)

    previous = QtCore.qInstallMessageHandler(handler)
    try:
        widget = QUiLoader().load(buffer)
    finally:
        QtCore.qInstallMessageHandler(previous)
    return widget, messages


def unexpectedMessages(messages: list[str], declared: dict[str, str]) -> list[str]:
    """Messages other than a declared CTK/MRML widget falling back to its ``<extends>`` base."""
    unexpected = []
    for message in messages:
        match = FALLBACK.search(message)
        if match and match.group(1).startswith(CUSTOM_PREFIXES) and declared.get(match.group(1)) == match.group(2):
            continue
        unexpected.append(message)
    return unexpected


@pytest.mark.parametrize("source", MODULES, ids=MODULE_IDS)
def test_custom_widgets_are_declared_with_a_base_class(source):
    root = ElementTree.parse(source.uiPath).getroot()
    declared = customWidgets(root)
    used = {element.get("class") for element in root.iter("widget")}
    missing = sorted(name for name in used if name.startswith(CUSTOM_PREFIXES) and not declared.get(name))
    assert not missing, f"{source.uiPath.name}: declare in <customwidgets> with <extends>: {missing}"


@pytest.mark.parametrize("source", MODULES, ids=MODULE_IDS)
def test_node_selectors_receive_the_scene(source):
    """Each MRML widget gets the scene through ``mrmlSceneChanged`` -> ``setMRMLScene``
    from the top widget (Slicer's template); every connection names existing widgets.
    """
    root = ElementTree.parse(source.uiPath).getroot()
    top = root.find("widget").get("name")
    names = {element.get("name") for element in root.iter("widget")}
    connections = [
        {key: connection.findtext(key) for key in ("sender", "signal", "receiver", "slot")}
        for connection in root.iter("connection")
    ]
    dangling = [c for c in connections if c["sender"] not in names or c["receiver"] not in names]
    assert not dangling, f"{source.uiPath.name}: connections to missing widgets: {dangling}"
    sceneReceivers = {
        c["receiver"]
        for c in connections
        if c["sender"] == top
        and c["signal"] == "mrmlSceneChanged(vtkMRMLScene*)"
        and c["slot"] == "setMRMLScene(vtkMRMLScene*)"
    }
    mrmlWidgets = {
        element.get("name") for element in root.iter("widget") if element.get("class").startswith("qMRML")
    } - {top}
    assert mrmlWidgets <= sceneReceivers, f"{source.uiPath.name}: no scene for {sorted(mrmlWidgets - sceneReceivers)}"


@pytest.mark.parametrize("source", MODULES, ids=MODULE_IDS)
def test_ui_file_loads_without_unexpected_messages(source, application):
    widget, messages = loadUi(source.uiPath, application)
    assert widget is not None, f"{source.uiPath.name} did not load: {messages}"
    assert widget.objectName() == source.name
    unexpected = unexpectedMessages(messages, customWidgets(ElementTree.parse(source.uiPath).getroot()))
    assert not unexpected, f"{source.uiPath.name}: " + "; ".join(unexpected)


@pytest.mark.parametrize("source", MODULES, ids=MODULE_IDS)
def test_widgets_the_module_uses_exist(source, application):
    assert source.tree is not None, f"{source.uiPath} has no module file {source.pyPath}"
    widget, _messages = loadUi(source.uiPath, application)
    needed = moduleUiReferences(source.tree) | sharedUiReferences()
    missing = sorted(name for name in needed if widget.findChild(QtCore.QObject, name) is None)
    assert not missing, f"{source.uiPath.name} lacks widgets that the module code uses: {missing}"


@pytest.mark.parametrize("source", MODULES, ids=MODULE_IDS)
def test_parameter_names_bind_to_connectable_fields(source):
    """Each ``SlicerParameterName`` is a field of a flat parameter node or ``<pack>.<member>`` of a node of
    parameter packs (Slicer's ``connectGui`` resolves dotted names into packs), of a type its widget shows."""
    fields = bindableParameters(source.tree)
    problems, bound = [], set()
    for element, parameterName in boundWidgets(source.uiPath):
        widgetClass, widgetName = element.get("class"), element.get("name")
        where = f"{widgetName} ({widgetClass}) -> '{parameterName}'"
        if parameterName in bound:
            problems.append(f"{where}: bound twice")
        bound.add(parameterName)
        field = fields.get(parameterName)
        if field is None:
            problems.append(f"{where}: no such parameter node field (or member of one of its packs)")
        elif widgetClass == "qMRMLNodeComboBox":
            nodeTypes = [s.text for s in element.iter("string") if s.text and s.text.startswith("vtkMRML")]
            if not field.typeText.startswith("vtkMRML") or field.typeText not in nodeTypes:
                problems.append(f"{where}: field is {field.typeText}, combo box node types {nodeTypes}")
        elif field.typeText not in CONNECTABLE.get(widgetClass, set()):
            problems.append(f"{where}: a {widgetClass} cannot show a {field.typeText}")
        elif widgetClass == "QComboBox" and "Choice" not in field.extras:
            problems.append(f"{where}: a combo box needs Annotated[..., Choice(...)]")
        elif widgetClass == "ctkSliderWidget" and not (
            "WithinRange" in field.extras or {"Minimum", "Maximum"} <= set(field.extras)
        ):
            problems.append(f"{where}: a slider needs a bounded field (WithinRange)")
    assert not problems, f"{source.uiPath.name}: " + "; ".join(problems)


def boundWidgets(uiPath) -> list[tuple[ElementTree.Element, str]]:
    """``(widget element, SlicerParameterName)`` for each widget of a ``.ui`` file that binds a parameter."""
    root = ElementTree.parse(uiPath).getroot()
    bound = []
    for element in root.iter("widget"):
        parameterName = next(
            (p.findtext("string") for p in element.findall("property") if p.get("name") == "SlicerParameterName"), None
        )
        if parameterName is not None:
            bound.append((element, parameterName))
    return bound


def test_segmentation_ui_binds_pack_members_only():
    """Segmentation's node is made of packs: every bound name is ``<pack>.<member>``, and every member of the
    ``segmentation`` pack (SegmentationConfig, the input volume and the output segmentation) has a widget."""
    (source,) = [source for source in MODULES if source.name == "VirtualBiopsySegmentation"]
    names = [name for _element, name in boundWidgets(source.uiPath)]
    packs = parameterPacks(source.tree)
    assert names and all("." in name and name.split(".", 1)[0] in packs for name in names), names
    assert set(names) == {f"segmentation.{name}" for name in parameterFields(packs["segmentation"][0])}


def test_fallback_filter_rejects_undeclared_and_missing_widgets():
    """Self-check: only a declared CTK/MRML widget falling back to its declared base passes."""
    declared = {"qMRMLNodeComboBox": "QWidget"}
    messages = [
        "QFormBuilder was unable to create a custom widget of the class 'qMRMLNodeComboBox'; defaulting to base class 'QWidget'.",
        "QFormBuilder was unable to create a custom widget of the class 'ctkSliderWidget'; defaulting to base class 'QWidget'.",
        "QFormBuilder was unable to create a widget of the class 'QProgresBar'.",
        "Empty widget item in QFormLayout 'formLayout'.",
    ]
    assert unexpectedMessages(messages, declared) == messages[1:]


def test_section_helpers_count_for_their_module_only():
    """Self-check: widgets used by a module's own helper (``VirtualBiopsyWidgets.harmonizationSections``)
    are required of that module's ``.ui`` and not of the others'."""
    (source,) = [source for source in MODULES if source.name == "VirtualBiopsyHarmonization"]
    assert {"n4Button", "registrationQcLabel", "combatButton", "styleTransferButton"} <= moduleUiReferences(source.tree)
    assert {"progressBar", "cancelButton"} <= sharedUiReferences()
    assert "n4Button" not in sharedUiReferences()


def test_dotted_names_resolve_to_pack_members():
    """Self-check: a node of packs binds ``<pack>.<member>``, not the bare member nor the pack itself."""
    import ast

    tree = ast.parse("""
@parameterPack
class SectionParameters:
    binWidth: float = 1.0
    inputVolume: vtkMRMLScalarVolumeNode

@parameterNodeWrapper
class P:
    section: SectionParameters
    flat: int = 3
""")
    assert {name: field.typeText for name, field in bindableParameters(tree).items()} == {
        "section.binWidth": "float",
        "section.inputVolume": "vtkMRMLScalarVolumeNode",
        "flat": "int",
    }
