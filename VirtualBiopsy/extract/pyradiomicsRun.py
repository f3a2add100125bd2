"""Running pyradiomics on one image and mask: whole, or each filter on its own crop.

:func:`runPyradiomics` is one ``RadiomicsFeatureExtractor.execute`` call. :func:`runCropped`
gives the same output (same names, same order, original values identical, filtered ones
within 1e-6, see :mod:`~VirtualBiopsy.extract.cropping`) faster:

1. ``execute`` on the ROI's bounding box (plus one voxel) computes the shape features and
   the diagnostics, and checks the mask, as pyradiomics does;
2. each filter runs through pyradiomics' own image generator (``get<Type>Image``) on its own
   crop (16 σ for each LoG σ, the support for the wavelet); each filtered image is cut back to
   that bounding box and given to ``computeFeatures``, which is what ``execute`` does with each
   filtered image after ``cropToTumorMask``. Checking the mask on every wide crop, as one
   ``execute`` per crop would, cost as much as a LoG filter (lung2: 0.35 s).

With ``resegmentRange`` (the features then use a resegmented mask) each crop runs its own
``execute`` instead.

pyradiomics computes bin edges and discretised levels in the image's own pixel type, so an ``int8`` ROI
near the bottom of its range overflowed (77 of 107 features wrong, or "Calculation of GLCM Failed"):
every image reaches pyradiomics with integers promoted to 64 bits (:func:`promotedIntegers`; the values,
and so the features, are those of the same voxels stored in any wider type or as floats). Binning is
limited to the settings' ``maximumBinCount`` (:mod:`~VirtualBiopsy.extract.binCount`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, VirtualBiopsyError, requirePackage
from VirtualBiopsy.extract import cropping
from VirtualBiopsy.extract.binCount import binCountLimit
from VirtualBiopsy.extract.binOrigin import fixedBinOrigin
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

#: Shape classes: they depend only on the mask, so they are computed once per case.
SHAPE_CLASSES = ("shape", "shape2D")

#: pyradiomics' exceptions for inputs it refuses.
_REFUSALS = (ValueError, AssertionError, RuntimeError, IndexError, ZeroDivisionError)

#: Validated pyradiomics extractors by settings hash (validating the parameters takes ~0.07 s).
_EXTRACTORS: dict[str, Any] = {}


def runPyradiomics(
    image: sitk.Image,
    mask: sitk.Image,
    settings: RadiomicsSettings,
    withShape: bool,
    imageTypes: dict[str, dict] | None = None,
    diagnostics: bool = True,
) -> tuple[dict[str, Any], dict[str, str]]:
    """pyradiomics' output for one image and 0/1 mask, and ``{feature: why it failed}`` from its error log.

    :param imageTypes: these instead of the settings' image types.
    :param diagnostics: ``False`` skips pyradiomics' ``diagnostics_*`` (its hashes and ROI statistics).
    :raises InputError: when pyradiomics refuses the input.
    """
    image = promotedIntegers(image)
    with _radiomicsLog() as errors, _refusals(settings, mask):
        extractor = _extractor(settings, withShape)
        if imageTypes is not None:
            extractor.enabledImagetypes = copy.deepcopy(imageTypes)
        if not diagnostics:
            extractor.settings["additionalInfo"] = False
        values = dict(extractor.execute(image, mask, label=1))
    return values, _failures(values, errors)


def runCropped(
    image: sitk.Image, mask: sitk.Image, settings: RadiomicsSettings, groups: list[cropping.CropGroup], withShape: bool
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """pyradiomics' output with each group of image types on its own crop (see the module), its
    failures, and the crop record: the box around all crops (``index``, ``size``, ``marginVoxels``)
    and each group's (``crops``).

    :raises InputError: when pyradiomics refuses the input.
    """
    roi = sitk.GetArrayViewFromImage(mask) > 0
    bounds = cropping.roiBounds(roi)
    ones = tuple(1 for _ in bounds[0])
    tightIndex, tightSize = cropping.cropBox(roi, ones, bounds=bounds)
    boxes = [cropping.cropBox(roi, group.margin, group.block, group.periodic, bounds) for group in groups]
    tightImage = promotedIntegers(cropping.crop(image, tightIndex, tightSize))
    tightMask = cropping.crop(mask, tightIndex, tightSize)
    if settings.setting.get("resegmentRange") is not None or not all(
        _contains(box, (tightIndex, tightSize)) for box in boxes
    ):
        values, failures = _executePerCrop(image, mask, settings, groups, boxes, withShape)
    else:
        values, failures = runPyradiomics(tightImage, tightMask, settings, withShape, imageTypes={})
        with _radiomicsLog() as errors, _refusals(settings, tightMask):
            extractor = _extractor(settings, withShape=False)
            options = {**extractor.settings, "label": 1}
            boundingBox, _ = requirePackage("radiomics.imageoperations", "pyradiomics").checkMask(
                tightImage, tightMask, **options
            )
            for group, (index, size) in zip(groups, boxes):
                offset = tuple(int(t - i) for t, i in zip(tightIndex, index))
                for name, filtered, kwargs in _filtered(group, image, mask, index, size, options):
                    filtered = cropping.crop(filtered, offset, tightSize)
                    values.update(_features(extractor, filtered, tightMask, boundingBox, name, kwargs))
        failures.update(_failures(values, errors))
    if "diagnostics_Configuration_EnabledImageTypes" in values:
        values["diagnostics_Configuration_EnabledImageTypes"] = settings.imageTypes
    crops = [
        {"imageTypes": group.imageTypes, "index": list(index), "size": list(size), "marginVoxels": list(group.margin)}
        for group, (index, size) in zip(groups, boxes)
    ]
    low = np.min([index for index, _ in boxes], axis=0)
    high = np.max([np.add(index, size) for index, size in boxes], axis=0)
    record = {
        "index": low.tolist(),
        "size": (high - low).tolist(),
        "marginVoxels": np.max([group.margin for group in groups], axis=0).tolist(),
        "crops": crops,
    }
    return values, failures, record


def _filtered(
    group: cropping.CropGroup,
    image: sitk.Image,
    mask: sitk.Image,
    index: tuple[int, ...],
    size: tuple[int, ...],
    options: dict[str, Any],
) -> Iterator[tuple[str, sitk.Image, dict[str, Any]]]:
    """``(name, filtered image, settings)`` from pyradiomics' generators of the group's image types."""
    imageoperations = requirePackage("radiomics.imageoperations", "pyradiomics")
    wideImage, wideMask = promotedIntegers(cropping.crop(image, index, size)), cropping.crop(mask, index, size)
    for imageType, custom in group.imageTypes.items():
        generator = getattr(imageoperations, f"get{imageType}Image")
        for filtered, name, kwargs in generator(wideImage, wideMask, **{**options, **(custom or {})}):
            yield name, filtered, kwargs


def _features(
    extractor: Any, image: sitk.Image, mask: sitk.Image, boundingBox: Any, name: str, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``execute``'s last step for one (filtered) image: crop to the tumour, compute the features."""
    imageoperations = requirePackage("radiomics.imageoperations", "pyradiomics")
    image, mask = imageoperations.cropToTumorMask(image, mask, boundingBox, padDistance=0)
    return dict(extractor.computeFeatures(image, mask, name, **kwargs))


