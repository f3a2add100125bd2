"""Hostile images: no silent wrong number, no hang, no explosion.

Bin counts are refused before pyradiomics runs (binWidth 1 / 1e-9 on CT, 0, -1, NaN, inf, a huge binCount, a
filter's own binWidth), integer storage never changes a feature, and NaN/inf voxels are located (grids, masks,
DICOM series and model input sizes: ``test_hostile_geometry.py``). Each case runs the command line
(:func:`runCommand`) or the library inside :func:`guarded`, and asserts the exit code or error class and the
words of the fix, or the exact values of a valid input.
"""

from __future__ import annotations

import math
import pathlib

import imageInputs as gen
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from hostile import assertRefused, guarded, runCommand

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

MR_DEFAULT = RadiomicsSettings.fromPreset("mr-default")


def extract(*arguments, out: pathlib.Path):
    return runCommand("extract", *arguments, "--out", out)


def features(out: pathlib.Path) -> pd.Series:
    return pd.read_csv(out).iloc[0]


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    return gen.ctCase(tmp_path_factory.mktemp("ct"))


# --- Bin counts: refused before pyradiomics, with the bin width or count that fits -------------------------

BIN_REFUSALS = {
    "binWidth 1 on CT": (
        ["--bin-width", "1"],
        ["4,000 grey levels", "binWidth ≥ 7.9", "range of 3999", "binCount: 64"],
    ),
    "binWidth 1e-9": (["--bin-width", "1e-9"], ["binWidth 1e-09 cuts into 3,999,", "binWidth ≥ 7.9"]),
    "binWidth -1": (["--bin-width", "-1"], ["ExtractionConfig.binWidth is -1.0", "finite bin width > 0"]),
    "binWidth nan": (["--bin-width", "nan"], ["ExtractionConfig.binWidth is nan", "finite bin width > 0"]),
    "binWidth inf": (["--bin-width", "inf"], ["ExtractionConfig.binWidth is inf", "finite bin width > 0"]),
    "limit lowered": (["--bin-width", "10", "--max-bins", "100"], ["400 grey levels", "limit of 100", "binWidth ≥ 41"]),
}


@pytest.mark.parametrize("case", BIN_REFUSALS, ids=list(BIN_REFUSALS))
def test_bin_width_options_that_would_hang_or_explode_are_refused(ct, tmp_path, case):
    options, words = BIN_REFUSALS[case]
    out = tmp_path / "out" / "features.csv"
    with guarded(ct.values(), [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], *options, out=out)
    assertRefused(result, *words)
    assert not out.exists()


PARAMETER_REFUSALS = {
    "binWidth 0": ("setting: {binWidth: 0}", ["/setting/binWidth"]),
    "binWidth .nan": ("setting: {binWidth: .nan}", ["setting/binWidth is nan", "finite bin width > 0"]),
    "binCount 1e9": ("setting: {binCount: 1000000000}", ["binCount is 1000000000", "from 1 to 512", "binCount: 64"]),
    "binCount 2.5": ("setting: {binCount: 2.5}", ["/setting/binCount", "not of type 'int'"]),
    "LoG's own binWidth": (
        "imageType: {Original: {}, LoG: {sigma: [1.0], binWidth: 0.001}}\nsetting: {binWidth: 25}",
        ["in a filtered image", "binWidth 0.001", "above the limit of 512", "binWidth ≥"],
    ),
    "normalised, binWidth 0.001": (
        "setting: {binWidth: 0.001, normalize: true}",
        ["grey levels, above the limit of 512", "binWidth ≥"],
    ),
}


@pytest.mark.parametrize("case", PARAMETER_REFUSALS, ids=list(PARAMETER_REFUSALS))
def test_parameter_files_with_absurd_bins_are_refused(ct, tmp_path, case):
    text, words = PARAMETER_REFUSALS[case]
    params = gen.parameterFile(tmp_path / "in" / "params.yaml", text)
    out = tmp_path / "out" / "features.csv"
    with guarded([*ct.values(), params], [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], "--params", params, out=out)
    assertRefused(result, *words)
    assert not out.exists()


def test_resegmentation_narrows_the_range_so_binwidth_1_is_accepted(ct, tmp_path):
    """binWidth 1 over the whole CT range is refused; re-segmented to [0, 100] HU it makes 101 levels: valid,
    and the values are pyradiomics' own on the same voxels."""
    params = gen.parameterFile(tmp_path / "in" / "params.yaml", "setting: {binWidth: 1, resegmentRange: [0, 100]}")
    out = tmp_path / "out" / "features.csv"
    with guarded([*ct.values(), params], [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], "--params", params, out=out)
    assert result.code == 0, result.output
    voxels = sitk.GetArrayFromImage(sitk.ReadImage(str(ct["image"])))[gen.ROI].astype(float)
    kept = voxels[(voxels >= 0) & (voxels <= 100)]
    row = features(out)
    assert row["original_firstorder_Mean"] == pytest.approx(kept.mean(), rel=1e-12)
    assert row["original_firstorder_Range"] == kept.max() - kept.min()


