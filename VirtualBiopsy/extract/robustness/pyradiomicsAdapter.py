"""The extractor the robustness command uses: plain pyradiomics built from a settings dict.

This is the one place to swap for the extraction engine's presets once they are
available: anything with the signature ``extract(image, mask) -> {name: value}``
(ROI = label 1) fits :func:`~VirtualBiopsy.extract.robustness.assess.assessRobustness`.
"""

from __future__ import annotations

import logging

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, requirePackage

#: pyradiomics' original (unfiltered) feature classes.
ORIGINAL_FEATURE_CLASSES = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def originalFeatureSettings(binWidth: float = 25.0, featureClasses: tuple[str, ...] = ORIGINAL_FEATURE_CLASSES) -> dict:
    """pyradiomics parameters (its ``setting`` / ``imageType`` / ``featureClass`` layout) for original features."""
    if not binWidth > 0:
        raise InputError(f"Bin width is {binWidth!r}; give a positive number of grey levels per bin (e.g. 25).")
    return {"setting": {"binWidth": float(binWidth), "label": 1},
            "imageType": {"Original": {}},
            "featureClass": {name: [] for name in featureClasses}}


def pyradiomicsExtractFunction(settings: dict):
    """``extract(image, mask) -> {feature: value}`` running pyradiomics with ``settings`` (diagnostics left out).

    :raises DependencyError: when pyradiomics is not installed.
    :raises InputError: when pyradiomics rejects the settings (when built) or an image (when called).
    """
    radiomics = requirePackage("radiomics", "pyradiomics")
    featureextractor = requirePackage("radiomics.featureextractor", "pyradiomics")
    radiomics.setVerbosity(logging.ERROR)
    try:
        extractor = featureextractor.RadiomicsFeatureExtractor(settings)
    except (ValueError, TypeError, KeyError, AssertionError) as error:
        raise InputError(f"pyradiomics rejected the settings {settings}: {error}") from error

    def extract(image: sitk.Image, mask: sitk.Image) -> dict[str, float]:
        try:
            result = extractor.execute(image, mask, label=1)
        except (ValueError, AssertionError, RuntimeError) as error:
            raise InputError(f"pyradiomics could not extract features: {error}") from error
        return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}

    return extract
