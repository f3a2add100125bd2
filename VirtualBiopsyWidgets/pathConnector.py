"""Bind a ``ctkPathLineEdit`` to a ``str`` parameter (3D Slicer only).

Slicer's own connector (``slicer.parameterNodeWrapper.guiConnectors.ctkPathLineEditToPathConnector``) takes
``pathlib.Path`` fields, but the configs keep paths as ``str`` (an empty string means "none", where
``Path("")`` would be the current folder). Importing this file registers the connector; the widget imports it
before it binds its parameter node.
"""

import ctk
from slicer.parameterNodeWrapper import GuiConnector, parameterNodeGuiConnector, unannotatedType


@parameterNodeGuiConnector
class ctkPathLineEditToStrConnector(GuiConnector):
    """A ``ctkPathLineEdit`` shows and edits a ``str`` field (its ``currentPath``)."""

    @staticmethod
    def canRepresent(widget, datatype) -> bool:
        return type(widget) is ctk.ctkPathLineEdit and unannotatedType(datatype) is str

    @staticmethod
    def create(widget, datatype):
        if ctkPathLineEditToStrConnector.canRepresent(widget, datatype):
            return ctkPathLineEditToStrConnector(widget)
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
        if value != self._widget.currentPath:
            self._widget.currentPath = value
