"""AI segmentation on nodes: named input volumes in, a segmentation node (and probability / uncertainty
volumes) out, the network running behind a worker runner."""

from __future__ import annotations

import json
import logging
import pathlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, gridOf
from VirtualBiopsy.models.manifest import entryToDict
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.mrml.images import imageToVolumeNode, nodeGrid, volumeNodeToImage
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.mrml.segmentLabels import completeModelSegments
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.backends.channels import canonicalSequence, sequenceFromName
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.segment.inferenceTask import TASK

logger = logging.getLogger(__name__)

#: Segmentation node attribute holding the segmentation's provenance as JSON (shared with the review logic).
PROVENANCE_ATTRIBUTE = "VirtualBiopsy.segmentation.provenance"
#: Node reference roles from the segmentation to its probability, entropy and variance volumes.
PROBABILITY_ROLE = "VirtualBiopsyProbability"
UNCERTAINTY_ROLE = "VirtualBiopsyUncertainty"
VARIANCE_ROLE = "VirtualBiopsyVariance"


@dataclass
class ModelSegmentation:
    """What :meth:`ModelSegmentationLogic.run` made.

    :ivar segmentation: one segment per model label, on the reference volume's geometry.
    :ivar probabilities: probability volume per label value (when asked for).
    :ivar uncertainty: normalised softmax entropy volume (when asked for).
    :ivar variance: variance across folds (when uncertainty is asked for and two or more nnU-Net folds ran).
    :ivar provenance: model id, version, hashes, channel mapping, device, folds, test-time augmentation.
    """

    segmentation: object
    probabilities: dict[int, object] = field(default_factory=dict)
    uncertainty: object | None = None
    variance: object | None = None
    provenance: dict = field(default_factory=dict)


