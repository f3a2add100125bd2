"""Grey-level counts known before pyradiomics runs: the count equals pyradiomics' own, the suggested bin width
fits the limit, bin settings are validated, and the limit holds inside pyradiomics for filtered images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.binCount import (
    DEFAULT_MAXIMUM_BIN_COUNT,
    binCountLimit,
    fixedWidthBinCount,
    requireBinCountOfRoi,
    requireBinSettings,
    requiredBinWidth,
    roiRangeForBinning,
)
from VirtualBiopsy.extract.binOrigin import fixedBinOrigin
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

RANGES = [(-1000.0, 2999.0, 25.0), (0.0, 100.0, 1.0), (-3.2, 5.7, 0.1), (12.5, 12.5, 25.0), (-128.0, -60.0, 25.0)]


@pytest.mark.parametrize("low, high, width", RANGES)
def test_the_count_is_the_highest_level_pyradiomics_gives(low, high, width):
    imageoperations = pytest.importorskip("radiomics.imageoperations")
    values = np.linspace(low, high, 50)
    mask = np.ones(values.shape, bool)
    binned, _ = imageoperations.binImage(values.copy(), mask, binWidth=width)
    assert fixedWidthBinCount(low, high, width) == int(binned.max())


def test_the_count_from_a_fixed_origin_is_that_of_the_ibsi_edges():
    imageoperations = pytest.importorskip("radiomics.imageoperations")
    values = np.linspace(-500.0, 400.0, 91)
    with fixedBinOrigin(-500.0):
        binned, _ = imageoperations.binImage(values.copy(), np.ones(values.shape, bool), binWidth=25)
    assert fixedWidthBinCount(-500.0, 400.0, 25.0, origin=-500.0) == int(binned.max()) == 37


@pytest.mark.parametrize("limit", [16, 100, 512])
@pytest.mark.parametrize("low, high", [(-1000.0, 2999.0), (0.0, 1.0), (-3.3, 7.9)])
def test_the_suggested_bin_width_fits_the_limit_and_is_round(low, high, limit):
    width = requiredBinWidth(low, high, limit)
    assert fixedWidthBinCount(low, high, width) <= limit
    assert fixedWidthBinCount(low, high, width / 2) > limit  # not far above what is needed
    assert float(f"{width:.2g}") == width


@pytest.mark.parametrize(
    "parameters, where",
    [
        ({"setting": {"binWidth": math.nan}}, "setting/binWidth is nan"),
        ({"setting": {"binWidth": math.inf}}, "setting/binWidth is inf"),
        ({"setting": {"binWidth": "25"}}, "setting/binWidth is '25'"),
        ({"setting": {"binCount": DEFAULT_MAXIMUM_BIN_COUNT + 1}}, "setting/binCount is 513; give a whole number"),
        ({"setting": {"binCount": True}}, "setting/binCount is True"),
        ({"imageType": {"LoG": {"sigma": [1.0], "binWidth": -2.0}}}, "imageType/LoG/binWidth is -2.0"),
    ],
)
def test_bin_settings_are_validated_everywhere_they_can_be_set(parameters, where):
    with pytest.raises(InputError, match=rf"Radiomics settings 'p': {where}"):
        requireBinSettings(parameters, "p", DEFAULT_MAXIMUM_BIN_COUNT)
    requireBinSettings({"setting": {"binWidth": 0.1, "binCount": 64}}, "p", DEFAULT_MAXIMUM_BIN_COUNT)


def test_the_limit_is_a_setting_that_reaches_the_radiomics_settings():
    assert ExtractionConfig().settings().maximumBinCount == DEFAULT_MAXIMUM_BIN_COUNT == 512
    assert ExtractionConfig(maximumBinCount=2000).settings().maximumBinCount == 2000
    with pytest.raises(InputError, match=r"maximumBinCount is 1; it must lie in \[2, inf\]"):
        ExtractionConfig.fromDict({"maximumBinCount": 1})
    wide = RadiomicsSettings({"setting": {"binCount": 1000}}, maximumBinCount=1000)
    assert wide.sha256() == RadiomicsSettings({"setting": {"binCount": 1000}}, maximumBinCount=2000).sha256()
    with pytest.raises(InputError, match="binCount is 1000"):
        RadiomicsSettings({"setting": {"binCount": 1000}})


def roiImage(values: np.ndarray) -> tuple[sitk.Image, np.ndarray]:
    voxels = np.zeros((4, 4, 4))
    voxels.flat[: values.size] = values
    roi = np.zeros(voxels.shape, bool)
    roi.flat[: values.size] = True
    return sitk.GetImageFromArray(voxels), roi


def test_the_range_follows_pyradiomics_resegmentation_and_normalisation():
    image, roi = roiImage(np.arange(0.0, 40.0))
    assert roiRangeForBinning(image, roi, {}) == (0.0, 39.0)
    assert roiRangeForBinning(image, roi, {"resegmentRange": [10, 20]}) == (10.0, 20.0)
    assert roiRangeForBinning(image, roi, {"resegmentRange": [0.5], "resegmentMode": "relative"}) == (20.0, 39.0)
    assert roiRangeForBinning(image, roi, {"resegmentRange": [100]}) is None
    everything = sitk.GetArrayFromImage(image)
    normalized = sitk.GetArrayFromImage(sitk.Normalize(image))[roi] * 100
    low, high = roiRangeForBinning(image, roi, {"normalize": True, "normalizeScale": 100})
    assert (low, high) == pytest.approx((normalized.min(), normalized.max()), rel=1e-9)
    assert everything.size == 64


def test_a_roi_range_too_wide_for_the_bin_width_is_refused_with_the_fix():
    image, roi = roiImage(np.array([-1000.0, 0.0, 2999.0]))
    settings = RadiomicsSettings({"setting": {"binWidth": 1}})
    with pytest.raises(
        InputError, match=r"cuts into 4,000 grey levels.*Use binWidth ≥ 7\.9 .*range of 3999, or binCount: 64"
    ):
        requireBinCountOfRoi(image, roi, settings, 512, "the ROI")
    assert requireBinCountOfRoi(image, roi, settings, 4000, "the ROI") == 4000
    assert requireBinCountOfRoi(image, roi, RadiomicsSettings({"setting": {"binCount": 32}}), 512, "the ROI") == 32


def test_inside_pyradiomics_the_limit_stops_binning_before_any_edge_is_allocated():
    imageoperations = pytest.importorskip("radiomics.imageoperations")
    values = np.array([0.0, 1.0e6])
    with binCountLimit(512, "p"), pytest.raises(InputError, match="1,000,001 grey levels, above the limit of 512"):
        imageoperations.getBinEdges(values, binWidth=1.0)
    assert len(imageoperations.getBinEdges(values, binWidth=1.0e5)) == 12  # outside the block: pyradiomics' own