# --- Integer storage never changes a feature ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32", "uint8", "uint16"])
def test_the_same_voxels_give_the_same_features_in_any_storage(tmp_path, dtype):
    """int8 at the bottom of its range (pyradiomics' bin edges overflowed: 77 of 107 features wrong, or
    'Calculation of GLCM Failed') and uint8 at the top give exactly the features of the same values as floats."""
    low, high = (187, 255) if dtype.startswith("uint") else (-128, -60)
    reference = extractFeatures(gen.image(gen.spreadValues(low, high, seed=3)), gen.roiMask(), MR_DEFAULT).features
    path = gen.write(tmp_path / "in" / f"{dtype}.nrrd", gen.sameVoxels(dtype))
    assert sitk.GetArrayViewFromImage(sitk.ReadImage(str(path))).dtype == np.dtype(dtype)
    with guarded([path]):
        stored = extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT).features
    assert len(stored) == 107 and stored.keys() == reference.keys()
    differences = {
        name: (stored[name], value)
        for name, value in reference.items()
        if stored[name] != pytest.approx(value, rel=1e-12, abs=1e-12)
    }
    assert not differences


def test_an_int8_file_through_the_command_line_equals_its_float_copy(tmp_path):
    paths = {
        dtype: gen.write(tmp_path / "in" / f"{dtype}.nrrd", gen.sameVoxels(dtype)) for dtype in ("int8", "float32")
    }
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask())
    with guarded([*paths.values(), mask], [tmp_path / "out"]):
        results = {
            dtype: extract("--image", path, "--mask", mask, out=tmp_path / "out" / f"{dtype}.csv")
            for dtype, path in paths.items()
        }
    assert all(result.code == 0 for result in results.values()), [r.output for r in results.values()]
    assert "RuntimeWarning" not in results["int8"].output
    pd.testing.assert_series_equal(
        features(tmp_path / "out" / "int8.csv").drop("patient"),
        features(tmp_path / "out" / "float32.csv").drop("patient"),
        check_names=False,
    )


# --- NaN and infinite voxels: located, refused where they would reach a feature ----------------------------


def withValue(value: float, index: tuple[int, int, int]) -> sitk.Image:
    voxels = gen.spreadValues(0, 500)
    voxels[index] = value
    return gen.image(voxels)


def test_nan_inside_the_roi_through_the_command_line_names_count_and_index(tmp_path):
    path = gen.write(tmp_path / "in" / "nan.nrrd", withValue(math.nan, (5, 6, 7)))
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask())
    with guarded([path, mask], [tmp_path / "out"]):
        result = extract("--image", path, "--mask", mask, out=tmp_path / "out" / "f.csv")
    assertRefused(
        result, "1 NaN or infinite voxel(s) (1 NaN, 0 infinite) inside the ROI", "(i, j, k) = (7, 6, 5)", "nan_to_num"
    )


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinity_inside_the_roi_is_refused_by_the_library(tmp_path, value):
    path = gen.write(tmp_path / "in" / "inf.nrrd", withValue(value, (11, 4, 8)))
    with (
        guarded([path]),
        pytest.raises(
            InputError, match=r"\(0 NaN, 1 infinite\) inside the ROI, the first at index \(i, j, k\) = \(8, 4, 11\)"
        ),
    ):
        extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT)


def test_nan_outside_the_roi_is_harmless_for_original_features(tmp_path):
    """Decision: features of the Original image read only ROI voxels, so a NaN background is accepted and the
    features equal those of the clean image exactly."""
    path = gen.write(tmp_path / "in" / "nan.nrrd", withValue(math.nan, (0, 0, 0)))
    with guarded([path]):
        result = extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT)
    assert result.features == extractFeatures(withValue(0.0, (0, 0, 0)), gen.roiMask(), MR_DEFAULT).features


def test_infinity_outside_the_roi_is_refused_when_a_filter_would_spread_it(tmp_path):
    path = gen.write(tmp_path / "in" / "inf.nrrd", withValue(math.inf, (2, 2, 2)))
    settings = RadiomicsSettings({"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}}, "setting": {"binWidth": 25}})
    with (
        guarded([path]),
        pytest.raises(
            InputError,
            match=r"outside the ROI, the first at index \(i, j, k\) = \(2, 2, 2\), and the settings apply the LoG filter",
        ),
    ):
        extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), settings)


def test_one_infinite_voxel_is_not_reported_as_no_foreground():
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    voxels = gen.spreadValues(10, 500)
    voxels[3, 2, 1] = math.inf
    with pytest.raises(
        InputError,
        match=r"1 NaN or infinite voxel\(s\) \(0 NaN, 1 infinite\), the first at index \(i, j, k\) = \(1, 2, 3\), so its foreground",
    ):
        foregroundMask(gen.image(voxels))