def _executePerCrop(
    image: sitk.Image,
    mask: sitk.Image,
    settings: RadiomicsSettings,
    groups: list[cropping.CropGroup],
    boxes: list[tuple[tuple[int, ...], tuple[int, ...]]],
    withShape: bool,
) -> tuple[dict[str, Any], dict[str, str]]:
    """One ``execute`` per crop (shape and diagnostics with the first)."""
    values: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for position, (group, (index, size)) in enumerate(zip(groups, boxes)):
        part, partFailures = runPyradiomics(
            cropping.crop(image, index, size),
            cropping.crop(mask, index, size),
            settings,
            withShape=withShape and position == 0,
            imageTypes=group.imageTypes,
            diagnostics=position == 0,
        )
        for name, value in part.items():
            values.setdefault(name, value)
        failures.update(partFailures)
    return values, failures


def _contains(box: tuple[tuple[int, ...], tuple[int, ...]], inner: tuple[tuple[int, ...], tuple[int, ...]]) -> bool:
    (index, size), (innerIndex, innerSize) = box, inner
    return all(i <= j and j + m <= i + n for i, n, j, m in zip(index, size, innerIndex, innerSize))


def _extractor(settings: RadiomicsSettings, withShape: bool) -> Any:
    """A fresh pyradiomics extractor for ``settings`` (a copy of a validated one)."""
    key = settings.sha256()
    template = _EXTRACTORS.get(key)
    if template is None:
        featureextractor = requirePackage("radiomics.featureextractor", "pyradiomics")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pykwalify loads pyradiomics' checks with load_module
            template = featureextractor.RadiomicsFeatureExtractor(settings.pyradiomics)
        if len(_EXTRACTORS) >= 8:
            _EXTRACTORS.clear()
        _EXTRACTORS[key] = template
    extractor = copy.copy(template)
    extractor.settings = copy.deepcopy(template.settings)
    extractor.enabledImagetypes = copy.deepcopy(template.enabledImagetypes)
    extractor.enabledFeatures = {
        name: copy.deepcopy(value)
        for name, value in template.enabledFeatures.items()
        if withShape or name not in SHAPE_CLASSES
    }
    extractor._setTolerance()  # the SimpleITK tolerances, as constructing it sets them
    return extractor


