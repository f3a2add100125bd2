"""Style transfer of volume nodes with a trained CycleGAN, in a worker process."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import tempfile

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
from VirtualBiopsy.harmonize.styleTransfer.tasks import APPLY_TASK
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.workers.deviceFallback import runWithDeviceFallback

logger = logging.getLogger(__name__)

#: The output node's attribute that records the model, its hash and the device.
PROVENANCE_ATTRIBUTE = "VirtualBiopsy.styleTransfer"


class StyleTransferLogic:
    """Translate volumes of one scene into another MR domain.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    :param runner: the worker runner (default: a :class:`~VirtualBiopsy.workers.processRunner.ProcessRunner`).
    :param modelsFolder: the model registry's user folder (default: the user's).
    """

    def __init__(self, scene, runner=None, modelsFolder: str | os.PathLike | None = None) -> None:
        self.scene = scene
        self.runner = runner
        self.modelsFolder = modelsFolder

    def run(
        self,
        volumeNode,
        config: StyleTransferConfig,
        outputVolume=None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Translate ``volumeNode`` with the model, device and batch size of ``config`` into ``outputVolume``
        (a new node ``<name>_<target domain>`` when ``None``).

        The input node is not modified. The output has the input's geometry and the attribute
        :data:`PROVENANCE_ATTRIBUTE` (JSON: model id, tree hash, domains, sequence, device).

        :raises InputError, GeometryError, ModelError, CancelledError: as the task raises them.
        """
        from VirtualBiopsy.workers.processRunner import ProcessRunner

        config.validate()
        arguments = config.runArguments()
        if outputVolume is not None and outputVolume is volumeNode:
            raise InputError(
                f"The output volume is the input volume '{volumeNode.GetName()}'; inputs are never "
                "modified. Pass a new node or outputVolume=None."
            )
        progress = progress or noProgress
        image = volumeNodeToImage(volumeNode)
        runner = self.runner or ProcessRunner()
        with tempfile.TemporaryDirectory(prefix="vb-styletransfer-") as folder:
            source, target = pathlib.Path(folder) / "input.nrrd", pathlib.Path(folder) / "output.nrrd"
            sitk.WriteImage(image, str(source), useCompression=False)
            result = runWithDeviceFallback(
                runner,
                APPLY_TASK,
                {
                    "image": str(source),
                    "out": str(target),
                    "modelsFolder": str(self.modelsFolder) if self.modelsFolder else None,
                    **arguments,
                },
                progress,
                cancel,
            )
            translated = sitk.ReadImage(str(target))
        if translated.GetSize() != image.GetSize():
            raise ModelError(
                f"The style-transfer worker returned an image of size {translated.GetSize()} for an input "
                f"of size {image.GetSize()}; this is a bug, please report it."
            )
        # NRRD stores spacing times direction, which does not round-trip bit for bit: keep the input's geometry.
        translated.CopyInformation(image)
        name = (
            outputVolume.GetName() if outputVolume is not None else f"{volumeNode.GetName()}_{result['targetDomain']}"
        )
        outputNode = imageToVolumeNode(translated, self.scene, name, volumeNode=outputVolume)
        provenance = {
            key: result[key] for key in ("modelId", "sha256", "sequence", "sourceDomain", "targetDomain", "device")
        }
        outputNode.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps(provenance, sort_keys=True))
        logger.info(
            "Style transfer of a volume with model %s (%s → %s) on %s",
            result["modelId"],
            result["sourceDomain"],
            result["targetDomain"],
            result["device"],
        )
        return outputNode
