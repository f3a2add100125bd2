"""Deep-learning outcome logic on MRML nodes: Grad-CAM overlays and deep-feature tables.

The scene is passed in; nodes cross to SimpleITK and pandas only through :mod:`VirtualBiopsy.mrml`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.hierarchy import placeInSubjectHierarchy
from VirtualBiopsy.mrml.images import imageToVolumeNode, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import segmentMaskImage
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.outcome.deep.config import SOURCE_ATTRIBUTE  # noqa: F401 (re-exported)
from VirtualBiopsy.outcome.deep.crops import makeCrop
from VirtualBiopsy.outcome.deep.features import deepFeatureTable
from VirtualBiopsy.outcome.deep.gradcam import GradCamResult, gradCam
from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Colour tables for the map, first available wins (Slicer's files, then the built-in heat table).
COLOUR_NODE_IDS = ("vtkMRMLColorTableNodeFileInferno.txt", "vtkMRMLColorTableNodeFileColdToHotRainbow.txt",
                   "vtkMRMLColorTableNodeIron")
#: Map values at or below this are transparent over the image.
DISPLAY_THRESHOLD = 0.05


class DeepOutcomeLogic:
    """Grad-CAM maps and deep features of a trained classifier, for nodes of ``scene``."""

    def __init__(self, scene: "slicer.vtkMRMLScene") -> None:
        if scene is None:
            raise InputError("DeepOutcomeLogic needs a scene; pass the scene that holds the nodes.")
        self.scene = scene

    def gradCamNode(self, model: ClassifierModel, imageNodes: Mapping[str, Any], maskNode: Any,
                    method: str = "gradcam", classIndex: int | str | None = None, layer: str | None = None,
                    segment: str | None = None, patient: str | None = None,
                    name: str | None = None) -> tuple[Any, GradCamResult]:
        """A scalar volume node holding the Grad-CAM map on the grid of the model's first sequence.

        :param imageNodes: the patient's volume nodes by sequence name.
        :param maskNode: the tumour as a labelmap/scalar volume node (non-zero inside) or a segmentation node.
        :param segment: the segment (id or name) when ``maskNode`` is a segmentation; default its first segment.
        :param patient: subject hierarchy patient for the map when the image node is not in the hierarchy.
        :returns: ``(node, result)``; ``node`` is ``None`` when the map is undefined (``result.reason`` says why).
        """
        images = {name_: volumeNodeToImage(node) for name_, node in imageNodes.items()}
        reference = _referenceNode(imageNodes, model.channels[0])
        mask = self._maskImage(maskNode, reference, segment)
        result = gradCam(model, images, mask, method, classIndex, layer)
        return self._mapNode(result, reference, patient, name), result

    def gradCamNodeInWorker(self, model: str, channels: list[str], imageNodes: Mapping[str, Any], maskNode: Any,
                            method: str = "gradcam", classIndex: int | str | None = None, layer: str | None = None,
                            segment: str | None = None, patient: str | None = None, name: str | None = None,
                            runner=None, progress: ProgressCallback | None = None,
                            cancel: CancelToken | None = None) -> tuple[Any, GradCamResult]:
        """:meth:`gradCamNode` with the network run by ``runner`` (default: a worker process): torch and MONAI
        are imported there, not here, and ``cancel`` stops the worker.

        :param model: the classifier's folder or registered id; :param channels: its sequences, first one the
            map's grid (``resolveModel(model)[0].inputs``, read without torch).
        :raises CancelledError: when ``cancel`` is set (no node is added).
        """
        from VirtualBiopsy.outcome.deep.gradCamTask import gradCamInWorker

        if runner is None:
            from VirtualBiopsy.workers.processRunner import ProcessRunner

            runner = ProcessRunner()
        images = {name_: volumeNodeToImage(node) for name_, node in imageNodes.items()}
        reference = _referenceNode(imageNodes, channels[0])
        mask = self._maskImage(maskNode, reference, segment)
        result = gradCamInWorker(runner, model, images, mask, method, classIndex, layer, progress, cancel)
        if result.map is not None:
            # NRRD keeps spacing times direction, not bit for bit: the map is on the reference's grid exactly.
            result.map.CopyInformation(images[next(key for key, node in imageNodes.items() if node is reference)])
        return self._mapNode(result, reference, patient, name), result

    def _mapNode(self, result: GradCamResult, reference: Any, patient: str | None, name: str | None) -> Any:
        if not result.defined:
            logger.warning("Grad-CAM is undefined: %s", result.reason)
            return None
        assert result.map is not None, "a defined map is there"
        node = imageToVolumeNode(result.map, self.scene, name or f"{reference.GetName()} {result.method} "
                                                                 f"{result.className}")
        node.SetAttribute(SOURCE_ATTRIBUTE, reference.GetID())
        self._showAsOverlay(node, reference)
        self._placeNextTo(node, reference, patient)
        return node

    def deepFeatureTableNode(self, model: ClassifierModel, cases: Mapping[str, tuple[Mapping[str, Any], Any]],
                             name: str = "Deep features", progress: ProgressCallback | None = None,
                             cancel: CancelToken | None = None) -> Any:
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
            crops[patient] = makeCrop(images, self._maskImage(maskNode, reference, None), model.channels,
                                      model.cropSize, model.cropSpacing)
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

    def _showAsOverlay(self, node: Any, reference: Any) -> None:
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
            composite.SetForegroundOpacity(0.5)

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
    raise InputError(f"Sequence '{sequence}' is needed but no node was given for it (given: "
                     f"{', '.join(map(str, imageNodes)) or 'none'}); select the patient's {sequence} volume.")
