"""Deep-learning outcome logic on MRML nodes: Grad-CAM overlays and deep-feature tables.

The scene is passed in; nodes cross to SimpleITK and pandas only through :mod:`VirtualBiopsy.mrml`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentMaskImage
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.outcome.deep.config import SOURCE_ATTRIBUTE, DeepOutcomeConfig
from VirtualBiopsy.outcome.deep.crops import makeCrop
from VirtualBiopsy.outcome.deep.features import deepFeatureTable
from VirtualBiopsy.outcome.deep.gradcam import GradCamResult, gradCam
from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Colour tables for the map, first available wins (Slicer's files, then the built-in heat table).
COLOUR_NODE_IDS = (
    "vtkMRMLColorTableNodeFileInferno.txt",
    "vtkMRMLColorTableNodeFileColdToHotRainbow.txt",
    "vtkMRMLColorTableNodeIron",
)
#: Map values at or below this are transparent over the image.
DISPLAY_THRESHOLD = 0.05


class DeepOutcomeLogic:
    """Grad-CAM maps and deep features of a trained classifier, for nodes of ``scene``."""

    def __init__(self, scene: "slicer.vtkMRMLScene") -> None:
        if scene is None:
            raise InputError("DeepOutcomeLogic needs a scene; pass the scene that holds the nodes.")
        self.scene = scene

    def gradCamNode(
        self,
        model: ClassifierModel,
        imageNodes: Mapping[str, Any],
        maskNode: Any,
        config: DeepOutcomeConfig | None = None,
        *,
        segment: str | None = None,
        subject: str | None = None,
        name: str | None = None,
    ) -> tuple[Any, GradCamResult]:
        """A scalar volume node holding the Grad-CAM map of the loaded network ``model`` on the grid of its first
        sequence, shown over that volume at ``config.overlayOpacity``.

        :param imageNodes: the patient's volume nodes by sequence name.
        :param maskNode: the tumour as a labelmap/scalar volume node (non-zero inside) or a segmentation node.
        :param config: ``gradCamMethod``, ``gradCamClass``, ``gradCamLayer``, ``overlayOpacity`` (its
            ``deepModel`` is not read: ``model`` is the network); default: :class:`DeepOutcomeConfig`'s.
        :param segment: the segment (id or name) when ``maskNode`` is a segmentation; default its first segment.
        :param subject: subject hierarchy patient for the map when the image node is not in the hierarchy.
        :returns: ``(node, result)``; ``node`` is ``None`` when the map is undefined (``result.reason`` says why).
        """
        config = config or DeepOutcomeConfig()
        images = {name_: volumeNodeToImage(node) for name_, node in imageNodes.items()}
        reference = _referenceNode(imageNodes, model.channels[0])
        mask = self._maskImage(maskNode, reference, segment)
        result = gradCam(model, images, mask, config.gradCamMethod, config.classIndex(), config.gradCamLayer or None)
        return self._mapNode(result, reference, subject, name, config.overlayOpacity), result

    def gradCamNodeInWorker(
        self,
        imageNodes: Mapping[str, Any] | Sequence[Any],
        maskNode: Any,
        config: DeepOutcomeConfig,
        *,
        segment: str | None = None,
        subject: str | None = None,
        name: str | None = None,
        runner=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[Any, GradCamResult]:
        """:meth:`gradCamNode` of the network ``config.deepModel`` (a classifier folder or registered id) run by
        ``runner`` (default: a worker process): torch and MONAI are imported there, not here, and ``cancel`` stops
        the worker. The model's sequences are read from its manifest entry, without torch.

        :param imageNodes: volume nodes by sequence name, or a list of volume nodes (as a panel selects them): a
            one-sequence model takes the first; otherwise each is matched to a sequence by its node name.
        :raises InputError: for an empty ``config.deepModel`` or one that is no CNN classifier.
        :raises CancelledError: when ``cancel`` is set (no node is added).
        """
        from VirtualBiopsy.outcome.deep.gradCamTask import gradCamInWorker
        from VirtualBiopsy.outcome.deep.modelFolder import resolveModel

        if not config.deepModel:
            raise InputError(
                "No CNN model was given (DeepOutcomeConfig.deepModel is empty); choose a model folder "
                "written by 'virtual-biopsy outcome cnn train' or a registered model id."
            )
        entry, _folder = resolveModel(config.deepModel)
        channels = [modelInput.sequence for modelInput in sorted(entry.inputs, key=lambda item: item.channel)]
        if not isinstance(imageNodes, Mapping):
            nodes = list(imageNodes)
            imageNodes = (
                {channels[0]: nodes[0]}
                if len(channels) == 1 and nodes
                else {sequenceName(node): node for node in nodes}
            )
        if runner is None:
            from VirtualBiopsy.workers.processRunner import ProcessRunner

            runner = ProcessRunner()
        images = {name_: volumeNodeToImage(node) for name_, node in imageNodes.items()}
        reference = _referenceNode(imageNodes, channels[0])
        mask = self._maskImage(maskNode, reference, segment)
        result = gradCamInWorker(
            runner,
            config.deepModel,
            images,
            mask,
            config.gradCamMethod,
            config.classIndex(),
            config.gradCamLayer or None,
            progress,
            cancel,
        )
        if result.map is not None:
            # NRRD keeps spacing times direction, not bit for bit: the map is on the reference's grid exactly.
            result.map.CopyInformation(images[next(key for key, node in imageNodes.items() if node is reference)])
        return self._mapNode(result, reference, subject, name, config.overlayOpacity), result

    def _mapNode(
        self, result: GradCamResult, reference: Any, subject: str | None, name: str | None, opacity: float
    ) -> Any:
        if not result.defined:
            logger.warning("Grad-CAM is undefined: %s", result.reason)
            return None
        assert result.map is not None, "a defined map is there"
        node = imageToVolumeNode(
            result.map, self.scene, name or f"{reference.GetName()} {result.method} {result.className}"
        )
        node.SetAttribute(SOURCE_ATTRIBUTE, reference.GetID())
        self._showAsOverlay(node, reference, opacity)
        self._placeNextTo(node, reference, subject)
        return node

    def deepFeatureTableNode(
        self,
        model: ClassifierModel,
        cases: Mapping[str, tuple[Mapping[str, Any], Any]],
        name: str = "Deep features",
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> Any:
        """A table node with ``patient``, ``deep_0000``, … for ``{patient: (imageNodes, maskNode)}``.

        :raises CancelledError: when ``cancel`` is set (checked between patients; no node is added).
        """
        progress = progress or noProgress
        crops = {}
        for index, (patient, (imageNodes, maskNode)) in enumerate(cases.items()):
            if cancel is not None:
                cancel.raiseIfCancelled()
            progress(index / max(len(cases), 1), f"crop of {patient}")
            reference = _referenceNode(imageNodes, model.channels[0])
            images = {key: volumeNodeToImage(node) for key, node in imageNodes.items()}
            crops[patient] = makeCrop(
                images, self._maskImage(maskNode, reference, None), model.channels, model.cropSize, model.cropSpacing
            )
        table = deepFeatureTable(model, crops)
        progress(1.0, f"deep features of {len(crops)} patients")
        return dataFrameToTableNode(table, self.scene, name)

    def _maskImage(self, maskNode: Any, reference: Any, segment: str | None):
        if maskNode is None:
            raise InputError("No tumour mask node was given; the crop is centred on the tumour.")
        if maskNode.IsA("vtkMRMLSegmentationNode"):
            segmentation = maskNode.GetSegmentation()
            if segmentation.GetNumberOfSegments() == 0:
                raise InputError(f"Segmentation '{maskNode.GetName()}' has no segment; segment the tumour first.")
            return segmentMaskImage(maskNode, segment or segmentation.GetNthSegmentID(0), reference)
        return volumeNodeToImage(maskNode)

    def _showAsOverlay(self, node: Any, reference: Any, opacity: float) -> None:
        display = node.GetDisplayNode()
        colour = next((identifier for identifier in COLOUR_NODE_IDS if self.scene.GetNodeByID(identifier)), None)
        if colour is not None:
            display.SetAndObserveColorNodeID(colour)
        display.AutoWindowLevelOff()
        display.SetWindowLevelMinMax(0.0, 1.0)
        display.SetThreshold(DISPLAY_THRESHOLD, 1.0)
        display.ApplyThresholdOn()
        display.SetInterpolate(True)
        composites = self.scene.GetNodesByClass("vtkMRMLSliceCompositeNode")
        for index in range(composites.GetNumberOfItems()):
            composite = composites.GetItemAsObject(index)
            composite.SetBackgroundVolumeID(reference.GetID())
            composite.SetForegroundVolumeID(node.GetID())
            composite.SetForegroundOpacity(opacity)

    def _placeNextTo(self, node: Any, reference: Any, patient: str | None) -> None:
        shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        item = shNode.GetItemByDataNode(reference)
        if item != shNode.GetInvalidItemID() and shNode.GetItemParent(item) != shNode.GetSceneItemID():
            shNode.CreateItem(shNode.GetItemParent(item), node)
        elif patient:
            placeInSubjectHierarchy(self.scene, [node], patient)


def _referenceNode(imageNodes: Mapping[str, Any], sequence: str) -> Any:
    for key, node in imageNodes.items():
        if str(key).lower() == sequence.lower():
            return node
    raise InputError(
        f"Sequence '{sequence}' is needed but no node was given for it (given: "
        f"{', '.join(map(str, imageNodes)) or 'none'}); select the patient's {sequence} volume."
    )


def sequenceName(volumeNode: Any) -> str:
    """A volume node's name as a sequence name (and feature prefix): letters, digits, '.' and '-' only."""
    return re.sub(r"[^A-Za-z0-9.\-]+", "-", volumeNode.GetName()).strip("-") or volumeNode.GetID()
