"""Radiomics features of one case: images (sequences) and a mask, with pyradiomics.

:func:`extractFeatures` is pure (no MRML, no global state it leaves changed; validated
pyradiomics extractors are reused) and its inputs and outputs pickle, so cohort workers call
it directly. In order:

1. check every input (:mod:`~VirtualBiopsy.extract.inputChecks`) before computing anything:
   orthogonal grids, masks (resampled only when asked, and only when the ROI survives it), finite voxels;
2. keep the requested label as a 0/1 mask (pyradiomics then uses label 1);
3. run the preset's IBSI preprocessing, when it has one, on every image; then refuse settings that would bin
   an image into more grey levels than ``maximumBinCount`` (:mod:`~VirtualBiopsy.extract.binCount`);
4. crop around the ROI with a margin that leaves the features unchanged
   (:mod:`~VirtualBiopsy.extract.cropping`), each filter on its own crop;
5. run pyradiomics per sequence (:mod:`~VirtualBiopsy.extract.pyradiomicsRun`; shape features,
   which depend only on the mask, once);
6. separate features, ``diagnostics_*`` and undefined features (NaN, failed inside
   pyradiomics, or texture on a constant ROI), and record the provenance.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import DependencyError, InputError
from VirtualBiopsy.extract import binCount, cropping, inputChecks
from VirtualBiopsy.extract.pyradiomicsRun import SHAPE_CLASSES as SHAPE_CLASSES  # re-exported
from VirtualBiopsy.extract.pyradiomicsRun import runCropped, runPyradiomics
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.imageGeometry import requireOrthogonalGrid, requireScalar3D
from VirtualBiopsy.provenance import imageRecord, packageVersions

logger = logging.getLogger(__name__)

#: Default smallest ROI, in voxels: texture matrices of fewer voxels are mostly noise.
DEFAULT_MINIMUM_ROI_VOXELS = 10

#: Feature classes that need more than one grey level (undefined on a constant ROI).
TEXTURE_CLASSES = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")


@dataclass
class ExtractionResult:
    """Features of one case and label.

    :ivar features: ``{name: value}``, every value a finite float, in pyradiomics' order.
    :ivar diagnostics: pyradiomics' ``diagnostics_*`` entries (prefixed like the features).
    :ivar undefined: names of features that have no value for this ROI.
    :ivar reasons: why each undefined feature has no value.
    :ivar provenance: settings and their hash, versions, input hashes and grids, label,
        preprocessing records, crop boxes, mask resampling.
    """

    features: dict[str, float]
    diagnostics: dict[str, Any]
    undefined: list[str]
    provenance: dict[str, Any]
    reasons: dict[str, str] = field(default_factory=dict)


def extractFeatures(
    images: Mapping[str | None, sitk.Image] | sitk.Image,
    mask: sitk.Image | Mapping[str | None, sitk.Image],
    settings: RadiomicsSettings,
    label: int = 1,
    minimumRoiVoxels: int = DEFAULT_MINIMUM_ROI_VOXELS,
    resampleMaskToImage: bool = False,
    crop: bool = True,
    maximumBinCount: int | None = None,
) -> ExtractionResult:
    """Extract the radiomics features of ``label`` in ``mask`` on each image.

    :param images: ``{sequence: image}``. Features are named ``<sequence>_<pyradiomics name>``
        (``T1c_original_glcm_Contrast``); a single image under the key ``None`` or ``""``
        (or a bare image) keeps pyradiomics' names.
    :param mask: an integer labelmap on the images' grid, or ``{sequence: mask}`` with one per image.
    :param settings: the radiomics settings (see :class:`RadiomicsSettings`).
    :param label: the label of the ROI in ``mask``.
    :param minimumRoiVoxels: refuse ROIs with fewer voxels.
    :param resampleMaskToImage: resample a mask on another grid (nearest neighbour) instead of
        refusing it, when the ROI stays inside the image with its volume; logged and recorded in the provenance.
    :param crop: crop around the ROI before filtering where it provably changes nothing.
    :param maximumBinCount: the most grey levels an image may be binned into; ``None``: the settings'
        (:attr:`RadiomicsSettings.maximumBinCount`).
    :raises InputError: for an invalid input (see :mod:`~VirtualBiopsy.extract.inputChecks`), settings
        that make too many grey levels, or an extraction pyradiomics refuses.
    :raises GeometryError: for 4D/vector inputs, a sheared grid, or a mask on another grid.
    """
    if not isinstance(settings, RadiomicsSettings):
        raise InputError(
            f"settings must be a RadiomicsSettings (e.g. RadiomicsSettings.fromPreset('mr-default')), "
            f"got {type(settings).__name__}."
        )
    images = _namedImages(images)
    masks = _namedMasks(mask, images)
    if not isinstance(label, (int, np.integer)) or isinstance(label, bool) or label < 1:
        raise InputError(f"The label must be a positive integer, got {label!r}.")
    if maximumBinCount is not None and maximumBinCount != getattr(settings, "maximumBinCount", None):
        settings = settings.replaced(maximumBinCount=maximumBinCount)
    readsOutside = _readsOutsideRoi(settings)

    # 1. Every check, before any computation.
    rois: dict[str | None, sitk.Image] = {}
    inputs: dict[str, Any] = {}
    resampled: list[str] = []
    resampling: dict[str, Any] = {}
    constant: list[str | None] = []
    for name, image in images.items():
        what = f"image '{name}'" if name else "image"
        requireScalar3D(image, what)
        requireOrthogonalGrid(image, what)
        maskImage = inputChecks.integerMask(requireScalar3D(masks[name], "mask"))
        maskImage, record = inputChecks.maskOnImageGrid(image, maskImage, what, resampleMaskToImage, int(label))
        inputChecks.requireLabel(maskImage, int(label), minimumRoiVoxels)
        roi = sitk.GetArrayViewFromImage(maskImage) == label
        inputChecks.requireFiniteVoxels(image, roi, what, readsOutside)
        if inputChecks.isConstantRoi(image, roi):
            constant.append(name)
        if record is not None:
            resampled.append(name or "image")
            resampling[name or "image"] = record
        binary = sitk.GetImageFromArray(roi.astype(np.uint8))
        binary.CopyInformation(maskImage)  # the mask's own geometry, as pyradiomics on the files uses it
        rois[name] = binary
        inputs[name or "image"] = imageRecord(image)
    maskRecords = {key or "image": imageRecord(value) for key, value in masks.items()}

    provenance: dict[str, Any] = {
        "settings": settings.toDict(),
        "settingsName": settings.name,
        "settingsSha256": settings.sha256(),
        "versions": packageVersions(),
        "images": inputs,
        "mask": maskRecords,
        "label": int(label),
        "minimumRoiVoxels": int(minimumRoiVoxels),
        "maskResampledToImage": resampled,
        "maskResampling": resampling,
        "preprocessing": {},
        "cropBox": {},
    }

    # 3. Preprocessing (IBSI), then the bin counts it leaves, for every image before pyradiomics runs.
    prepared: dict[str | None, tuple[sitk.Image, sitk.Image]] = {}
    origin = getattr(settings.preprocessing, "fixedBinOrigin", None)
    for name, image in images.items():
        roiMask = rois[name]
        if settings.preprocessing is not None:
            image, roiMask, record = _preprocess(image, roiMask, settings)
            provenance["preprocessing"][name or "image"] = record
        what = f"the ROI of image '{name}'" if name else "the ROI of the image"
        roiVoxels = sitk.GetArrayViewFromImage(roiMask) > 0
        binCount.requireBinCountOfRoi(image, roiVoxels, settings, settings.maximumBinCount, what, origin)
        prepared[name] = (image, roiMask)

    features: dict[str, float] = {}
    diagnostics: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for position, (name, (image, roiMask)) in enumerate(prepared.items()):
        key = name or "image"
        # 4.-5. Crop around the ROI (one crop per filter) and run pyradiomics.
        groups = cropping.cropGroups(settings.imageTypes, settings.setting, image.GetSpacing()) if crop else None
        if groups is None:
            values, failures = runPyradiomics(image, roiMask, settings, withShape=position == 0)
            provenance["cropBox"][key] = None
        else:
            values, failures, provenance["cropBox"][key] = runCropped(
                image, roiMask, settings, groups, withShape=position == 0
            )
        prefix = f"{name}_" if name else ""
        for featureName, value in values.items():
            if featureName.startswith("diagnostics_"):
                diagnostics[prefix + featureName] = _plain(value)
                continue
            number = float(value)
            if (
                featureName.startswith("original_")
                and name in constant
                and featureName.split("_")[1] in TEXTURE_CLASSES
            ):
                reasons[prefix + featureName] = "texture feature of a constant ROI (one grey level)"
            elif not math.isfinite(number):
                reasons[prefix + featureName] = failures.get(featureName, f"pyradiomics returned {number}")
            else:
                features[prefix + featureName] = number
    if not features and not reasons:
        raise InputError(
            f"pyradiomics computed no features with settings '{settings.name}': enable at least one image type "
            "and feature class."
        )
    return ExtractionResult(features, diagnostics, list(reasons), provenance, reasons)


def _readsOutsideRoi(settings: RadiomicsSettings) -> str | None:
    """What in ``settings`` reads voxels outside the ROI (a filter, resampling, normalisation), or ``None``."""
    reasons = [f"the {imageType} filter" for imageType in settings.imageTypes if imageType != "Original"]
    setting = settings.setting
    if setting.get("resampledPixelSpacing"):
        reasons.append("pyradiomics' resampling (resampledPixelSpacing)")
    if setting.get("normalize"):
        reasons.append("pyradiomics' normalisation (normalize)")
    if getattr(settings.preprocessing, "resampledSpacingMm", None) is not None:
        reasons.append("the preprocessing's resampling (resampledSpacingMm)")
    return ", ".join(reasons) or None


def _namedImages(images: Mapping[str | None, sitk.Image] | sitk.Image) -> dict[str | None, sitk.Image]:
    if isinstance(images, sitk.Image):
        return {None: images}
    if not isinstance(images, Mapping) or not images:
        raise InputError(
            f"images must be a SimpleITK image or a non-empty {{sequence: image}} mapping, got {images!r}."
        )
    named = {(name or None): image for name, image in images.items()}
    if len(named) != len(images):
        raise InputError("images has both None and '' as keys; give one unnamed image or name every sequence.")
    if len(named) > 1 and None in named:
        raise InputError(
            f"Several images were given ({', '.join(str(n) for n in images)}) but one has no name; name every "
            "sequence (e.g. {'T1c': ..., 'FLAIR': ...}) so their features can be told apart."
        )
    for name in named:
        if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]*", str(name)):
            raise InputError(
                f"Sequence name '{name}' may hold only letters, digits, '.' and '-' (it prefixes feature names "
                "that are split at '_'); rename it, e.g. 'T1c'."
            )
    return named


def _namedMasks(mask: sitk.Image | Mapping, images: dict[str | None, sitk.Image]) -> dict[str | None, sitk.Image]:
    if not isinstance(mask, Mapping):
        return {name: mask for name in images}
    named = {(name or None): value for name, value in mask.items()}
    if set(named) != set(images):
        raise InputError(
            f"The masks are given for {sorted(map(str, named))} but the images are {sorted(map(str, images))}; "
            "give one mask per image, or a single mask for all."
        )
    return named


def _preprocess(
    image: sitk.Image, mask: sitk.Image, settings: RadiomicsSettings
) -> tuple[sitk.Image, sitk.Image, dict]:
    try:
        from VirtualBiopsy.extract.preprocessing import preprocess
    except ImportError as error:
        raise DependencyError(
            f"Settings '{settings.name}' have a 'preprocessing' section, but VirtualBiopsy.extract.preprocessing "
            f"cannot be imported ({error}). Update the Virtual Biopsy package, or remove that section."
        ) from error
    return preprocess(image, mask, settings.preprocessing)


def _plain(value: Any) -> Any:
    """A diagnostics value as JSON-able plain Python."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value
