"""Predictions and deep features of a trained classifier on crops (eval mode, no gradients: deterministic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.outcome.deep.crops import Crop
from VirtualBiopsy.outcome.deep.modelFolder import ClassifierModel

FEATURE_PREFIX = "deep_"


def requireCropFits(model: ClassifierModel, crop: Crop) -> None:
    """Raise :class:`InputError` unless the crop has the model's channels, in order, and its size and spacing."""
    if [name.lower() for name in crop.channels] != [name.lower() for name in model.channels]:
        raise InputError(
            f"The crop has channels {list(crop.channels)} but model '{model.entry.id}' takes "
            f"{model.channels} in that order; crop the model's sequences."
        )
    expected = (len(model.channels), *(model.cropSize,) * 3)
    if crop.array.shape != expected or not np.allclose(crop.grid.spacing, model.cropSpacing):
        raise InputError(
            f"The crop has shape {crop.array.shape} at {crop.grid.spacing} mm but model "
            f"'{model.entry.id}' takes {expected} at {model.cropSpacing} mm; crop with the model's "
            "crop size and spacing."
        )


def cropTensor(model: ClassifierModel, crop: Crop) -> Any:
    """The crop as a ``(1, C, k, j, i)`` float tensor, after checking it fits the model."""
    torch = requirePackage("torch")
    requireCropFits(model, crop)
    return torch.from_numpy(np.ascontiguousarray(crop.array, dtype=np.float32))[None]


def predictProbabilities(model: ClassifierModel, crop: Crop) -> np.ndarray:
    """Softmax class probabilities for one crop, in the model's class order."""
    torch = requirePackage("torch")
    model.network.eval()
    with torch.no_grad():
        logits = model.network(cropTensor(model, crop))
    return torch.softmax(logits, dim=1)[0].numpy().astype(float)


def cropFeatures(model: ClassifierModel, crop: Crop) -> np.ndarray:
    """The pooled penultimate-layer activations (the input of the final linear layer) for one crop.

    :raises ModelError: when the model has no module named by its ``featureLayer``.
    """
    torch = requirePackage("torch")
    modules = dict(model.network.named_modules())
    name = model.config["featureLayer"]
    if name not in modules:
        raise ModelError(f"Model '{model.entry.id}' has no layer '{name}' (its config's featureLayer); retrain it.")
    captured = []
    handle = modules[name].register_forward_hook(lambda module, inputs, output: captured.append(output.detach()))
    model.network.eval()
    try:
        with torch.no_grad():
            model.network(cropTensor(model, crop))
    finally:
        handle.remove()
    return captured[0].reshape(-1).numpy().astype(float)


def deepFeatureTable(model: ClassifierModel, crops: Mapping[str, Crop]) -> Any:
    """A table with ``patient`` and ``deep_0000``, ``deep_0001``, … (one row per crop, in the mapping's order).

    :raises InputError: for an empty mapping or a crop that does not fit the model.
    """
    import pandas as pd

    if not crops:
        raise InputError("No crops were given; deep features need at least one patient.")
    rows = {patient: cropFeatures(model, crop) for patient, crop in crops.items()}
    width = len(next(iter(rows.values())))
    table = pd.DataFrame(
        np.stack(list(rows.values())), columns=[f"{FEATURE_PREFIX}{index:04d}" for index in range(width)]
    )
    table.insert(0, "patient", list(rows))
    return table
