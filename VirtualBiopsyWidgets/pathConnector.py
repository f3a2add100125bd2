"""Lets a ``ctkPathLineEdit`` show a ``str`` parameter-node field (3D Slicer only).

Slicer's own connector binds ``ctkPathLineEdit`` to ``pathlib.Path`` fields only; the stage
configs keep paths as plain text (the same value in YAML, on the command line and in the
parameter node), so this connector is registered for ``str`` when the package is imported.
"""

import ctk

from slicer.parameterNodeWrapper import GuiConnector, parameterNodeGuiConnector, unannotatedType


@parameterNodeGuiConnector
class PathLineEditToStrConnector(GuiConnector):
    """Two-way binding of a ``ctkPathLineEdit``'s current path and a ``str`` field."""

    @staticmethod
    def canRepresent(widget, datatype) -> bool:
        return type(widget) == ctk.ctkPathLineEdit and unannotatedType(datatype) is str

    @staticmethod
    def create(widget, datatype):
        if PathLineEditToStrConnector.canRepresent(widget, datatype):
            return PathLineEditToStrConnector(widget)
        return None

    def __init__(self, widget) -> None:
        super().__init__()
        self._widget = widget

    def _connect(self) -> None:
        self._widget.currentPathChanged.connect(self.changed)

    def _disconnect(self) -> None:
        self._widget.currentPathChanged.disconnect(self.changed)

    def widget(self):
        return self._widget

    def read(self) -> str:
        return self._widget.currentPath

    def write(self, value: str) -> None:
        self._widget.currentPath = value
