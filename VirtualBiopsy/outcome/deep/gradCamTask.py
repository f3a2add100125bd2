"""Grad-CAM in a worker process: the task, and the call that runs it on image files.

:meth:`VirtualBiopsy.outcome.deep.logic.DeepOutcomeLogic.gradCamNodeInWorker` writes the patient's images and
mask to files, runs :data:`TASK` through a :class:`~VirtualBiopsy.workers.runner.WorkerRunner` (progress,
Cancel that stops the process) and reads the map back, so torch and MONAI run outside the calling process
(outside 3D Slicer's GUI thread).
"""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Mapping
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy.outcome.deep.gradcam import GradCamResult
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

TASK = "VirtualBiopsy.outcome.deep.gradCamTask:computeGradCam"
#: The result fields that cross back from the worker (the map crosses as a file).
RESULT_FIELDS = ("defined", "reason", "classIndex", "className", "probabilities", "method", "layer")


def computeGradCam(arguments: dict[str, Any], progress: ProgressCallback) -> dict[str, Any]:
    """The worker task. Arguments: ``model`` (folder or id), ``images`` (``{sequence: path}``), ``mask`` (path),
    ``out`` (path of the map), ``method``, ``classIndex``, ``layer``.

    :returns: the :class:`~VirtualBiopsy.outcome.deep.gradcam.GradCamResult` fields in :data:`RESULT_FIELDS`
        and ``map`` (``out`` when the map is defined, else ``None``).
    """
    from VirtualBiopsy.outcome.deep.gradcam import gradCam
    from VirtualBiopsy.outcome.deep.modelFolder import loadClassifier

    progress(0.05, "Loading the classifier")
    model = loadClassifier(arguments["model"])
    progress(0.3, "Reading the images")
    images = {name: sitk.ReadImage(path) for name, path in arguments["images"].items()}
    mask = sitk.ReadImage(arguments["mask"])
    progress(0.5, f"Computing {arguments['method']}")
    result = gradCam(model, images, mask, arguments["method"], arguments.get("classIndex"), arguments.get("layer"))
    if result.defined:
        assert result.map is not None, "a defined map is there"
        sitk.WriteImage(result.map, arguments["out"], useCompression=False)
    progress(1.0, "Grad-CAM done")
    return {
        **{name: getattr(result, name) for name in RESULT_FIELDS},
        "map": arguments["out"] if result.defined else None,
    }


def gradCamInWorker(
    runner,
    model: str,
    images: Mapping[str, sitk.Image],
    mask: sitk.Image,
    method: str,
    classIndex: int | str | None,
    layer: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> GradCamResult:
    """Run :data:`TASK` on ``images`` and ``mask`` with ``runner``.

    :returns: a ``GradCamResult`` whose ``map`` is the worker's map (``None`` when undefined); ``cropMap`` and
        ``grid`` stay in the worker (``None``).
    :raises CancelledError: when ``cancel`` is set (the worker is stopped).
    """
    progress = progress or noProgress
    with tempfile.TemporaryDirectory(prefix="vb-gradcam-") as folder:
        paths = {}
        for index, (name, image) in enumerate(images.items()):
            paths[str(name)] = str(pathlib.Path(folder) / f"image{index}.nrrd")
            sitk.WriteImage(image, paths[str(name)], useCompression=False)
        maskPath, out = str(pathlib.Path(folder) / "mask.nrrd"), str(pathlib.Path(folder) / "map.nrrd")
        sitk.WriteImage(mask, maskPath, useCompression=False)
        answer = runner.run(
            TASK,
            {
                "model": str(model),
                "images": paths,
                "mask": maskPath,
                "out": out,
                "method": method,
                "classIndex": classIndex,
                "layer": layer,
            },
            progress,
            cancel,
        )
        camMap = sitk.ReadImage(answer["map"]) if answer["map"] else None
    return GradCamResult(map=camMap, cropMap=None, grid=None, **{name: answer[name] for name in RESULT_FIELDS})
