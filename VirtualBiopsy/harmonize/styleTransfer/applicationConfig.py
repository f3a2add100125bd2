"""Settings of applying a trained style-transfer model to a volume (the module's Style transfer panel).

:meth:`~VirtualBiopsy.harmonize.styleTransfer.logic.StyleTransferLogic.run` and ``virtual-biopsy styletransfer apply``
take it; :meth:`StyleTransferConfig.runArguments` maps it onto the apply task's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireRange
from VirtualBiopsy.workers.deviceFallback import checkDevice

#: Devices offered in the panel (``cuda:N`` is accepted too).
STYLE_DEVICES = ("auto", "cpu", "cuda")


@dataclass
class StyleTransferConfig(StageConfig):
    """Which model translates the volume, and where it runs.

    :ivar styleModel: a registered model's id or a model folder written by ``virtual-biopsy styletransfer train``.
    :ivar styleDevice: ``auto`` (a GPU when torch sees one), ``cpu``, ``cuda`` or ``cuda:N``.
    :ivar styleBatchSize: slices per network call.
    """

    styleModel: str = ""
    styleDevice: str = "auto"
    styleBatchSize: int = 8

    def validate(self) -> None:
        """:raises InputError: naming the bad setting, its value and the fix."""
        try:
            checkDevice(self.styleDevice)
        except InputError as error:
            raise InputError(f"StyleTransferConfig.styleDevice: {error}") from error
        requireRange(self, "styleBatchSize", 1, 1024)

    def runArguments(self) -> dict[str, Any]:
        """The settings of the style-transfer apply task (:mod:`~VirtualBiopsy.harmonize.styleTransfer.tasks`),
        without the image paths and the models folder.

        :raises InputError: when no model is named.
        """
        model = self.styleModel.strip()
        if not model:
            raise InputError(
                "StyleTransferConfig.styleModel is empty; give a style-transfer model id (see "
                "'virtual-biopsy models list') or the folder written by "
                "'virtual-biopsy styletransfer train'."
            )
        return {"model": model, "device": self.styleDevice, "batchSize": self.styleBatchSize}
