"""Grad-CAM and Grad-CAM++ maps (``monai.visualize``) of a classifier, on the patient's grid.

The map is computed on the crop (MONAI upsamples the layer's map to the crop's size), normalized to [0, 1] there
by its minimum and maximum, and resampled linearly onto the patient's image grid (0 outside the crop). A map
that is constant on the crop (all gradients zero, or a layer whose weighted activations are all negative) has
no such scaling: it is reported as undefined, with the reason, instead of being divided by zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.outcome.deep.crops import (
    Crop,
    CropGrid,
    cropMapToImage,
    makeCrop,
    selectSequence,
)
from VirtualBiopsy.outcome.deep.features import cropTensor, predictProbabilities
from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel

METHODS = ("gradcam", "gradcampp")
#: A map whose range on the crop is at most this (relative to its largest magnitude) counts as constant.
CONSTANT_TOLERANCE = 1e-12


@dataclass
class GradCamResult:
    """A Grad-CAM map and the prediction it explains.

    :ivar map: Float32 map in [0, 1] on the patient's grid, or ``None`` when undefined.
    :ivar cropMap: the raw map on the crop grid ``(k, j, i)``, before normalization (``None`` from a worker).
    :ivar grid: the crop grid (``None`` from a worker).
    :ivar defined: whether the map could be normalized.
    :ivar reason: why it is undefined (empty when defined).
    :ivar classIndex: the explained class; :ivar className: its name.
    :ivar probabilities: the model's class probabilities for this patient.
    """

    map: sitk.Image | None
    cropMap: np.ndarray | None
    grid: CropGrid | None
    defined: bool
    reason: str
    classIndex: int
    className: str
    probabilities: list[float]
    method: str
    layer: str


def rawCropMap(
    model: ClassifierModel, crop: Crop, classIndex: int, method: str = "gradcam", layer: str | None = None
) -> np.ndarray:
    """MONAI's map for ``classIndex`` on the crop, upsampled to its size, without normalization ``(k, j, i)``.

    :raises InputError: for an unknown method or class index; :raises ModelError: for an unknown layer.
    """
    visualize = requirePackage("monai.visualize", "monai")
    if method not in METHODS:
        raise InputError(f"Grad-CAM method '{method}' is not known; choose {' or '.join(METHODS)}.")
    layer = layer or model.config["targetLayer"]
    if layer not in dict(model.network.named_modules()):
        raise ModelError(
            f"Model '{model.entry.id}' has no layer '{layer}'; choose one of its convolutional blocks "
            f"(default {model.config['targetLayer']})."
        )
    camClass = visualize.GradCAM if method == "gradcam" else visualize.GradCAMpp
    cam = camClass(nn_module=model.network, target_layers=layer, postprocessing=lambda values: values)
    result = cam(cropTensor(model, crop), class_idx=classIndex)
    return result[0, 0].detach().cpu().numpy().astype(np.float64)


def gradCam(
    model: ClassifierModel,
    images: Mapping[str, sitk.Image],
    mask: sitk.Image,
    method: str = "gradcam",
    classIndex: int | str | None = None,
    layer: str | None = None,
) -> GradCamResult:
    """Grad-CAM of the patient's tumour-centred crop, back on the grid of the model's first sequence.

    :param images: the patient's sequences by name (the model's, at least), on one grid.
    :param mask: the tumour mask on that grid (it gives the crop's centre).
    :param classIndex: the class to explain, by index or name; default the predicted class.
    :raises InputError: for a missing sequence, an empty or misplaced mask, or an unknown class.
    """
    crop = makeCrop(images, mask, model.channels, model.cropSize, model.cropSpacing)
    probabilities = predictProbabilities(model, crop)
    index = _classIndex(model, classIndex, probabilities)
    layer = layer or model.config["targetLayer"]
    raw = rawCropMap(model, crop, index, method, layer)
    low, high = float(raw.min()), float(raw.max())
    reference = selectSequence(images, model.channels[0])

    def result(camMap: sitk.Image | None, defined: bool, reason: str) -> GradCamResult:
        return GradCamResult(
            camMap,
            cropMap=raw,
            grid=crop.grid,
            defined=defined,
            reason=reason,
            classIndex=index,
            className=model.classes[index],
            probabilities=[float(p) for p in probabilities],
            method=method,
            layer=layer,
        )

    if not np.isfinite(raw).all():
        return result(None, defined=False, reason="the map holds non-finite values")
    if high - low <= CONSTANT_TOLERANCE * max(abs(high), abs(low), 1.0):
        reason = (
            f"the {method} map is constant ({low:g}) on the crop: the gradients of class "
            f"'{model.classes[index]}' at layer '{layer}' are zero, its weighted activations are nowhere "
            "positive, or the layer has a single voxel for this crop size, so there is nothing to show; "
            "try the other class, method or an earlier layer"
        )
        return result(None, defined=False, reason=reason)
    normalized = (raw - low) / (high - low)
    return result(cropMapToImage(normalized, crop.grid, reference), defined=True, reason="")


def insideOutsideRatio(camMap: sitk.Image, mask: sitk.Image, region: np.ndarray | None = None) -> float | None:
    """Mean map value inside the tumour over the mean outside it (within ``region`` when given).

    :returns: the ratio, or ``None`` when the mean outside is zero (undefined).
    :raises InputError: for an empty mask or a mask covering the whole region.
    """
    values = sitk.GetArrayViewFromImage(camMap).astype(np.float64)
    tumour = sitk.GetArrayViewFromImage(mask) != 0
    if values.shape != tumour.shape:
        raise InputError(f"The map {values.shape} and the mask {tumour.shape} are not on one grid.")
    within = np.ones_like(tumour) if region is None else np.asarray(region, dtype=bool)
    inside, outside = values[tumour & within], values[~tumour & within]
    if inside.size == 0 or outside.size == 0:
        raise InputError("The mask has no voxel inside, or none outside, the region; the ratio needs both.")
    meanOutside = float(outside.mean())
    return None if meanOutside == 0.0 else float(inside.mean()) / meanOutside


def _classIndex(model: ClassifierModel, classIndex: int | str | None, probabilities: np.ndarray) -> int:
    if classIndex is None:
        return int(np.argmax(probabilities))
    if isinstance(classIndex, str) and not classIndex.isdigit():
        if classIndex not in model.classes:
            raise InputError(
                f"Class '{classIndex}' is not one of model '{model.entry.id}''s classes "
                f"({', '.join(model.classes)}); give one of them or its index."
            )
        return model.classes.index(classIndex)
    index = int(classIndex)
    if not 0 <= index < len(model.classes):
        raise InputError(
            f"Class index {index} is out of range; model '{model.entry.id}' has classes "
            f"{', '.join(f'{i}={name}' for i, name in enumerate(model.classes))}."
        )
    return index
