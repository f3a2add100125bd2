"""What the three Virtual Biopsy module widgets share: module description, dependency
ensuring, parameter node to config, progress bar and Cancel button, and the
Slicer template's parameter-node plumbing.

Runs inside 3D Slicer only. Each module file keeps its own ``ScriptedLoadableModule``,
widget, logic and test classes; this file only removes what would otherwise be
copied three times.
"""

import collections.abc
import dataclasses
import importlib.metadata
import logging
import pathlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import vtk

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from VirtualBiopsy.errors import CancelledError, DependencyError
from VirtualBiopsy.progress import CancelToken, ProgressCallback

logger = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")

CATEGORY = "Virtual Biopsy"
CONTRIBUTORS = ["Virtual Biopsy developers"]
ACKNOWLEDGEMENT = (
    "Virtual Biopsy follows the PRIMAGE virtual-biopsy pipeline and the radiomics practice of the "
    "Maastricht group; features are computed with pyradiomics."
)


def describeModule(parent, title: str, helpText: str, dependencies: list[str] | None = None) -> None:
    """Set the title, category, contributors and texts shared by the Virtual Biopsy modules."""
    parent.title = title
    parent.categories = [CATEGORY]
    parent.dependencies = list(dependencies or [])
    parent.contributors = list(CONTRIBUTORS)
    parent.helpText = helpText
    parent.acknowledgementText = ACKNOWLEDGEMENT


def readRequirements(path: str | pathlib.Path) -> list[str]:
    """Return the requirement lines of a pip requirements file, without comments or blanks."""
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def ensureRequirements(path: str | pathlib.Path, requester: str) -> None:
    """Install the packages listed in ``path`` that are missing or too old.

    Call it when the user asks for work (Apply), never at import time. Uses
    ``slicer.packaging.pip_ensure`` (Slicer 5.12+, asks the user first and skips
    in testing mode), else ``slicer.util.pip_install`` for what is missing.

    :raises DependencyError: if the user declines the installation.
    """
    try:
        import slicer.packaging as packaging
    except ImportError:
        packaging = None
    if packaging is not None and hasattr(packaging, "pip_ensure"):
        packaging.pip_ensure(packaging.load_requirements(path), requester=requester)
        return
    missing = [requirement for requirement in readRequirements(path) if not _isSatisfied(requirement)]
    if not missing:
        return
    if slicer.app.testingEnabled():
        logger.info("Testing mode: not installing %s", ", ".join(missing))
        return
    if not slicer.util.confirmOkCancelDisplay(
        f"{requester} needs these Python packages:\n\n" + "\n".join(missing) + "\n\nInstall them now?",
        f"{requester}: install Python packages",
    ):
        raise DependencyError(f"{requester} needs {', '.join(missing)}; install them with pip_install or accept the prompt.")
    slicer.util.pip_install(missing)


def _isSatisfied(requirement: str) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
    if Requirement is None:
        name, specifier = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0], None
    else:
        parsed = Requirement(requirement)
        if parsed.marker is not None and not parsed.marker.evaluate():
            return True
        name, specifier = parsed.name, parsed.specifier
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return specifier is None or specifier.contains(version, prereleases=True)


def configFromParameterNode(configClass: type, parameterNode) -> Any:
    """Build a stage config from the parameter-node fields named like its dataclass fields.

    :raises VirtualBiopsy.errors.InputError: for a value the config rejects.
    """
    values = {field.name: _plain(getattr(parameterNode, field.name)) for field in dataclasses.fields(configClass)}
    return configClass.fromDict(values)


