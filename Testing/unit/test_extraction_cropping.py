"""Cropping around the ROI: the margin covers each filter's reach, and cropped extraction equals
uncropped extraction (filtered features within 1e-6 relative) on pyradiomics' sample cases."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.extract.cropping import (
    LOG_MARGIN_SIGMAS,
    cropBox,
    cropGroups,
    cropMargin,
    waveletSupport,
)
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings


def test_log_margin_is_sixteen_sigma_per_axis_in_voxels():
    margin = cropMargin({"Original": {}, "LoG": {"sigma": [2.0, 5.0]}}, {}, (0.5, 1.0, 5.0))
    assert LOG_MARGIN_SIGMAS == 16.0
    assert margin == (160, 80, 16)


def test_each_filter_gets_its_own_crop_in_pyradiomics_order():
    imageTypes = {"Original": {}, "LoG": {"sigma": [2.0, 5.0]}, "Wavelet": {"wavelet": "coif1"}}
    groups = cropGroups(imageTypes, {"binWidth": 25}, (0.5, 1.0, 5.0))
    assert [group.imageTypes for group in groups] == [
        {"Original": {}},
        {"LoG": {"sigma": [2.0]}},
        {"LoG": {"sigma": [5.0]}},
        {"Wavelet": {"wavelet": "coif1"}},
    ]
    assert [group.margin for group in groups] == [(1, 1, 1), (64, 32, 7), (160, 80, 16), (5, 5, 5)]
    assert [(group.block, group.periodic) for group in groups][-1] == (2, True)
    assert not any(group.periodic for group in groups[:-1])
    assert cropGroups({"Original": {}, "Square": {}}, {}, (1.0, 1.0, 1.0)) is None


def test_wavelet_margin_is_the_filter_support_over_all_levels():
    assert waveletSupport({"wavelet": "coif1"}) == 5  # 6 taps, one level
    assert waveletSupport({"wavelet": "coif1", "level": 2}) == 15
    assert waveletSupport({"wavelet": "db4", "start_level": 1, "level": 1}) == 21
    assert cropMargin({"Wavelet": {"wavelet": "haar"}}, {}, (1.0, 1.0, 1.0)) == (1, 1, 1)
    assert cropMargin({"Original": {}}, {}, (1.0, 1.0, 1.0)) == (1, 1, 1)


@pytest.mark.parametrize(
    ("imageTypes", "setting"),
    [
        ({"Original": {}}, {"resampledPixelSpacing": [1, 1, 1]}),
        ({"Original": {}}, {"normalize": True}),
        ({"Original": {}}, {"preCrop": True}),
        ({"Original": {}, "Square": {}}, {}),
        ({"LBP3D": {}}, {}),
        ({"Gradient": {}}, {}),
    ],
)
def test_no_crop_where_it_could_change_values(imageTypes, setting):
    assert cropMargin(imageTypes, setting, (1.0, 1.0, 1.0)) is None


def test_crop_box_stays_inside_and_keeps_sizes_usable():
    roi = np.zeros((10, 40, 30), bool)  # k j i
    roi[4:6, 18:20, 2:5] = True
    index, size = cropBox(roi, (3, 3, 3))
    assert index == (0, 15, 1) and size == (8, 8, 8)
    index, size = cropBox(roi, (3, 3, 3), block=4)  # wavelet level 2: multiples of 4
    assert all(s % 4 == 0 for s in size) and index[0] == 0
    index, size = cropBox(roi, (0, 0, 0))
    assert min(size) >= 4  # pyradiomics' LoG needs four voxels per axis
    index, size = cropBox(roi, (100, 100, 100))
    assert index == (0, 0, 0) and size == (30, 40, 10)
    index, size = cropBox(roi, (3, 3, 3), periodic=True)  # x reaches the border at 2 - 3 < 0: whole x axis
    assert index == (0, 15, 1) and size == (30, 8, 8)


def test_roi_at_the_image_border_with_wavelet_equals_uncropped():
    """pywt's transform wraps around: a ROI at the border keeps the whole axis, features stay exact."""
    rng = np.random.default_rng(4)
    image = sitk.GetImageFromArray(rng.normal(100.0, 30.0, (24, 40, 36)).astype(np.float32))
    labels = np.zeros((24, 40, 36), np.uint8)
    labels[8:14, 15:22, 0:5] = 1  # touches x = 0
    mask = sitk.GetImageFromArray(labels)
    settings = RadiomicsSettings.fromDict(
        {"imageType": {"Wavelet": {}}, "featureClass": {"firstorder": None}, "setting": {"binWidth": 10}}
    )
    cropped = extractFeatures(image, mask, settings)
    whole = extractFeatures(image, mask, settings, crop=False)
    box = cropped.provenance["cropBox"]["image"]
    assert box["size"][0] == 36 and box["size"][1] < 40  # x whole, y cropped
    assert cropped.features == whole.features


def relativeDifferences(cropped: dict, whole: dict) -> dict:
    assert set(cropped) == set(whole)
    return {
        name: abs(cropped[name] - whole[name]) / max(abs(whole[name]), 1e-12)
        for name in whole
        if cropped[name] != whole[name]
    }