def promotedIntegers(image: sitk.Image) -> sitk.Image:
    """``image`` with integer voxels as 64-bit integers (unsigned 64-bit ones beyond that range as 64-bit
    reals); real images unchanged. pyradiomics keeps integer semantics (its resampling rounds), but no bin
    edge or level overflows."""
    pixelType = image.GetPixelID()
    if pixelType in _WIDE_TYPES:
        return image
    if pixelType == sitk.sitkUInt64:
        tooLarge = int(sitk.GetArrayViewFromImage(image).max(initial=0)) > np.iinfo(np.int64).max
        return sitk.Cast(image, sitk.sitkFloat64 if tooLarge else sitk.sitkInt64)
    return sitk.Cast(image, sitk.sitkInt64)


#: Pixel types pyradiomics gets unchanged: reals, and integers that cannot overflow its bin edges.
_WIDE_TYPES = (sitk.sitkFloat32, sitk.sitkFloat64, sitk.sitkInt64)


@contextlib.contextmanager
def _refusals(settings: RadiomicsSettings, mask: sitk.Image) -> Iterator[None]:
    """pyradiomics' refusals (and those of the fixed bin origin) as :class:`InputError`, saying what the ROI is;
    our own errors (the bin-count limit) pass unchanged."""
    try:
        with (
            fixedBinOrigin(getattr(settings.preprocessing, "fixedBinOrigin", None)),
            binCountLimit(getattr(settings, "maximumBinCount", None), settings.name),
        ):
            yield
    except VirtualBiopsyError:
        raise
    except _REFUSALS as error:
        raise InputError(
            f"pyradiomics could not extract features with settings '{settings.name}': {str(error).rstrip('.')}. "
            f"{_roiFacts(mask)} Check the segment and the settings (minimumROIDimensions, resegmentRange)."
        ) from error


def _roiFacts(mask: sitk.Image) -> str:
    """What the ROI is, for a refusal: its voxel count and box, and whether it is flat or a single voxel."""
    roi = sitk.GetArrayViewFromImage(mask) > 0
    count = int(np.count_nonzero(roi))
    if not count:
        return "The ROI is empty."
    bounds = cropping.roiBounds(roi)
    extent = [int(high - low) for low, high in zip(*bounds)]  # i, j, k
    box = "×".join(str(value) for value in extent)
    flat = [axis for axis, length in zip("ijk", extent) if length == 1]
    if count == 1:
        shape = " (a single voxel: no texture, no shape)"
    elif flat:
        shape = f" (one voxel thick along {', '.join(flat)}: a flat region fails pyradiomics' minimumROIDimensions)"
    else:
        shape = ""
    return f"The ROI has {count} voxels in a {box}-voxel box{shape}."


def _failures(values: dict[str, Any], errors: list[str]) -> dict[str, str]:
    """``{feature: why}`` for the features without a finite value that pyradiomics logged an error for."""
    failures = {}
    for name, value in values.items():
        if name.startswith("diagnostics_") or _isFinite(value):
            continue
        featureName = name.rsplit("_", 1)[-1]
        message = next((text for text in errors if f"get{featureName}FeatureValue" in text), None)
        if message:
            failures[name] = "failed inside pyradiomics: " + message.strip().splitlines()[-1]
    return failures


def _isFinite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@contextlib.contextmanager
def _radiomicsLog() -> Iterator[list[str]]:
    """Collect pyradiomics' ERROR messages (failed features) and keep them off the terminal."""
    radiomics = requirePackage("radiomics", "pyradiomics")
    messages: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    radiomicsLogger = logging.getLogger("radiomics")
    collector = Collector(level=logging.ERROR)
    terminal = getattr(radiomics, "handler", None)
    previousLevel = terminal.level if terminal is not None else None
    previousLoggerLevel = radiomicsLogger.level
    radiomicsLogger.setLevel(logging.ERROR)  # its warnings (e.g. "GLCM is symmetrical") are not the user's concern
    radiomicsLogger.addHandler(collector)
    if terminal is not None:
        terminal.setLevel(logging.CRITICAL + 1)
    try:
        yield messages
    finally:
        radiomicsLogger.removeHandler(collector)
        radiomicsLogger.setLevel(previousLoggerLevel)
        if terminal is not None:
            terminal.setLevel(previousLevel)
