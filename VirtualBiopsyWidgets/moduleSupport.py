"""What the three Virtual Biopsy module widgets share: module description, parameter node
to config, progress bar and Cancel button (with a responsive GUI while workers run), and
the Slicer template's parameter-node plumbing. Installing each action's packages is in
:mod:`VirtualBiopsyWidgets.requirements`.

Runs inside 3D Slicer only. Each module file keeps its own ``ScriptedLoadableModule``,
widget, logic and test classes; this file only removes what would otherwise be
copied three times.
"""

import collections.abc
import dataclasses
import logging
import shutil
from collections.abc import Callable
from typing import Any, TypeVar

import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from VirtualBiopsy.errors import CancelledError, DependencyError
from VirtualBiopsy.progress import CancelToken, ProgressCallback
from VirtualBiopsyWidgets.requirements import ensureActionRequirements, installCommand

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

    def runStage(
        self, failureMessage: str, action: str, function: Callable[[ProgressCallback, CancelToken], ResultT]
    ) -> ResultT | None:
        """Ensure what ``action`` needs (``Resources/Requirements/<module>/<action>.txt``), then run
        ``function(progress, cancel)`` with the progress bar and Cancel; errors are shown in a dialog.

        :returns: the result, or ``None`` after an error or a cancel (the error is logged, not re-raised:
            ``slicer.util.tryWithErrorDisplay`` shows it and then re-raises, so it is caught here).
        """
        try:
            with slicer.util.tryWithErrorDisplay(failureMessage, waitCursor=True):
                try:
                    ensureActionRequirements(self.actionRequirementsPath(action), requester=self.moduleName)
                    return self._runner.run(function)
                except DependencyError as error:
                    # The library's message gives the command line's pip; say what works in Slicer.
                    raise DependencyError(f"{error}{_slicerInstallHint(error)}") from error
        except Exception:  # noqa: BLE001 - shown in the dialog above; the panel stays usable
            logger.exception(failureMessage)
        return None

    def actionRequirementsPath(self, action: str) -> str:
        """The requirements file of one of the module's actions."""
        return self.resourcePath(f"Requirements/{self.moduleName}/{action}.txt")


def _slicerInstallHint(error: DependencyError) -> str:
    package = getattr(error, "package", None)
    return f" Inside Slicer, run in the Python console: {installCommand([package])}" if package else ""


def slicerPythonExecutable() -> str | None:
    """Slicer's ``PythonSlicer`` (on the application's PATH, as ``slicer.util.executePythonModule`` finds it),
    the Python that worker processes run in; ``None`` outside Slicer (the worker then uses ``sys.executable``)."""
    return shutil.which("PythonSlicer")


def workerRunner():
    """A worker-process runner for long actions that keeps Slicer responsive: it calls
    ``slicer.app.processEvents()`` at every poll, so the progress bar moves and Cancel works."""
    from VirtualBiopsy.workers.processRunner import ProcessRunner

    return ProcessRunner(pythonExecutable=slicerPythonExecutable(), idle=slicer.app.processEvents)


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
