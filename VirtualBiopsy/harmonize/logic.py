"""Harmonization of volume nodes."""

from __future__ import annotations

import logging
import pathlib

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import checkOutputLocation, sha256File
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.configuredNormalization import normalizeImage, requireInputs
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.normalization import DEFAULT_PERCENTILES, NyulModel, fitNyulLandmarks
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
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
        config: HarmonizationConfig,
        outputVolume=None,
        *,
        mask=None,
        reference=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ):
        """Normalize ``inputVolume``'s intensities as ``config`` says into ``outputVolume`` (created when ``None``).

        :param mask: with ``maskMode`` ``"mask"``: a segmentation node (its segments together, on the
            input's grid) or a labelmap volume node on the input's grid.
        :param reference: with ``"histmatch"``: the scalar volume whose histogram is matched (masked
            by its own foreground unless ``maskMode`` is ``"none"``).
        :returns: the output scalar volume node; the input nodes are not modified.
        :raises InputError: for a missing or unexpected mask or reference, or any normalization error.
        :raises GeometryError: for a labelmap on another grid or a transformed node.
        :raises CancelledError: when cancelled; no output node is created.
        """
        if not isinstance(config, HarmonizationConfig):
            raise InputError(f"The harmonization settings are {type(config).__name__}; pass a HarmonizationConfig.")
        config.validate()
        progress = progress or noProgress
        requireInputs(config, mask, reference)
        image = volumeNodeToImage(inputVolume)
        progress(0.0, f"Harmonizing {inputVolume.GetName()}")
        maskImage = self._maskOfNode(mask, inputVolume) if mask is not None else None
        referenceImage = volumeNodeToImage(reference) if reference is not None else None
        if cancel:
            cancel.raiseIfCancelled()
        progress(0.2, f"Normalization: {config.normalization}")
        normalized = normalizeImage(image, config, maskImage, referenceImage)
        if cancel:
            cancel.raiseIfCancelled()
        name = outputVolume.GetName() if outputVolume else f"{inputVolume.GetName()}_harmonized"
        outputVolume = imageToVolumeNode(normalized, self.scene, name, volumeNode=outputVolume)
        outputVolume.SetAttribute("VirtualBiopsy.harmonization", str(config.toDict()))
        if config.normalization == "nyul":
            modelHash = sha256File(pathlib.Path(config.nyulModelFile).expanduser())
            outputVolume.SetAttribute("VirtualBiopsy.nyulModelSha256", modelHash)
        progress(1.0, "Harmonization done")
        return outputVolume

    def fitNyulModel(
        self,
        volumes,
        modelFile: str,
        maskNodes=None,
        sequence: str = "",
        percentiles=DEFAULT_PERCENTILES,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> NyulModel:
        """Fit a Nyúl standard scale on volume nodes of one sequence and save it to the new file ``modelFile``.

        :param volumes: scalar volume nodes (a cohort's images of one sequence).
        :param maskNodes: one segmentation or labelmap node per volume; ``None``: each volume's head
            (Otsu foreground).
        :returns: the model (set ``nyulModelFile`` to ``modelFile`` to apply it).
        :raises InputError: for no volumes, a mask count that differs, an existing ``modelFile``, or
            any check of the fit.
        """
        volumes = list(volumes)
        if pathlib.Path(modelFile).expanduser().exists():
            raise InputError(f"Nyúl model file {modelFile} exists already; nothing is overwritten. Choose a new path.")
        checkOutputLocation(modelFile, "Nyúl model file", needBytes=0)
        if maskNodes is not None and len(maskNodes) != len(volumes):
            raise InputError(f"{len(volumes)} volumes but {len(maskNodes)} mask nodes; give one mask per volume.")
        images = [volumeNodeToImage(volume) for volume in volumes]
        if maskNodes is None:
            masks = [foregroundMask(image) for image in images]
        else:
            masks = [self._maskOfNode(node, volume) for node, volume in zip(maskNodes, volumes)]
        model = fitNyulLandmarks(images, masks, percentiles, sequence=sequence, progress=progress, cancel=cancel)
        model.save(modelFile)
        return model

    @staticmethod
    def _maskOfNode(maskNode, inputVolume) -> sitk.Image:
        if maskNode.IsA("vtkMRMLSegmentationNode"):
            labelmap, _segments = segmentationToLabelmapImage(maskNode, inputVolume)
            return labelmap
        if maskNode.IsA("vtkMRMLLabelMapVolumeNode"):
            return volumeNodeToImage(maskNode)
        raise InputError(
            f"The mask node '{maskNode.GetName()}' is a {maskNode.GetClassName()}; give a segmentation "
            "or a labelmap volume."
        )
