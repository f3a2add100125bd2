"""Harmonization of volume nodes."""

from __future__ import annotations

import logging

from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.zscore import zScoreNormalize
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)


class HarmonizationLogic:
    """Harmonize volumes of one scene.

    :param scene: the MRML scene that holds the input nodes and receives the outputs.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    def run(
        self,
        inputVolume,
        config: HarmonizationConfig | None = None,
        outputVolume=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Normalize ``inputVolume``'s intensities into ``outputVolume`` (created when ``None``).

        :returns: the output scalar volume node; the input node is not modified.
        """
        config = config or HarmonizationConfig()
        progress = progress or noProgress
        progress(0.0, f"Harmonizing {inputVolume.GetName()}")
        image = volumeNodeToImage(inputVolume)
        if cancel:
            cancel.raiseIfCancelled()
        mask = foregroundMask(image) if config.maskMode == "foreground" else None
        normalized = zScoreNormalize(image, mask, config.backgroundValue)
        if cancel:
            cancel.raiseIfCancelled()
        name = outputVolume.GetName() if outputVolume else f"{inputVolume.GetName()}_harmonized"
        outputVolume = imageToVolumeNode(normalized, self.scene, name, volumeNode=outputVolume)
        outputVolume.SetAttribute("VirtualBiopsy.harmonization", str(config.toDict()))
        progress(1.0, "Harmonization done")
        return outputVolume
