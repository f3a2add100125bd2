"""The worker task that trains a classifier on a cohort and writes its model folder.

Run it through a :class:`~VirtualBiopsy.workers.runner.WorkerRunner` (the CLI uses a ``ProcessRunner`` and
:func:`~VirtualBiopsy.workers.deviceFallback.runWithDeviceFallback`) as ``TASK``.
"""

from __future__ import annotations

import hashlib
import math
import pathlib
from typing import Any

import numpy as np

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
from VirtualBiopsy.outcome.deep.cohortData import (
    cohortCrops,
    cohortSequences,
    readTargets,
)
from VirtualBiopsy.outcome.deep.modelFolder import writeModelFiles
from VirtualBiopsy.outcome.deep.networks import (
    buildNetwork,
    checkCrop,
    featureLayer,
    networkArguments,
    targetLayer,
)
from VirtualBiopsy.outcome.deep.training import TrainingSettings, trainNetwork
from VirtualBiopsy.progress import ProgressCallback
from VirtualBiopsy.workers.deviceFallback import resolveDevice
from VirtualBiopsy.workers.memory import availableMemoryBytes, requireMemory

TASK = "VirtualBiopsy.outcome.deep.trainingTask:trainClassifier"
#: Values a small 3D CNN holds per input voxel while training (activations, gradients, optimizer), generous.
TRAINING_VALUES_PER_VOXEL = 1200


def trainClassifier(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Train on a cohort and write the model folder ``arguments["out"]``.

    Arguments: ``manifest``, ``clinical``, ``target``, ``out`` (paths and column, required); ``dataRoots`` and
    ``allowOutsidePaths`` (where the manifest's paths may lead, as for ``readManifest``); ``sequences``
    (list; default: every sequence of the manifest), ``cropSize`` (voxels, default 32), ``cropSpacing`` (mm,
    default 2.0), ``device`` (default ``"auto"``) and any :class:`TrainingSettings` field.

    :returns: ``{"modelDir", "validationAuc", "bestEpoch", "epochsRun", "device"}``.
    :raises InputError: for bad arguments or data (nothing is written).
    """
    torch = requirePackage("torch")
    arguments = dict(arguments)
    try:
        manifest, clinical, column, out = (arguments.pop(key) for key in ("manifest", "clinical", "target", "out"))
    except KeyError as error:
        raise InputError(f"Training needs the argument {error}; give manifest, clinical, target and out.") from None
    out = requireNewFolder(out, "Model folder")
    paths = {
        "dataRoots": arguments.pop("dataRoots", ()),
        "allowOutsidePaths": arguments.pop("allowOutsidePaths", False),
    }
    channels = list(arguments.pop("sequences", None) or cohortSequences(manifest, **paths))
    size, spacing = arguments.pop("cropSize", 32), arguments.pop("cropSpacing", 2.0)
    checkCrop(size, spacing)
    device = resolveDevice(arguments.pop("device", "auto"))
    settings = TrainingSettings.fromDict(arguments)

    crops = cohortCrops(manifest, channels, size, spacing, lambda f, m: progress(0.3 * f, m), **paths)
    patients = list(crops)
    labels, classes = readTargets(clinical, column, patients)
    stack = np.stack([crops[patient].array for patient in patients])
    estimate = stack.nbytes + 4 * settings.batchSize * size**3 * (len(channels) + TRAINING_VALUES_PER_VOXEL)
    requireMemory(
        estimate, f"Training a {settings.network} on {len(patients)} crops of {size}³", availableMemoryBytes(device)
    )

    torch.manual_seed(settings.seed)
    arguments = networkArguments(settings.network, settings.networkSize, len(channels), len(classes))
    network = buildNetwork(settings.network, arguments)
    result = trainNetwork(network, stack, labels, patients, settings, device, lambda f, m: progress(0.3 + 0.65 * f, m))
    config = {
        "version": "1",
        "network": settings.network,
        "networkSize": settings.networkSize,
        "networkArgs": arguments,
        "channels": channels,
        "classes": classes,
        "target": column,
        "crop": {
            "size": size,
            "spacing": spacing,
            "centre": "centroid of the tumour mask",
            "direction": "the patient's image direction",
            "interpolation": "linear, 0 outside the image",
        },
        "normalization": {"method": "z-score per channel", "region": "head (foregroundMask)", "outside": 0.0},
        "targetLayer": targetLayer(settings.network, arguments),
        "featureLayer": featureLayer(settings.network),
        "training": settings.toDict(),
        "validation": {
            "auc": result.validationAuc,
            "loss": result.validationLoss,
            "bestEpoch": result.bestEpoch,
            "epochsRun": result.epochsRun,
            "patients": result.validationPatients,
        },
        "trainingPatients": result.trainingPatients,
        "history": [
            {key: (value if math.isfinite(value) else None) for key, value in row.items()} for row in result.history
        ],
        "provenance": {
            "virtualBiopsy": __version__,
            "torch": torch.__version__,
            "monai": requirePackage("monai").__version__,
            "device": device,
            "inputs": {"manifest": _sha256(manifest), "clinical": _sha256(clinical)},
        },
    }
    with stagedOutputFolder(out, "Model folder") as staging:
        writeModelFiles(staging, result.stateDict, config)
    progress(1.0, f"model written to {out}")
    return {
        "modelDir": str(out),
        "validationAuc": result.validationAuc,
        "bestEpoch": result.bestEpoch,
        "epochsRun": result.epochsRun,
        "device": device,
    }


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(pathlib.Path(path), "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