class ModelSegmentationLogic:
    """Run a model of the registry on volume nodes of one scene.

    :param scene: the scene that holds the inputs and receives the outputs.
    :param runner: where the network runs (default: a :class:`~VirtualBiopsy.workers.processRunner.ProcessRunner`
        child process, so Cancel stops it at once).
    :param registry: where model ids are looked up (default: the shipped and the user's models).
    """

    def __init__(self, scene, runner=None, registry=None) -> None:
        self.scene = scene
        self.runner = runner
        self.registry = registry

    def run(
        self,
        inputVolumes,
        config: SegmentationConfig,
        outputSegmentation=None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        modelEntry: ModelEntry | None = None,
        modelPath: pathlib.Path | None = None,
    ) -> ModelSegmentation:
        """Segment ``inputVolumes`` with model ``config.modelId`` (or ``modelEntry`` at ``modelPath``, for a model
        that is not in the registry), looked up once.

        :param inputVolumes: ``{sequence: volume node}`` (volumes of other sequences are left out), a list of
            volume nodes whose names name their sequences (``VB0001_FLAIR``), or one volume node.

        The label map lies on the grid of the volume that feeds the model's first channel, which becomes
        the segmentation's reference geometry, whatever its orientation. Inputs are not modified.

        :raises InputError: for no input, a missing sequence, inputs on different grids or a bad setting.
        :raises ModelError: when the model cannot be loaded or run.
        :raises CancelledError: when ``cancel`` is set (no node is created or changed).
        """
        progress = progress or noProgress
        entry, modelPath = self._model(config, modelEntry, modelPath)
        volumes = modelInputVolumes(inputVolumes, entry)
        reference = _referenceVolume(volumes, entry)
        folds = config.foldList()
        manyFolds = entry.backend == "nnunet" and len(folds or entry.options.get("folds") or []) >= 2
        with tempfile.TemporaryDirectory(prefix="virtual-biopsy-segment-") as temporary:
            folder = pathlib.Path(temporary)
            images = {}
            for index, (name, node) in enumerate(volumes.items()):
                images[name] = str(folder / f"input{index}.nrrd")
                sitk.WriteImage(volumeNodeToImage(node), images[name], useCompression=False)
            kinds = (
                ["labelMap"]
                + (["probabilities"] if config.probabilities else [])
                + (["uncertainty"] + (["variance"] if manyFolds else []) if config.uncertainty else [])
            )
            outputs = {kind: str(folder / f"{kind}.nrrd") for kind in kinds}
            arguments = {
                "images": images,
                "model": entryToDict(entry),
                "modelPath": str(modelPath),
                "device": config.device,
                "testTimeAugmentation": config.testTimeAugmentation,
                "folds": folds,
                "keepLargestComponent": config.keepLargestComponent,
                "fillHoles": config.fillHoles,
                "outputs": outputs,
            }
            result = self._execute(arguments, progress, cancel)
            products = {kind: _onGridOf(sitk.ReadImage(path), reference) for kind, path in result["outputs"].items()}
        return self._toNodes(products, result, entry, reference, outputSegmentation, config)

    def _model(self, config: SegmentationConfig, entry: ModelEntry | None, path) -> tuple[ModelEntry, pathlib.Path]:
        if entry is not None:
            return entry, pathlib.Path(path or entry.path)
        if not config.modelId:
            raise InputError("No model was chosen: set SegmentationConfig.modelId (see 'virtual-biopsy models list').")
        registry = self.registry
        if registry is None:
            from VirtualBiopsy.models.registry import ModelRegistry

            registry = ModelRegistry()
        entry = registry.get(config.modelId)
        return entry, registry.modelPath(entry)

    def _execute(self, arguments: dict, progress: ProgressCallback, cancel: CancelToken | None) -> dict:
        from VirtualBiopsy.workers.deviceFallback import runWithDeviceFallback

        runner = self.runner
        if runner is None:
            from VirtualBiopsy.workers.processRunner import ProcessRunner

            runner = ProcessRunner()
        return runWithDeviceFallback(runner, TASK, arguments, progress, cancel)

    def _toNodes(
        self, products: dict, result: dict, entry: ModelEntry, reference, outputSegmentation, config: SegmentationConfig
    ) -> ModelSegmentation:
        base = outputSegmentation.GetName() if outputSegmentation else f"{reference.GetName()}_{entry.id}"
        labelMap = products["labelMap"]
        found = set(result["foundLabels"])
        labels = [(label.value, label.name, label.color, label.terminology) for label in entry.labels]
        known = {value for value, *_ in labels}
        labels += [(value, f"Label_{value}", (0.5, 0.5, 0.5), "") for value in sorted(found - known)]
        segmentation = labelmapImageToSegmentation(
            sitk.Cast(labelMap, sitk.sitkUInt16),
            self.scene,
            base,
            referenceVolume=reference,
            segmentationNode=outputSegmentation,
        )
        completeModelSegments(segmentation, labels)
        made = ModelSegmentation(segmentation, provenance={**result["provenance"], "config": config.toDict()})
        names = {value: name for value, name, *_ in labels}
        if "probabilities" in products:
            vector = products["probabilities"]
            for channel, value in enumerate(result["labelValues"]):
                if value == 0:
                    continue
                image = sitk.VectorIndexSelectionCast(vector, channel, sitk.sitkFloat32)
                node = imageToVolumeNode(image, self.scene, f"{base}_{names.get(value, value)}_probability")
                made.probabilities[value] = node
                segmentation.AddNodeReferenceID(PROBABILITY_ROLE, node.GetID())
        for kind, role, suffix in (
            ("uncertainty", UNCERTAINTY_ROLE, "uncertainty"),
            ("variance", VARIANCE_ROLE, "fold_variance"),
        ):
            if kind in products:
                node = imageToVolumeNode(sitk.Cast(products[kind], sitk.sitkFloat32), self.scene, f"{base}_{suffix}")
                setattr(made, kind, node)
                segmentation.SetNodeReferenceID(role, node.GetID())
        segmentation.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps(made.provenance, default=str))
        if not found:
            logger.warning(
                "Model '%s' found no %s in '%s'.", entry.id, " or ".join(n for _v, n, *_ in labels), reference.GetName()
            )
        return made


