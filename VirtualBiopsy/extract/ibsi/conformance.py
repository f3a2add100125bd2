"""IBSI 1 conformance of pyradiomics with a radiomics preset: run the preset on an
IBSI phantom and compare the 102 mapped features with the reference values."""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.extract.binOrigin import fixedBinOrigin
from VirtualBiopsy.extract.ibsi.referenceValues import (
    CONFIGURATIONS,
    readReferenceTable,
    referenceValues,
)
from VirtualBiopsy.extract.preprocessing import RadiomicsPreprocessing, preprocess

PRESETS_FOLDER = pathlib.Path(__file__).resolve().parents[2] / "resources" / "presets" / "radiomics"
DEFAULT_DATA_FOLDER = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ibsi"
PHANTOMS = {
    "digital": "ibsi_1_digital_phantom",
    "ct": "ibsi_1_ct_radiomics_phantom",
}


def presetPath(configuration: str) -> pathlib.Path:
    """The shipped preset of ``configuration``: ``ibsi-digital.yaml`` or ``ibsi-A.yaml`` … ``ibsi-E.yaml``."""
    if configuration not in CONFIGURATIONS:
        raise InputError(
            f"IBSI configuration '{configuration}' is unknown; choose one of: {', '.join(CONFIGURATIONS)}."
        )
    return PRESETS_FOLDER / f"ibsi-{configuration}.yaml"


def readPreset(path: str | pathlib.Path) -> dict[str, Any]:
    """Read a radiomics preset: ``description``, optional ``preprocessing`` and ``pyradiomics``.

    :returns: ``{"description", "preprocessing": RadiomicsPreprocessing, "pyradiomics": dict}``.
    :raises InputError: for a missing file, unknown top-level keys or bad preprocessing settings.
    """
    import yaml

    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"Radiomics preset not found: {path}. Give the path of an existing YAML preset.")
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(document) - {"description", "preprocessing", "pyradiomics"}
    if unknown or "pyradiomics" not in document:
        raise InputError(
            f"Radiomics preset {path} has keys {sorted(document)}; it needs 'pyradiomics' and may have "
            "'description' and 'preprocessing'."
        )
    return {
        "description": document.get("description", ""),
        "preprocessing": RadiomicsPreprocessing.fromDict(document.get("preprocessing")),
        "pyradiomics": document["pyradiomics"],
    }


def phantomFiles(configuration: str, dataFolder: str | pathlib.Path | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """The NIfTI image and mask of the phantom ``configuration`` uses.

    :raises InputError: when the files are not in ``dataFolder``.
    """
    folder = (
        pathlib.Path(dataFolder or DEFAULT_DATA_FOLDER) / PHANTOMS["digital" if configuration == "digital" else "ct"]
    )
    image = folder / "nifti" / "image" / "phantom.nii.gz"
    mask = folder / "nifti" / "mask" / "mask.nii.gz"
    for path in (image, mask):
        if not path.is_file():
            raise InputError(f"IBSI phantom file not found: {path}; give the folder that holds the IBSI data sets.")
    return image, mask


def computePresetFeatures(
    image: sitk.Image, mask: sitk.Image, preprocessing: RadiomicsPreprocessing, pyradiomicsParameters: dict[str, Any]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Preprocess, then run pyradiomics with ``pyradiomicsParameters`` (validated against its schema).

    :returns: ``({"<class>_<feature>": value}, preprocessing record)`` for the original image.
    """
    radiomics = requirePackage("radiomics", "pyradiomics")
    featureextractor = requirePackage("radiomics.featureextractor", "pyradiomics")
    radiomics.setVerbosity(logging.ERROR)
    image, mask, record = preprocess(image, mask, preprocessing)
    extractor = featureextractor.RadiomicsFeatureExtractor(dict(pyradiomicsParameters))
    with fixedBinOrigin(preprocessing.fixedBinOrigin):
        result = extractor.execute(image, mask)
    features = {
        name[len("original_") :]: float(value) for name, value in result.items() if name.startswith("original_")
    }
    return features, record


def evaluateConformance(
    configuration: str,
    dataFolder: str | pathlib.Path | None = None,
    preset: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run a preset on the IBSI phantom of ``configuration`` and compare with the reference values.

    :param configuration: ``"digital"`` or ``"A"`` … ``"E"``.
    :param dataFolder: the IBSI data folder; defaults to ``<repository>/../shared/data/ibsi``.
    :param preset: ``{"preprocessing": RadiomicsPreprocessing | dict | None, "pyradiomics": dict}``;
        defaults to the shipped ``ibsi-<configuration>`` preset.
    :returns: one row per mapped feature: the reference columns plus
        ``pyradiomicsValue``, ``value`` (plus the mapping's offset), ``difference``
        and ``pass`` (``|value − reference| <= tolerance``);
        ``frame.attrs`` holds the configuration and the preprocessing record.
    """
    dataFolder = pathlib.Path(dataFolder or DEFAULT_DATA_FOLDER)
    references = referenceValues(readReferenceTable(dataFolder), configuration)
    preset = preset or readPreset(presetPath(configuration))
    preprocessing = preset.get("preprocessing") or RadiomicsPreprocessing()
    if isinstance(preprocessing, dict):
        preprocessing = RadiomicsPreprocessing.fromDict(preprocessing)
    imagePath, maskPath = phantomFiles(configuration, dataFolder)
    features, record = computePresetFeatures(
        sitk.ReadImage(str(imagePath)), sitk.ReadImage(str(maskPath)), preprocessing, preset["pyradiomics"]
    )
    missing = [name for name in references["pyradiomics"] if name not in features]
    if missing:
        raise InputError(
            f"The preset did not compute {len(missing)} mapped features ({', '.join(missing[:5])}…); "
            "enable every feature class (shape, firstorder, glcm, glrlm, glszm, gldm, ngtdm)."
        )
    frame = references.copy()
    frame["pyradiomicsValue"] = [features[name] for name in frame["pyradiomics"]]
    frame["value"] = frame["pyradiomicsValue"] + frame["offset"]
    frame["difference"] = frame["value"] - frame["reference"]
    frame["pass"] = frame["difference"].abs() <= frame["tolerance"] * (1 + 1e-9)
    frame.attrs.update({"configuration": configuration, "preprocessing": record})
    return frame


def passCount(frame: pd.DataFrame) -> int:
    """How many mapped features pass in a frame from :func:`evaluateConformance`."""
    return int(frame["pass"].sum())