def _plain(value: Any) -> Any:
    # The parameter node returns observed lists; configs want plain ones.
    if isinstance(value, collections.abc.Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value


class ProgressRunner:
    """Run library calls on the main thread with a progress bar and a Cancel button.

    :param onStateChanged: called when a run starts and ends (to enable or disable buttons).
    """

    def __init__(self, progressBar, cancelButton, onStateChanged: Callable[[], None] | None = None) -> None:
        self._progressBar = progressBar
        self._cancelButton = cancelButton
        self._onStateChanged = onStateChanged or (lambda: None)
        self._token: CancelToken | None = None
        self._cancelButton.enabled = False
        self._cancelButton.connect("clicked(bool)", self.cancel)

    @property
    def running(self) -> bool:
        """Whether a call is under way."""
        return self._token is not None

    def run(self, function: Callable[[ProgressCallback, CancelToken], ResultT]) -> ResultT | None:
        """Call ``function(progress, cancel)``.

        :returns: its result, or ``None`` if the user cancelled.
        """
        if self.running:
            raise RuntimeError("A Virtual Biopsy operation is already running; wait for it or cancel it.")
        self._token = CancelToken()
        self._progressBar.value = 0
        self._progressBar.show()
        self._cancelButton.enabled = True
        self._onStateChanged()
        try:
            result = function(self._report, self._token)
            self._progressBar.format = "Done"
            return result
        except CancelledError:
            logger.info("Cancelled by the user")
            self._progressBar.format = "Cancelled"
            return None
        finally:
            self._token = None
            self._cancelButton.enabled = False
            self._onStateChanged()

    def cancel(self) -> None:
        """Ask the running call to stop at its next check."""
        if self._token is not None:
            self._token.cancel()
            self._progressBar.format = "Cancelling..."

    def _report(self, fraction: float, message: str) -> None:
        self._progressBar.value = int(round(100 * min(max(fraction, 0.0), 1.0)))
        self._progressBar.format = message.replace("%", "%%") + " (%p%)"
        # Lets the Cancel button (and the progress bar) react while the call runs.
        slicer.app.processEvents()


class VirtualBiopsyModuleWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Base of the module widgets: the Slicer template's ``.ui`` loading and parameter-node
    binding (``SlicerParameterName``), plus :meth:`runStage`.

    The ``.ui`` file must have a ``progressBar`` and a ``cancelButton``. Subclasses
    implement :meth:`createLogic`, :meth:`setupConnections` and :meth:`updateButtons`.
    """

    def __init__(self, parent=None) -> None:
        # Set first: without a parent, the base __init__ calls setup() at once.
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._runner: ProgressRunner | None = None
        # Its cooperative super().__init__() also initializes VTKObservationMixin.
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self) -> None:
        """Load the module's ``.ui`` file, create the logic and bind the parameter node."""
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath(f"UI/{self.moduleName}.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = self.createLogic()
        self._runner = ProgressRunner(self.ui.progressBar, self.ui.cancelButton, self.updateButtons)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.setupConnections()
        self.initializeParameterNode()

    def createLogic(self):
        """Return the module's logic (a ``ScriptedLoadableModuleLogic``)."""
        raise NotImplementedError

    def setupConnections(self) -> None:
        """Connect the module's buttons."""

    def updateButtons(self) -> None:
        """Enable the buttons whose inputs are set; :attr:`isRunning` disables them."""

    def updateGuiFromParameterNode(self) -> None:
        """Update widgets that are not bound through ``SlicerParameterName``."""

    def selectDefaultInputs(self, parameterNode) -> None:
        """Pick inputs from the scene when none is selected yet."""

    @property
    def isRunning(self) -> bool:
        """Whether a stage is running (its buttons must stay disabled)."""
        return self._runner is not None and self._runner.running

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Make sure the parameter node exists, is observed and has default inputs."""
        self.setParameterNode(self.logic.getParameterNode())
        self.selectDefaultInputs(self._parameterNode)

    def setParameterNode(self, parameterNode) -> None:
        """Bind ``parameterNode`` to the widgets (``None`` unbinds)."""
        if self._parameterNode:
            if self._parameterNodeGuiTag is not None:
                self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = parameterNode
        self._parameterNodeGuiTag = None
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        self.updateGuiFromParameterNode()
        self.updateButtons()

    def runStage(self, failureMessage: str, function: Callable[[ProgressCallback, CancelToken], ResultT]) -> ResultT | None:
        """Ensure the module's requirements, then run ``function(progress, cancel)`` with
        the progress bar; errors are shown in a dialog.

        :returns: the result, or ``None`` after an error or a cancel.
        """
        with slicer.util.tryWithErrorDisplay(failureMessage, waitCursor=True):
            ensureRequirements(self.resourcePath(f"Requirements/{self.moduleName}.txt"), requester=self.moduleName)
            return self._runner.run(function)
        return None


def addSyntheticTumourVolume(name: str = "VirtualBiopsySynthetic", size: int = 64, seed: int = 0):
    """Add a small MR-like test volume to ``slicer.mrmlScene`` (for the self-tests).

    A spherical "head" (intensity 100, noise SD 10) on a zero background, with a
    bright spherical "tumour" (+100) at its centre, on a 1 mm grid.

    :returns: ``(volumeNode, headMask, tumourMask)``, the masks as numpy arrays in KJI order.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    centre = (size - 1) / 2.0
    k, j, i = np.indices((size, size, size))
    radius = np.sqrt((k - centre) ** 2 + (j - centre) ** 2 + (i - centre) ** 2)
    head = radius < 0.4 * size
    tumour = radius < 0.12 * size
    voxels = np.where(head, 100.0 + 10.0 * rng.standard_normal(head.shape), 0.0)
    voxels[tumour] += 100.0
    volume = slicer.util.addVolumeFromArray(voxels.astype(np.float32), name=name)
    return volume, head, tumour
