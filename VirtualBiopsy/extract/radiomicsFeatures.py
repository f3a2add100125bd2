"""Radiomics features of one image and mask with pyradiomics."""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.extract.config import ExtractionConfig


def computeRadiomicsFeatures(image: sitk.Image, mask: sitk.Image, config: ExtractionConfig) -> dict[str, float]:
    """Compute pyradiomics features of the original image inside ``mask`` (label 1).

    :returns: ``{"original_<class>_<feature>": value}`` in pyradiomics' order,
        diagnostics left out.
    :raises InputError: when the mask is empty or pyradiomics rejects the input.
    """
    radiomics = requirePackage("radiomics", "pyradiomics")
    featureextractor = requirePackage("radiomics.featureextractor", "pyradiomics")
    radiomics.setVerbosity(logging.ERROR)
    if not np.any(sitk.GetArrayViewFromImage(mask) == 1):
        raise InputError("The tumour mask is empty (no voxel has label 1); segment the tumour before extracting features.")
    extractor = featureextractor.RadiomicsFeatureExtractor(**config.pyradiomicsSettings())
    extractor.disableAllFeatures()
    extractor.enableImageTypes(Original={})
    for featureClass in config.featureClasses:
        extractor.enableFeatureClassByName(featureClass)
    try:
        result = extractor.execute(image, mask, label=1)
    except (ValueError, AssertionError, RuntimeError) as error:
        raise InputError(f"pyradiomics could not extract features: {error}") from error
    return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}
