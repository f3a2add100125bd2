"""Fixed-width bins from a chosen origin (IBSI) on top of pyradiomics' discretisation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.binOrigin import fixedBinEdges, fixedBinOrigin
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")


def test_bins_follow_the_ibsi_formula():
    values = np.random.default_rng(3).uniform(-1000, 400, 5000).round()
    values[:2] = [-1000, 400]
    edges = fixedBinEdges(values, 25, -1000)
    assert edges[0] == -1000 and edges[-1] == 425
    ibsi = np.floor((values + 1000) / 25) + 1
    assert np.array_equal(np.digitize(values, edges), ibsi)


def test_a_value_below_the_origin_is_refused_with_the_fix():
    with pytest.raises(InputError, match=r"intensity -1001, below the fixed bin origin -1000"):
        fixedBinEdges(np.array([-1001.0, 0.0]), 25, -1000)
    with pytest.raises(InputError, match="positive bin width"):
        fixedBinEdges(np.array([0.0]), 0, -1000)


def test_pyradiomics_bins_as_usual_outside_the_block_and_in_other_threads():
    from radiomics import imageoperations

    values = np.array([-939.0, -10.0, 399.0])
    assert imageoperations.getBinEdges(values, binWidth=25)[0] == -950
    seenElsewhere = []
    with fixedBinOrigin(-1000):
        assert imageoperations.getBinEdges(values, binWidth=25)[0] == -1000
        thread = threading.Thread(
            target=lambda: seenElsewhere.append(imageoperations.getBinEdges(values, binWidth=25)[0])
        )
        thread.start()
        thread.join()
        byCount = imageoperations.getBinEdges(values, binCount=4)
        assert byCount[0] == -939 and len(byCount) == 5
    assert seenElsewhere == [-950]
    assert imageoperations.getBinEdges(values, binWidth=25)[0] == -950


def test_the_origin_shifts_grey_level_indices_of_the_extraction():
    """Intensities 0..99: pyradiomics starts bins at 0, an origin of -50 adds 5 bins of width 10 below them."""
    array = np.arange(12**3, dtype=np.float32).reshape(12, 12, 12) % 100
    inside = np.zeros(array.shape, np.uint8)
    inside[1:-1, 1:-1, 1:-1] = 1
    image, mask = sitk.GetImageFromArray(array), sitk.GetImageFromArray(inside)
    plain = {
        "imageType": {"Original": {}},
        "featureClass": {"glcm": ["JointAverage"], "firstorder": ["Mean"]},
        "setting": {"binWidth": 10},
    }
    shifted = RadiomicsSettings.fromDict({"preprocessing": {"fixedBinOrigin": -50}, "pyradiomics": plain})
    before = extractFeatures(image, mask, RadiomicsSettings.fromDict(plain), minimumRoiVoxels=1).features
    after = extractFeatures(image, mask, shifted, minimumRoiVoxels=1).features
    assert after["original_glcm_JointAverage"] == pytest.approx(before["original_glcm_JointAverage"] + 5, abs=1e-9)
    assert after["original_firstorder_Mean"] == before["original_firstorder_Mean"]


def test_an_origin_with_a_bin_count_is_refused():
    with pytest.raises(InputError, match="fixedBinOrigin.*binCount"):
        RadiomicsSettings.fromDict(
            {"preprocessing": {"fixedBinOrigin": -1000}, "pyradiomics": {"setting": {"binCount": 32}}}
        )