def _onGridOf(image: sitk.Image, volumeNode) -> sitk.Image:
    """``image`` with the exact geometry of ``volumeNode`` (files round spacing and directions by ~1e-16).

    :raises GeometryError: if it lies on another grid.
    """
    grid = nodeGrid(volumeNode)
    differences = gridDifferences(grid, gridOf(image), 1e-6, "result")
    if differences:
        raise GeometryError(
            f"The model's result is not on the grid of '{volumeNode.GetName()}': "
            f"{'; '.join(differences)}. This is a bug; please report it."
        )
    image.SetSpacing(grid[1])
    image.SetOrigin(grid[2])
    image.SetDirection(grid[3])
    return image


def modelInputVolumes(inputVolumes, entry: ModelEntry) -> dict[str, object]:
    """``{sequence: volume node}`` for the model's inputs.

    :param inputVolumes: ``{sequence: node}`` (sequences the model does not take are left out), a list of nodes
        whose names name their sequences (``VB0001_FLAIR``, ``t1 gd``; see :func:`sequenceFromName`), or one node.
    :raises InputError: for no volume, or a listed volume whose name names none of the model's sequences (or one
        named already).
    """
    if isinstance(inputVolumes, Mapping):
        volumes = {str(name or ""): node for name, node in inputVolumes.items()}
        wanted = {canonicalSequence(modelInput.sequence) for modelInput in entry.inputs}
        chosen = {name: node for name, node in volumes.items() if not name or canonicalSequence(name) in wanted}
        volumes = chosen or volumes  # none matches: the channel mapping says which sequence is missing
    elif isinstance(inputVolumes, (list, tuple)):
        volumes = _volumesNamedBySequence([node for node in inputVolumes if node is not None], entry)
    else:
        volumes = {"": inputVolumes}
    if not volumes or any(node is None for node in volumes.values()):
        raise InputError("No input volume was given; select one volume per sequence the model needs.")
    return volumes


def _volumesNamedBySequence(nodes: list, entry: ModelEntry) -> dict[str, Any]:
    if len(nodes) == 1:
        return {"": nodes[0]}
    named: dict[str, Any] = {}
    for node in dict.fromkeys(nodes):
        sequence = sequenceFromName(node.GetName(), entry.inputs)
        if sequence is None or sequence in named:
            expected = ", ".join(modelInput.sequence for modelInput in entry.inputs)
            taken = f" ('{named[sequence].GetName()}' is {sequence} already)" if sequence in named else ""
            raise InputError(
                f"Cannot tell which of the model's sequences ({expected}) the volume '{node.GetName()}' "
                f"is{taken}; rename the volumes so that each name contains its sequence, e.g. "
                "'patient_FLAIR'."
            )
        named[sequence] = node
    return named


def _referenceVolume(volumes: dict[str, object], entry: ModelEntry):
    """The volume that feeds the model's first channel (the unnamed one for a one-channel model)."""
    first = min(entry.inputs, key=lambda modelInput: modelInput.channel) if entry.inputs else None
    if first is not None:
        for name, node in volumes.items():
            if name and canonicalSequence(name) == canonicalSequence(first.sequence):
                return node
    return next(iter(volumes.values()))


def domainWarningsOf(segmentation) -> list[str]:
    """The training-domain warnings a model recorded on the segmentation node it made (empty for none, or for a
    segmentation no model made)."""
    recorded = segmentation.GetAttribute(PROVENANCE_ATTRIBUTE) if segmentation is not None else None
    if not recorded:
        return []
    try:
        warnings = json.loads(recorded).get("domainWarnings")
    except (ValueError, AttributeError):
        return []
    return [str(warning) for warning in warnings or []]
