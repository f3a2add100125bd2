"""IBSI 1 conformance of the ``ibsi-*`` radiomics presets on the IBSI phantoms.

The pass counts are regression guards: the numbers measured when the presets
were written (``benchmarks/ibsi_conformance.py`` prints them); the causes of
the remaining deviations are in ``docs/ibsi-conformance.md``.
"""

from __future__ import annotations

import numpy as np
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.ibsi.conformance import (
    evaluateConformance,
    passCount,
    presetPath,
    readPreset,
)
from VirtualBiopsy.extract.ibsi.featureNames import (
    FEATURE_NAMES,
    aggregation,
    byIbsiCode,
    byPyradiomicsName,
)
from VirtualBiopsy.extract.ibsi.referenceValues import (
    CONFIGURATIONS,
    readReferenceTable,
    referenceValues,
    roundingTolerance,
)
from VirtualBiopsy.extract.preprocessing import RadiomicsPreprocessing

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # pykwalify loading schemaFuncs

MEASURED_PASS_COUNTS = {"digital": 100, "A": 102, "B": 102, "C": 102, "D": 102, "E": 102}
UNMAPPED = {
    "shape_Maximum2DDiameterSlice",
    "shape_Maximum2DDiameterColumn",
    "shape_Maximum2DDiameterRow",
    "firstorder_TotalEnergy",
    "glcm_MCC",
}


def test_mapping_covers_every_default_pyradiomics_feature_but_five():
    from radiomics import getFeatureClasses

    classes = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
    pyradiomicsNames = {
        f"{name}_{feature}"
        for name, featureClass in getFeatureClasses().items()
        if name in classes
        for feature, deprecated in featureClass.getFeatureNames().items()
        if not deprecated
    }
    assert len(FEATURE_NAMES) == 102
    assert set(byPyradiomicsName()) == pyradiomicsNames - UNMAPPED
    assert len(byIbsiCode()) == 102


def test_aggregation_matches_how_pyradiomics_merges_matrices():
    assert aggregation("glcm", force2D=False) == "3D, averaged"
    assert aggregation("glrlm", force2D=True) == "2.5D, direction-merged"
    assert aggregation("glszm", force2D=True) == "2.5D"
    assert aggregation("ngtdm", force2D=False) == "3D"
    assert aggregation("firstorder", force2D=True) is None


def test_rounding_tolerance_is_half_a_unit_of_the_third_significant_digit():
    assert roundingTolerance(0.503) == pytest.approx(5e-4)
    assert roundingTolerance(-50.0) == pytest.approx(0.05)
    assert roundingTolerance(1200.0) == pytest.approx(5.0)
    assert roundingTolerance(0.0) == pytest.approx(5e-4)


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_every_mapped_feature_has_one_reference_row(ibsiData, configuration):
    frame = referenceValues(readReferenceTable(ibsiData), configuration)
    assert len(frame) == 102 and frame["reference"].notna().all() and (frame["tolerance"] > 0).all()


def test_unknown_configuration_is_an_input_error(ibsiData):
    with pytest.raises(InputError, match="choose one of"):
        referenceValues(readReferenceTable(ibsiData), "F")


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_presets_load_and_validate_against_the_pyradiomics_schema(configuration):
    import pykwalify.core
    from radiomics.featureextractor import getParameterValidationFiles

    preset = readPreset(presetPath(configuration))
    assert isinstance(preset["preprocessing"], RadiomicsPreprocessing) and preset["description"]
    schemaFile, schemaFuncs = getParameterValidationFiles()
    core = pykwalify.core.Core(source_data=preset["pyradiomics"], schema_files=[schemaFile], extensions=[schemaFuncs])
    core.validate(raise_exception=True)
    assert preset["pyradiomics"]["setting"].get("force2D", False) == (configuration in ("A", "B"))
    assert preset["preprocessing"].isNoOp() == (configuration == "digital")


def test_a_preset_with_a_wrong_key_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("description: x\npreprocesing: {}\npyradiomics: {}\n")
    with pytest.raises(InputError, match="preprocesing"):
        readPreset(path)


@pytest.mark.parametrize(
    "configuration", [c if c != "A" else pytest.param(c, marks=pytest.mark.slow) for c in CONFIGURATIONS]
)
def test_preset_pass_counts_do_not_regress(ibsiData, configuration):
    frame = evaluateConformance(configuration, ibsiData)
    failing = frame.loc[~frame["pass"], "pyradiomics"].tolist()
    assert passCount(frame) >= MEASURED_PASS_COUNTS[configuration], failing
    assert frame.attrs["preprocessing"]["applied"] == (configuration != "digital")


def test_digital_phantom_deviations_are_the_axis_lengths(ibsiData):
    frame = evaluateConformance("digital", ibsiData).set_index("pyradiomics")
    assert sorted(frame.index[~frame["pass"]]) == ["shape_LeastAxisLength", "shape_MinorAxisLength"]
    # pyradiomics divides the voxel-centre covariance by N, the IBSI reference by N - 1
    count = 74
    corrected = frame.loc[["shape_MinorAxisLength", "shape_LeastAxisLength"], "value"] * np.sqrt(count / (count - 1))
    reference = frame.loc[corrected.index]
    assert (np.abs(corrected - reference["reference"]) <= reference["tolerance"]).all()


@pytest.mark.slow
def test_configuration_c_needs_the_ibsi_bin_origin(ibsiData):
    """With pyradiomics' own bin origin (the largest multiple of 25 HU below the ROI
    minimum, -950 HU) instead of IBSI's (the re-segmentation bound, -1000 HU), the 22
    features that use the absolute grey-level index fail; nothing else changes."""
    preset = readPreset(presetPath("C"))
    assert preset["preprocessing"].fixedBinOrigin == -1000
    withoutOrigin = {**preset, "preprocessing": preset["preprocessing"].replace(fixedBinOrigin=None)}
    frame = evaluateConformance("C", ibsiData, withoutOrigin)
    failing = frame.loc[~frame["pass"], "pyradiomics"]
    assert passCount(frame) == 80
    assert failing.str.contains("GrayLevel|Average|Autocorrelation|Busyness").all()


@pytest.mark.slow
def test_the_extraction_engine_reproduces_configuration_c(ibsiData):
    """The engine (checks, IBSI preprocessing, cropping, bin origin) gives the conformance harness' values."""
    import SimpleITK as sitk

    from VirtualBiopsy.extract.extraction import extractFeatures
    from VirtualBiopsy.extract.ibsi.conformance import phantomFiles
    from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

    frame = evaluateConformance("C", ibsiData).set_index("pyradiomics")
    imagePath, maskPath = phantomFiles("C", ibsiData)
    result = extractFeatures(
        sitk.ReadImage(str(imagePath)), sitk.ReadImage(str(maskPath)), RadiomicsSettings.fromPreset("ibsi-C")
    )
    for name, value in frame["pyradiomicsValue"].items():
        assert result.features[f"original_{name}"] == value, name
