"""Worker task that applies a style-transfer model to an image file (images cross as files)."""

from __future__ import annotations

import pathlib
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import readImageFile, writeImageAtomically
from VirtualBiopsy.progress import ProgressCallback

#: The task's name for :meth:`WorkerRunner.run`.
APPLY_TASK = "VirtualBiopsy.harmonize.styleTransfer.tasks:applyStyleTransferTask"


def applyStyleTransferTask(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """Translate ``arguments["image"]`` with ``arguments["model"]`` (folder or id) into the new file ``"out"``.

    Other arguments: ``modelsFolder`` (the registry's user folder, or ``None``), ``device``, ``batchSize``.

    :returns: the model's ``modelId``, tree hash ``sha256``, ``sequence``, ``sourceDomain`` and ``targetDomain``,
        the ``device`` used and the ``out`` path.
    """
    from VirtualBiopsy.harmonize.styleTransfer.application import (
        applyStyleTransfer,
        loadStyleModel,
    )
    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.workers.deviceFallback import resolveDevice

    out = pathlib.Path(arguments["out"])
    if out.exists():
        raise InputError(f"Output file {out} exists already; nothing is overwritten. Choose a new path or remove it.")
    image = readImageFile(arguments["image"], "image")
    device = resolveDevice(arguments.get("device", "auto"))
    progress(0.0, "loading the model")
    model = loadStyleModel(arguments["model"], ModelRegistry(arguments.get("modelsFolder")))
    result = applyStyleTransfer(
        image, model, device, int(arguments.get("batchSize", 8)), progress=lambda f, m: progress(0.05 + 0.9 * f, m)
    )
    writeImageAtomically(result, out)
    progress(1.0, "done")
    document = model.document
    return {
        "modelId": model.entry.id,
        "sha256": model.entry.sha256,
        "sequence": document["sequence"],
        "sourceDomain": document["sourceDomain"],
        "targetDomain": document["targetDomain"],
        "device": device,
        "out": str(out),
    }
