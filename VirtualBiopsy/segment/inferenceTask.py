"""The inference task: image files in, label map / probability / uncertainty files out.

A worker task (see :mod:`VirtualBiopsy.workers.runner`): plain JSON arguments, so the same
call runs in this process (``InlineRunner``) or in a child process. Arguments:

``images``
    ``{sequence name: image file}`` (one unnamed image: name ``""``).
``model``
    the model entry in its manifest form (``entryToDict``); ``modelPath``: the model's absolute folder or file
    (``ModelRegistry.modelPath``). Before anything is read, every file of the model is checked against this entry
    (:meth:`ModelFiles.checked`); checkpoints load weights-only (full unpickling only for a trusted model), and an
    untrusted model's configuration may name only allow-listed classes (:mod:`~VirtualBiopsy.models.allowList`).
``device``, ``testTimeAugmentation``, ``folds``, ``keepLargestComponent``, ``fillHoles``
    as in :class:`~VirtualBiopsy.segment.config.SegmentationConfig` (``folds``: a list, or ``None`` for all).
``outputs``
    ``{"labelMap": path, "probabilities": path or None, "uncertainty": path or None, "variance": path or None}``.

Outputs are written only when everything succeeded, none over an existing file. The label map
lies on the first mapped image's grid; probabilities are one vector image (one component per
class, background first); ``uncertainty`` is the normalised softmax entropy, ``variance`` the
variance across folds (nnU-Net with two or more folds only).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.files import readImageFile, writeImageAtomically
from VirtualBiopsy.imageGeometry import requireOrthogonalGrid
from VirtualBiopsy.models.manifest import entryFromDict
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.progress import ProgressCallback
from VirtualBiopsy.segment.backends.channels import mapChannels
from VirtualBiopsy.segment.backends.result import BackendResult
from VirtualBiopsy.segment.postprocess import fillHoles, keepLargestComponent
from VirtualBiopsy.segment.uncertainty import memberVariance, normalizedEntropy

logger = logging.getLogger(__name__)

TASK = "VirtualBiopsy.segment.inferenceTask:runInference"


def runInference(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Segment one case with a model and write the requested files.

    :returns: ``{"outputs": {kind: path}, "labelValues": [...], "foundLabels": [...], "provenance": {...}}``.
    :raises InputError: for missing images, a missing sequence, an image too small for the model (one slice
        for a 3D model), a sheared grid, or an existing output.
    :raises ModelError: for a model that cannot be loaded or run, or whose files differ from its entry.
    :raises UnsafeModelError: when an untrusted model names a class or expression outside the allow-list.
    """
    entry = entryFromArguments(arguments["model"])
    modelPath = pathlib.Path(arguments.get("modelPath") or entry.path)
    files = ModelFiles.checked(entry, modelPath)
    outputs = {kind: pathlib.Path(path) for kind, path in (arguments.get("outputs") or {}).items() if path}
    if "labelMap" not in outputs:
        raise InputError("The inference task needs outputs['labelMap'], the label map file to write.")
    for kind, path in outputs.items():
        if path.exists():
            raise InputError(f"Output {kind} file {path} exists already; nothing is overwritten. Choose a new path.")
        if not path.parent.is_dir():
            raise InputError(f"The folder of output {kind} file {path} does not exist; create it first.")
    if "variance" in outputs and entry.backend != "nnunet":
        raise InputError(
            f"The variance across folds needs an nnU-Net model run with two or more folds; model "
            f"'{entry.id}' is {entry.backend}. Drop the variance output."
        )
    progress(0.0, "Reading images")
    images = {name: _readImage(path, name) for name, path in arguments["images"].items()}
    channels = mapChannels(images, entry.inputs)
    inputs = list(channels.images)
    orientation = entry.options.get("orientation")
    if orientation:
        from VirtualBiopsy.segment.backends.orientation import reorient

        inputs = [reorient(image, orientation) for image in inputs]

    folds = arguments.get("folds")
    _requireInputSize(entry, files, inputs[0])
    _requireMemory(entry, files, inputs, folds)
    domainWarnings = _domainWarnings(entry, files, inputs)
    result = _predict(entry, files, inputs, arguments, folds, "variance" in outputs, progress)
    labelMap, probabilities, members = result.labelMap, result.probabilities, result.memberProbabilities
    if orientation:
        from VirtualBiopsy.segment.backends.orientation import (
            arrayBackOnGrid,
            imageBackOnGrid,
        )

        original = channels.images[0]
        labelMap = imageBackOnGrid(labelMap, inputs[0], original)
        probabilities = arrayBackOnGrid(probabilities, inputs[0], original)
        members = [arrayBackOnGrid(member, inputs[0], original) for member in members] if members else None

    if arguments.get("keepLargestComponent"):
        labelMap = keepLargestComponent(labelMap)
    if arguments.get("fillHoles"):
        labelMap = fillHoles(labelMap)
    reference = channels.images[0]
    products = {"labelMap": labelMap}
    if "probabilities" in outputs:
        products["probabilities"] = _vectorImage(probabilities, reference)
    if "uncertainty" in outputs:
        if result.provenance.get("regions"):
            raise InputError(
                f"Model '{entry.id}' predicts overlapping regions (sigmoids), for which the softmax "
                "entropy is not defined; drop the uncertainty output."
            )
        products["uncertainty"] = _scalarImage(normalizedEntropy(probabilities), reference)
    if "variance" in outputs:
        if not members or len(members) < 2:
            raise InputError(
                f"The variance across folds needs an nnU-Net model run with two or more folds (this run "
                f"used {result.provenance.get('folds', 'one network')}); drop the variance output."
            )
        products["variance"] = _scalarImage(memberVariance(members), reference)
    progress(0.97, "Writing results")
    _writeAll(products, outputs)
    found = sorted(int(v) for v in np.unique(sitk.GetArrayViewFromImage(labelMap)) if v != 0)
    if not found:
        logger.warning("Model '%s' found nothing: the label map is empty.", entry.id)
    provenance = {
        "modelId": entry.id,
        "modelVersion": entry.version,
        "modelSha256": entry.sha256,
        "backend": entry.backend,
        "channelMapping": channels.mapping,
        "ignoredImages": list(channels.ignored),
        "orientation": orientation or None,
        "keepLargestComponent": bool(arguments.get("keepLargestComponent")),
        "fillHoles": bool(arguments.get("fillHoles")),
        "domainWarnings": domainWarnings,
        **result.provenance,
    }
    progress(1.0, "Segmentation written")
    return {
        "outputs": {kind: str(path) for kind, path in outputs.items()},
        "labelValues": list(result.labelValues),
        "foundLabels": found,
        "provenance": provenance,
    }


