"""The extractor the robustness assessment runs: the extraction engine on one image and mask."""

from __future__ import annotations

import math

import SimpleITK as sitk

from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings


def engineExtractFunction(settings: RadiomicsSettings, minimumRoiVoxels: int = 10):
    """``extract(image, mask) -> {feature: value}`` for :func:`~VirtualBiopsy.extract.robustness.assess.assessRobustness`.

    Runs :func:`~VirtualBiopsy.extract.extraction.extractFeatures` (input checks, preprocessing,
    cropping) on the ROI of label 1; features the engine reports undefined come back as NaN,
    which the stability table reports as undefined, never as numbers.
    """

    def extract(image: sitk.Image, mask: sitk.Image) -> dict[str, float]:
        result = extractFeatures(image, mask, settings, label=1, minimumRoiVoxels=minimumRoiVoxels)
        return {**result.features, **{name: math.nan for name in result.undefined}}

    return extract