@pytest.mark.network
@pytest.mark.slow
def test_cropped_equals_uncropped_with_log_and_wavelet(sampleCases):
    """The ``full`` preset (LoG σ 2-5 mm, coif1 wavelet) on brain1: every feature within 1e-6,
    original and wavelet ones exact. (lung1: ``benchmarks/bench_crop_margin.py``.)"""
    case = sampleCases["brain1"]
    image, mask = sitk.ReadImage(str(case.image)), sitk.ReadImage(str(case.label))
    settings = RadiomicsSettings.fromPreset("full")
    cropped = extractFeatures(image, mask, settings)
    whole = extractFeatures(image, mask, settings, crop=False)
    box = cropped.provenance["cropBox"]["image"]
    assert whole.provenance["cropBox"]["image"] is None and box is not None
    assert np.prod(box["size"]) < np.prod(image.GetSize())  # it did crop
    assert len(whole.features) == 1223 and not whole.undefined and not cropped.undefined
    differences = relativeDifferences(cropped.features, whole.features)
    assert max(differences.values(), default=0.0) < 1e-6, sorted(differences.items(), key=lambda x: -x[1])[:5]
    assert not any(name.startswith(("original_", "wavelet-")) for name in differences)


def plainPyradiomics(case, settings: RadiomicsSettings) -> dict[str, float]:
    """pyradiomics on the files, whole image, as a user would run it."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    output = RadiomicsFeatureExtractor(settings.pyradiomics).execute(str(case.image), str(case.label), label=1)
    return {name: float(value) for name, value in output.items() if not name.startswith("diagnostics_")}


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("name", ["lung1", "lung2"])
def test_ct_cases_full_preset_equal_plain_pyradiomics(sampleCases, name):
    """The CT sample cases with the ``full`` preset, each filter on its own crop, against pyradiomics
    on the whole files: same features in the same order, original and wavelet features identical,
    LoG features within 1e-6 relative."""
    case = sampleCases[name]
    settings = RadiomicsSettings.fromPreset("full")
    ours = extractFeatures(sitk.ReadImage(str(case.image)), sitk.ReadImage(str(case.label)), settings)
    plain = plainPyradiomics(case, settings)
    assert list(ours.features) == list(plain) and not ours.undefined
    crops = ours.provenance["cropBox"]["image"]["crops"]
    assert len(crops) == 6 and [crop["size"] for crop in crops] != [crops[0]["size"]] * 6  # one crop per filter
    differences = relativeDifferences(ours.features, plain)
    assert not any(name.startswith(("original_", "wavelet-")) for name in differences), differences
    assert max(differences.values(), default=0.0) < 1e-6, sorted(differences.items(), key=lambda x: -x[1])[:5]


@pytest.mark.network
def test_a_pyradiomics_precrop_margin_is_not_enough(sampleCases):
    """Guard against shrinking the margin: 4 σ (the textbook LoG reach) changes LoG features."""
    import VirtualBiopsy.extract.cropping as cropping

    case = sampleCases["brain1"]
    image, mask = sitk.ReadImage(str(case.image)), sitk.ReadImage(str(case.label))
    settings = RadiomicsSettings.fromDict(
        {"imageType": {"LoG": {"sigma": [5.0]}}, "featureClass": {"firstorder": None}, "setting": {"binWidth": 25}}
    )
    whole = extractFeatures(image, mask, settings, crop=False).features
    saved = cropping.LOG_MARGIN_SIGMAS
    try:
        cropping.LOG_MARGIN_SIGMAS = 4.0
        narrow = extractFeatures(image, mask, settings).features
    finally:
        cropping.LOG_MARGIN_SIGMAS = saved
    assert max(relativeDifferences(narrow, whole).values()) > 1e-5


def test_resegmented_and_reordered_filters_on_their_own_crops_equal_uncropped():
    """With ``resegmentRange`` each crop runs its own pyradiomics call; image types in any order keep
    pyradiomics' feature order, and the diagnostics list every image type."""
    rng = np.random.default_rng(7)
    image = sitk.GetImageFromArray(rng.normal(100.0, 30.0, (30, 48, 44)).astype(np.float32))
    labels = np.zeros((30, 48, 44), np.uint8)
    labels[12:18, 20:28, 18:25] = 1
    mask = sitk.GetImageFromArray(labels)
    for setting in ({"binWidth": 10}, {"binWidth": 10, "resegmentRange": [40, 160]}):
        settings = RadiomicsSettings.fromDict(
            {
                "imageType": {"Wavelet": {}, "LoG": {"sigma": [1.0, 2.0]}, "Original": {}},
                "featureClass": {"shape": None, "firstorder": None, "glszm": None},
                "setting": setting,
            }
        )
        cropped = extractFeatures(image, mask, settings)
        whole = extractFeatures(image, mask, settings, crop=False)
        assert list(cropped.features) == list(whole.features)
        assert len(cropped.provenance["cropBox"]["image"]["crops"]) == 4
        differences = relativeDifferences(cropped.features, whole.features)
        assert max(differences.values(), default=0.0) < 1e-6, differences
        assert not any(name.startswith(("original_", "wavelet-")) for name in differences)
        enabled = cropped.diagnostics["diagnostics_Configuration_EnabledImageTypes"]
        assert list(enabled) == ["Wavelet", "LoG", "Original"]