def entryFromArguments(values: dict[str, Any]) -> ModelEntry:
    """The :class:`ModelEntry` of the task's ``model`` argument (its manifest form, ``entryToDict``).

    :raises ModelError: for a malformed entry.
    """
    try:
        return entryFromDict(values)
    except (TypeError, KeyError, ValueError) as error:
        raise ModelError(
            f"Model entry {values.get('id', '?')!r} is malformed ({error!r}); fix the manifest."
        ) from error


def _predict(
    entry: ModelEntry,
    files: ModelFiles,
    inputs: list[sitk.Image],
    arguments: dict[str, Any],
    folds,
    perFold: bool,
    progress: ProgressCallback,
) -> BackendResult:
    device = arguments.get("device", "auto")
    tta = bool(arguments.get("testTimeAugmentation", True))
    modelPath = files.root
    if entry.backend == "nnunet":
        from VirtualBiopsy.segment.backends.nnunetBackend import (
            NnunetOptions,
            predictNnunet,
        )

        chosen = folds or entry.options.get("folds") or None
        options = NnunetOptions(
            configuration=entry.options.get("configuration") or None,
            folds=tuple(chosen) if chosen else None,
            checkpointName=entry.options.get("checkpoint") or None,
            useMirroring=tta,
            device=device,
            tileStepSize=float(entry.options.get("tileStepSize", 0.5)),
            perFold=perFold,
        )
        return predictNnunet(inputs, modelPath, options, progress, files=files)
    if entry.backend in ("monai-torchscript", "monai-network"):
        from VirtualBiopsy.segment.backends.monaiBackend import (
            MonaiSettings,
            loadMonaiNetwork,
            predictMonai,
        )

        if folds:
            raise InputError(f"Folds {folds} apply to nnU-Net models only; model '{entry.id}' is {entry.backend}.")
        settings = MonaiSettings.fromOptions({k: v for k, v in entry.options.items() if k != "orientation"})
        expected = entry.files.get(modelPath.name)
        network = loadMonaiNetwork(
            entry.backend, modelPath, settings, expected, files.loadCheckpoint, trusted=files.trusted
        )
        return predictMonai(inputs, network, settings, device, tta, progress)
    if entry.backend == "monai-bundle":
        from VirtualBiopsy.segment.backends import monaiBundleBackend as bundle

        if folds:
            raise InputError(f"Folds {folds} apply to nnU-Net models only; model '{entry.id}' is {entry.backend}.")
        plan = bundle.readBundlePlan(files)  # refuses an unsafe or unsupported config before any weights load
        regions = bundle.regionsOf(entry, plan)
        return bundle.predictBundle(inputs, bundle.loadBundleNetwork(files, plan), plan, regions, device, progress)
    raise ModelError(
        f"Model '{entry.id}' has backend '{entry.backend}', which this version cannot run "
        "(nnunet, monai-torchscript, monai-network, monai-bundle)."
    )


