"""One case of a cohort extraction: what a worker receives, how it is keyed in the cache,
and the top-level function that extracts it.

:class:`CaseTask` holds plain data (paths, or SimpleITK images for cases taken from a
scene), so it pickles to Dask workers; :func:`extractCase` is a top-level function
(sent by reference) that loads the images with SimpleITK (the file's voxel order, as
pyradiomics on the file sees it) and calls
:func:`~VirtualBiopsy.extract.extraction.extractFeatures`. It returns plain JSON-able
values, which is what the :class:`~VirtualBiopsy.executors.resultCache.ResultCache` stores.

Feature names: when the cohort has **more than one sequence** (manifest columns, or
sequence names over the scene's cases) every feature is prefixed by its sequence
(``T1c_original_glcm_Contrast``), shape features once (first sequence of the case);
with **exactly one**, features keep pyradiomics' names (``original_glcm_Contrast``),
as ``virtual-biopsy extract --image PATH`` does.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Union

import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.files import readImageFile, sha256File
from VirtualBiopsy.imageGeometry import requireOrthogonalGrid
from VirtualBiopsy.provenance import imageSha256, packageVersions

#: Bumped when the per-case computation or its stored value changes, so old cache entries stop matching.
CASE_FORMAT = 2

#: An image as a worker receives it: a file path, or an image already in memory.
ImageSource = Union[pathlib.Path, sitk.Image]


@dataclass
class CaseTask:
    """Everything a worker needs to extract one case.

    :ivar patient: the case's identifier (only used as the key of the outcome).
    :ivar images: ``{sequence: path or image}``, in the cohort's sequence order.
    :ivar mask: the labelmap (path or image), or ``{sequence: mask}`` (one per image, from a scene).
    :ivar label: the ROI label in the mask.
    :ivar prefix: whether features are prefixed by the sequence name (see the module).
    :ivar settings: the radiomics settings.
    :ivar minimumRoiVoxels: refuse smaller ROIs.
    :ivar resampleMaskToImage: resample a mask on another grid instead of refusing it.
    :ivar crop: crop around the ROI (values unchanged; see ``extract/cropping.py``).
    :ivar cacheKey: the case's result-cache key.
    :ivar cacheFolder: a cache folder the worker can reach, where it stores its result as soon
        as it has it (so an interrupted run keeps finished cases); ``None`` leaves storing to the caller.
    """

    patient: str
    images: dict[str, ImageSource]
    mask: ImageSource | dict[str, ImageSource]
    label: int
    prefix: bool
    settings: RadiomicsSettings
    minimumRoiVoxels: int
    resampleMaskToImage: bool = False
    crop: bool = True
    cacheKey: str = ""
    cacheFolder: str | None = None


def extractCase(task: CaseTask) -> dict[str, Any]:
    """Load the case's images and extract its features (runs in a worker process).

    :returns: ``{"features", "undefined" (feature → reason), "order" (every feature name in pyradiomics'
        order), "diagnostics", "provenance"}``, JSON-able.
    :raises InputError: for an unreadable file or an input check that fails.
    """
    from VirtualBiopsy.extract.extraction import extractFeatures

    images: dict[str | None, sitk.Image] = {
        name: _load(source, f"image '{name}'") for name, source in task.images.items()
    }
    if isinstance(task.mask, dict):
        mask: Any = {name: _load(source, "mask") for name, source in task.mask.items()}
    else:
        mask = _load(task.mask, "mask")
    if not task.prefix:
        (only,) = images.values()  # one sequence: pyradiomics' own names
        images = {None: only}
        mask = next(iter(mask.values())) if isinstance(mask, dict) else mask
    result = extractFeatures(
        images,
        mask,
        task.settings,
        label=task.label,
        minimumRoiVoxels=task.minimumRoiVoxels,
        resampleMaskToImage=task.resampleMaskToImage,
        crop=task.crop,
    )
    value = json.loads(
        json.dumps(
            {
                "features": result.features,
                "undefined": result.reasons,
                "order": [*result.features, *result.reasons],
                "diagnostics": result.diagnostics,
                "provenance": result.provenance,
            },
            default=str,
        )
    )
    if task.cacheFolder and task.cacheKey:
        from VirtualBiopsy.executors.resultCache import ResultCache

        ResultCache(task.cacheFolder).put(task.cacheKey, value)
    return value


def inPyradiomicsOrder(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` with ``features`` and ``undefined`` in pyradiomics' order again (the cache stores
    JSON with sorted keys)."""
    order = {name: index for index, name in enumerate(value.get("order", []))}
    for part in ("features", "undefined"):
        value[part] = dict(sorted(value[part].items(), key=lambda item: order.get(item[0], len(order))))
    return value


def inputHashes(task: CaseTask) -> dict[str, str]:
    """SHA-256 of each input: the file's bytes for paths, the voxels and grid for images in memory.

    :raises InputError: when a file cannot be read.
    """
    hashes = {f"image:{name}": _hash(source) for name, source in task.images.items()}
    if isinstance(task.mask, dict):
        hashes.update({f"mask:{name}": _hash(source) for name, source in task.mask.items()})
    else:
        hashes["mask"] = _hash(task.mask)
    return hashes


def cacheKey(task: CaseTask, hashes: dict[str, str]) -> str:
    """The cache key of a case: its input hashes, label, settings hash, naming, checks, cropping,
    the extraction code version and the versions of the packages that compute the values."""
    from VirtualBiopsy.executors.resultCache import ResultCache

    options = {
        "label": int(task.label),
        "prefix": task.prefix,
        "sequences": list(task.images),
        "minimumRoiVoxels": int(task.minimumRoiVoxels),
        "resampleMaskToImage": bool(task.resampleMaskToImage),
        "crop": bool(task.crop),
        "caseFormat": CASE_FORMAT,
        "code": __version__,
    }
    return ResultCache.key(
        json.dumps(hashes, sort_keys=True),
        task.settings.sha256(),
        json.dumps(options, sort_keys=True),
        json.dumps(packageVersions(), sort_keys=True),
    )


def caseVoxels(task: CaseTask) -> int:
    """The number of image voxels of a case (from the file headers): what its extraction time
    grows with, to start the biggest cases first. 0 for an image whose header cannot be read."""
    total = 0
    for source in task.images.values():
        if isinstance(source, sitk.Image):
            total += source.GetNumberOfPixels()
            continue
        try:
            reader = sitk.ImageFileReader()
            reader.SetFileName(os.fspath(source))
            reader.ReadImageInformation()
        except RuntimeError:
            continue
        total += int(math.prod(reader.GetSize()))
    return total


def _hash(source: ImageSource) -> str:
    if isinstance(source, sitk.Image):
        return imageSha256(source)
    try:
        return sha256File(pathlib.Path(source))
    except OSError as error:
        reason = error.strerror or error
        raise InputError(f"Cannot read {source} ({reason}); check the path and its permissions.") from error


def _load(source: ImageSource, what: str) -> sitk.Image:
    if isinstance(source, sitk.Image):
        return source
    path = pathlib.Path(source)
    image = readImageFile(path, what)
    requireOrthogonalGrid(image, f"{what} file {path}")
    return image
