"""The Outcome module's Cohort run section: its ``.ui`` widgets bind every setting of the ``cohortRun`` pack,
its path fields bind through :mod:`VirtualBiopsyWidgets.pathConnector`, and what the section runs needs
nothing beyond Slicer's own packages but what ``Resources/Requirements/VirtualBiopsyOutcome/cohortRun.txt``
installs. (Generic checks of every section, the pack mirroring ``CohortRunRequest`` included, are in
``test_ui_files``, ``test_parameter_nodes``, ``test_outcome_module`` and ``test_module_load``.)"""

import dataclasses
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import types
import xml.etree.ElementTree as ElementTree

import pytest
from moduleSources import REPOSITORY, moduleSources, parameterFields, parameterPacks

from VirtualBiopsy.cohort.runRequest import CohortRunRequest

(SOURCE,) = [source for source in moduleSources() if source.name == "VirtualBiopsyOutcome"]
REQUIREMENTS = SOURCE.folder / "Resources" / "Requirements" / "VirtualBiopsyOutcome" / "cohortRun.txt"


def boundNames(root: ElementTree.Element) -> dict[str, str]:
    """``{SlicerParameterName: widget class}`` of the ``.ui`` tree ``root``."""
    names = {}
    for element in root.iter("widget"):
        for prop in element.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                names[prop.findtext("string")] = element.get("class")
    return names


def test_the_section_binds_every_setting_of_its_pack():
    packs = parameterPacks(SOURCE.tree)
    members = list(parameterFields(packs["cohortRun"][0]))
    assert members == [field.name for field in dataclasses.fields(CohortRunRequest)]
    root = ElementTree.parse(SOURCE.uiPath).getroot()
    section = next(w for w in root.iter("widget") if w.get("name") == "cohortRunCollapsibleButton")
    bound = boundNames(section)
    assert set(bound) == {f"cohortRun.{member}" for member in members}
    paths = {"manifest", "clinical", "configFile", "outDir"}
    assert {name for name, widgetClass in bound.items() if widgetClass == "ctkPathLineEdit"} == {
        f"cohortRun.{member}" for member in paths
    }


class _Signal:
    def __init__(self) -> None:
        self.slots = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def disconnect(self, slot) -> None:
        self.slots.remove(slot)

    def emit(self) -> None:
        for slot in list(self.slots):
            slot()


def test_path_connector_binds_a_path_line_edit_to_a_str(monkeypatch):
    """The connector is registered with Slicer's decorator and reads, writes and follows ``currentPath``
    (Slicer's ``GuiConnector`` API, given here by a minimal ``slicer.parameterNodeWrapper``)."""
    import abc
    import typing

    class GuiConnector(abc.ABC):  # the parts of Slicer's base class the connector relies on
        def __init__(self) -> None:
            self._callback = None

        def onChanged(self, callback) -> None:
            self._callback = callback
            self._connect() if callback else self._disconnect()

        def changed(self) -> None:
            if self._callback:
                self._callback()

    registered = []
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.GuiConnector = GuiConnector
    wrapper.parameterNodeGuiConnector = lambda cls: registered.append(cls) or cls
    wrapper.unannotatedType = lambda datatype: typing.get_args(datatype)[0] if typing.get_args(datatype) else datatype
    slicerModule = types.ModuleType("slicer")
    slicerModule.parameterNodeWrapper = wrapper
    ctk = types.ModuleType("ctk")
    ctk.ctkPathLineEdit = type("ctkPathLineEdit", (), {})
    ctk.ctkDirectoryButton = type("ctkDirectoryButton", (), {})
    for name, module in (("slicer", slicerModule), ("slicer.parameterNodeWrapper", wrapper), ("ctk", ctk)):
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location(
        "pathConnectorUnderTest", REPOSITORY / "VirtualBiopsyWidgets" / "pathConnector.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    (connectorClass,) = registered
    widget = ctk.ctkPathLineEdit()
    widget.currentPath, widget.currentPathChanged = "", _Signal()
    assert connectorClass.canRepresent(widget, str)
    assert connectorClass.canRepresent(widget, typing.Annotated[str, "validator"])
    assert not connectorClass.canRepresent(widget, pathlib.Path)
    assert not connectorClass.canRepresent(ctk.ctkDirectoryButton(), str)
    connector = connectorClass.create(widget, str)
    changes = []
    connector.onChanged(lambda: changes.append(connector.read()))
    connector.write("/data/cohort.csv")
    assert widget.currentPath == "/data/cohort.csv" and connector.widget() is widget
    widget.currentPath = "/data/other.csv"
    widget.currentPathChanged.emit()
    assert changes == ["/data/other.csv"]
    connector.onChanged(None)
    assert widget.currentPathChanged.slots == []


PANEL_FLOW = """
import json, sys
sys.path.insert(0, sys.argv[1])
from importBlocker import blockImports
attempts = blockImports({blocked!r}, "Slicer does not ship it")
before = set(sys.modules)
import time
from VirtualBiopsy.cohort.runEvents import EventsFollower, finishedScenes, readFailures
from VirtualBiopsy.cohort.runProcess import CohortRunProcess
from VirtualBiopsy.cohort.runRequest import CohortRunRequest
request = CohortRunRequest.fromDict({{"manifest": sys.argv[2], "outDir": sys.argv[3]}})
process = CohortRunProcess([sys.executable, "-c", "print('ok')"])
follower = EventsFollower(sys.argv[3] + "/events.jsonl", fromEnd=True)
while process.poll() is None:
    follower.update()
    time.sleep(0.05)
readFailures(sys.argv[3]), finishedScenes(sys.argv[3])
process.stop(); process.close()
loaded = sorted({{name.split(".")[0] for name in set(sys.modules) - before}} - set(sys.stdlib_module_names))
print(json.dumps({{"attempts": attempts, "loaded": loaded}}))
"""


def test_the_section_needs_only_what_its_requirements_file_installs(tmp_path):
    """Build a request, run a process to its end, follow its events and read the run folder with every package
    Slicer lacks blocked, psutil aside: psutil is what the action loads, and all that cohortRun.txt lists."""
    from test_module_load import BLOCKED

    manifest = tmp_path / "cohort.csv"
    manifest.write_text("patient\n", encoding="utf-8")
    script = PANEL_FLOW.format(blocked=tuple(name for name in BLOCKED if name != "psutil"))
    completed = subprocess.run(
        [sys.executable, "-c", script, str(pathlib.Path(__file__).parent), str(manifest), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPOSITORY),
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert set(report["loaded"]) - {"VirtualBiopsy"} == {"psutil"}
    lines = [line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines()]
    assert [line.split(">=")[0] for line in lines if line] == ["psutil"]


@pytest.mark.parametrize("name", ["outcomeRunSection.py", "pathConnector.py"])
def test_new_widget_files_are_installed(name):
    assert name in (REPOSITORY / "VirtualBiopsyWidgets" / "CMakeLists.txt").read_text(encoding="utf-8")