def _requireInputSize(entry: ModelEntry, files: ModelFiles, image: sitk.Image) -> None:
    """Refuse up front an image smaller than the model's patch can take (a single slice for a 3D model)."""
    from VirtualBiopsy.segment.backends.inputSize import requireModelInputSize

    target: list[float | None] | None
    if entry.backend == "nnunet":
        from VirtualBiopsy.segment.backends.nnunetFolder import nnunetInputGrid

        target, patch = nnunetInputGrid(files.root, entry.options.get("configuration") or None, files.readJson)
    elif entry.backend == "monai-bundle":
        from VirtualBiopsy.segment.backends.monaiBundleBackend import readBundlePlan

        target, patch = None, list(readBundlePlan(files).roiSize)
    else:
        from VirtualBiopsy.segment.backends.monaiBackend import MonaiSettings

        settings = MonaiSettings.fromOptions({k: v for k, v in entry.options.items() if k != "orientation"})
        target, patch = (list(settings.spacing) if settings.spacing else None), list(settings.roiSize)
    requireModelInputSize(image, entry.id, patch, target)


def _requireMemory(entry: ModelEntry, files: ModelFiles, inputs: list[sitk.Image], folds) -> None:
    """Refuse up front, with the estimate, an input too large for the memory available."""
    from VirtualBiopsy.workers.memory import estimateInferenceBytes, requireMemory

    classes = max([label.value for label in entry.labels] + [1]) + 1
    if entry.backend == "nnunet":
        from VirtualBiopsy.segment.backends.nnunetFolder import nnunetWorkingGrid

        shape, patch = nnunetWorkingGrid(
            files.root, entry.options.get("configuration") or None, inputs[0], files.readJson
        )
        batch = 1
    elif entry.backend == "monai-bundle":
        from VirtualBiopsy.segment.backends.monaiBundleBackend import readBundlePlan

        plan = readBundlePlan(files)
        shape, patch, batch = list(inputs[0].GetSize()), list(plan.roiSize), plan.swBatchSize
        classes = plan.outChannels or classes
    else:
        from VirtualBiopsy.segment.backends.monaiBackend import (
            MonaiSettings,
            monaiWorkingGrid,
        )

        settings = MonaiSettings.fromOptions({k: v for k, v in entry.options.items() if k != "orientation"})
        shape, patch = monaiWorkingGrid(settings, inputs[0])
        batch = settings.swBatchSize
        classes = int((settings.networkArgs or {}).get("out_channels", classes))
    patchSize = patch if len(patch) == len(shape) else None
    estimate = estimateInferenceBytes(shape, len(inputs), classes, patchSize=patchSize, batchSize=batch)
    size = "×".join(str(n) for n in inputs[0].GetSize())
    requireMemory(estimate, f"Segmenting a {size} image with model '{entry.id}'")


def _domainWarnings(entry: ModelEntry, files: ModelFiles, inputs: list[sitk.Image]) -> list[str]:
    """Warnings for inputs far outside the model's training data (nnU-Net's fingerprint), each logged."""
    if entry.backend != "nnunet":
        return []
    from VirtualBiopsy.models.trainingDomain import TrainingDomain, domainWarnings
    from VirtualBiopsy.segment.backends.nnunetFolder import findTrainedModelFolder

    folder = findTrainedModelFolder(files.root, entry.options.get("configuration") or None)
    sequences = [item.sequence for item in sorted(entry.inputs, key=lambda item: item.channel)]
    domain = TrainingDomain.fromNnunetPlans(files.readJson(folder / "plans.json"), sequences=sequences, model=entry.id)
    warnings = domainWarnings(domain, dict(zip(sequences, inputs)))
    for warning in warnings:  # names the model and sequence only: no file path, nothing about the patient
        logger.warning("%s", warning)
    return warnings


def _readImage(path: str | pathlib.Path, name: str) -> sitk.Image:
    image = readImageFile(path, f"image (sequence '{name}')")
    if image.GetDimension() == 3:
        requireOrthogonalGrid(image, f"image file {path} (sequence '{name}')")
    return image


def _vectorImage(probabilities: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.moveaxis(probabilities.astype(np.float32), 0, -1), isVector=True)
    image.CopyInformation(reference)
    return image


def _scalarImage(voxels: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels.astype(np.float32))
    image.CopyInformation(reference)
    return image


def _writeAll(products: dict[str, sitk.Image], outputs: dict[str, pathlib.Path]) -> None:
    """Write every product, or none: files already written are removed if a later one fails."""
    written = []
    try:
        for kind, image in products.items():
            writeImageAtomically(image, outputs[kind])
            written.append(outputs[kind])
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
