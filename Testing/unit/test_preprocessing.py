"""IBSI preprocessing before pyradiomics, on synthetic images with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.extract.preprocessing import (
    RadiomicsPreprocessing,
    preprocess,
    resampledGrid,
)


def makeImage(values: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None) -> sitk.Image:
    """An image from a (z, y, x) array with the given geometry."""
    image = sitk.GetImageFromArray(values)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    return image


def maskLike(image: sitk.Image, values: np.ndarray) -> sitk.Image:
    mask = sitk.GetImageFromArray(values.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def gridCentre(image: sitk.Image) -> np.ndarray:
    return np.array(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))


def obliqueCase(seed: int = 0) -> tuple[sitk.Image, sitk.Image]:
    rng = np.random.default_rng(seed)
    angle = math.radians(20)
    direction = (math.cos(angle), -math.sin(angle), 0, math.sin(angle), math.cos(angle), 0, 0, 0, 1)
    image = makeImage(
        rng.normal(0, 100, (7, 11, 10)).astype(np.float32), (0.9, 0.9, 3.0), (-12.5, 40.0, 7.0), direction
    )
    roi = np.zeros((7, 11, 10), bool)
    roi[2:5, 3:8, 2:8] = True
    return image, maskLike(image, roi)


def test_defaults_are_a_no_op_and_leave_images_bit_identical():
    image, mask = obliqueCase()
    before = sitk.GetArrayFromImage(image).copy(), sitk.GetArrayFromImage(mask).copy()
    outImage, outMask, record = preprocess(image, mask, RadiomicsPreprocessing())
    assert outImage is image and outMask is mask
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outImage), before[0])
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outMask), before[1])
    assert record["applied"] is False and record["steps"] == []
    assert RadiomicsPreprocessing.fromDict({}).isNoOp()


def test_resampled_grid_is_centred_on_the_original_grid_with_ceil_size():
    image, mask = obliqueCase()
    outImage, outMask, record = preprocess(image, mask, RadiomicsPreprocessing(resampledSpacingMm=[2.0, 2.0, 2.0]))
    assert outImage.GetSize() == (math.ceil(10 * 0.9 / 2), math.ceil(11 * 0.9 / 2), math.ceil(7 * 3.0 / 2))
    assert outImage.GetSpacing() == (2.0, 2.0, 2.0)
    np.testing.assert_allclose(outImage.GetDirection(), image.GetDirection())
    np.testing.assert_allclose(gridCentre(outImage), gridCentre(image), atol=1e-9)
    assert outMask.GetPixelID() == sitk.sitkUInt8 and outImage.GetPixelID() == sitk.sitkFloat32
    assert outMask.GetSize() == outImage.GetSize() and outMask.GetOrigin() == outImage.GetOrigin()
    assert record["applied"] and record["steps"][0]["toSize"] == list(outImage.GetSize())
    json.dumps(record)


def test_grid_keeps_its_first_voxel_when_centres_are_not_aligned():
    image, _ = obliqueCase()
    grid = resampledGrid(image, [2.0, 2.0, 2.0], alignCentres=False)
    assert grid["origin"] == image.GetOrigin()


def test_null_spacing_keeps_the_slices_and_resamples_in_plane_only():
    values = np.arange(4 * 6 * 6, dtype=np.float32).reshape(4, 6, 6)
    image = makeImage(values, (1.0, 1.0, 3.0), (0.0, 0.0, 10.0))
    mask = maskLike(image, np.ones(values.shape))
    outImage, _, _ = preprocess(image, mask, RadiomicsPreprocessing(resampledSpacingMm=[2.0, 2.0, None]))
    assert outImage.GetSize() == (3, 3, 4) and outImage.GetSpacing() == (2.0, 2.0, 3.0)
    assert outImage.GetOrigin()[2] == pytest.approx(10.0)
    # a linear ramp is reproduced exactly: the value at in-plane position (0.5, 0.5) of slice k
    expected = values[:, 0, 0] + 0.5 * (values[0, 0, 1] - values[0, 0, 0]) + 0.5 * (values[0, 1, 0] - values[0, 0, 0])
    np.testing.assert_allclose(sitk.GetArrayViewFromImage(outImage)[:, 0, 0], expected, rtol=1e-6)


def test_intensities_are_rounded_to_integers_after_interpolation():
    values = np.tile(np.array([0.0, 1.0, 0.0, 1.0, 0.0, 3.0], np.float32), (3, 3, 1))
    image = makeImage(values)
    mask = maskLike(image, np.ones(values.shape))
    interpolated, _, _ = preprocess(image, mask, RadiomicsPreprocessing(resampledSpacingMm=[0.75, 1.0, 1.0]))
    rounded, _, record = preprocess(
        image, mask, RadiomicsPreprocessing(resampledSpacingMm=[0.75, 1.0, 1.0], roundIntensities=True)
    )
    raw = sitk.GetArrayViewFromImage(interpolated)
    assert not np.allclose(raw, np.round(raw))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(rounded), np.round(raw))
    assert [step["step"] for step in record["steps"]] == ["resample", "roundIntensities"]


def test_rounding_without_resampling_keeps_the_grid():
    image = makeImage(np.array([[[1.4, 2.6, -0.7]]], np.float32))
    mask = maskLike(image, np.ones((1, 1, 3)))
    outImage, outMask, _ = preprocess(image, mask, RadiomicsPreprocessing(roundIntensities=True))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outImage), [[[1.0, 3.0, -1.0]]])
    assert outImage.GetSize() == image.GetSize()
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outMask), [[[1, 1, 1]]])


@pytest.mark.parametrize(("threshold", "expected"), [(0.5, [1, 1, 0]), (0.6, [1, 0, 0])])
def test_mask_partial_volume_threshold(threshold, expected):
    # six 1 mm voxels resampled to 2 mm: new centres at x = 0.5, 2.5, 4.5 where the
    # linearly interpolated mask [1, 1, 1, 0, 0, 0] is 1, 0.5 and 0
    image = makeImage(np.zeros((2, 2, 6), np.float32))
    mask = maskLike(image, np.tile(np.array([1, 1, 1, 0, 0, 0]), (2, 2, 1)))
    settings = RadiomicsPreprocessing(resampledSpacingMm=[2.0, None, None], maskPartialVolumeThreshold=threshold)
    _, outMask, _ = preprocess(image, mask, settings)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outMask)[0, 0], expected)


def test_resegmentation_range_removes_out_of_range_voxels_inclusive():
    values = np.array([[[-1200.0, -1000.0, -50.0, 400.0, 401.0, 900.0]]], np.float32)
    image = makeImage(values)
    mask = maskLike(image, np.array([[[1, 1, 1, 1, 1, 0]]]))
    _, outMask, record = preprocess(image, mask, RadiomicsPreprocessing(resegmentationRange=[-1000, 400]))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outMask), [[[0, 1, 1, 1, 0, 0]]])
    assert record["steps"][-1] == {"step": "resegmentationRange", "range": [-1000.0, 400.0], "voxelsRemoved": 2}
    _, openMask, _ = preprocess(image, mask, RadiomicsPreprocessing(resegmentationRange=[None, 400]))
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(openMask), [[[1, 1, 1, 1, 0, 0]]])


def test_outlier_filtering_keeps_mean_plus_minus_k_sigma_after_the_range():
    values = np.array([[[10.0] * 9 + [12.0] * 9 + [100.0, 5000.0]]], np.float32)
    image = makeImage(values)
    mask = maskLike(image, np.ones(values.shape))
    settings = RadiomicsPreprocessing(resegmentationRange=[None, 1000], outlierSigma=3.0)
    _, outMask, record = preprocess(image, mask, settings)
    kept = values[0, 0, :19]
    low, high = kept.mean() - 3 * kept.std(), kept.mean() + 3 * kept.std()
    assert record["steps"][-1]["range"] == pytest.approx([low, high], rel=1e-6)
    assert high < 100 < 5000
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(outMask)[0, 0], [1] * 18 + [0, 0])


@pytest.mark.parametrize(
    "values",
    [
        {"resampledSpacingMm": [2.0, 2.0]},
        {"resampledSpacingMm": [2.0, -1.0, 2.0]},
        {"resampledSpacingMm": [None, None, None]},
        {"imageInterpolator": "cubic"},
        {"maskInterpolator": "sinc"},
        {"maskPartialVolumeThreshold": 0.0},
        {"maskPartialVolumeThreshold": 1.5},
        {"resegmentationRange": [400, -1000]},
        {"resegmentationRange": [None, None]},
        {"resegmentationRange": [-1000]},
        {"outlierSigma": -3.0},
        {"roundIntensity": True},
        {"alignGridCentres": "yes"},
    ],
)
def test_bad_settings_raise_input_error(values):
    with pytest.raises(InputError):
        RadiomicsPreprocessing.fromDict(values)


def test_settings_round_trip_through_a_dictionary():
    settings = RadiomicsPreprocessing.fromDict(
        {"resampledSpacingMm": [2, 2, None], "imageInterpolator": "bspline", "resegmentationRange": [-1000, None]}
    )
    assert settings.resampledSpacingMm == [2.0, 2.0, None]
    assert RadiomicsPreprocessing.fromDict(settings.toDict()) == settings


def test_bad_masks_are_rejected_with_the_fix():
    image, mask = obliqueCase()
    settings = RadiomicsPreprocessing(roundIntensities=True)
    labels = maskLike(image, sitk.GetArrayFromImage(mask) * 2)
    with pytest.raises(InputError, match="label of interest"):
        preprocess(image, labels, settings)
    with pytest.raises(InputError, match="empty"):
        preprocess(image, maskLike(image, np.zeros((7, 11, 10))), settings)
    shifted = sitk.Image(mask)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="origin"):
        preprocess(image, shifted, settings)
    with pytest.raises(InputError, match="resegmentationRange"):
        preprocess(image, mask, RadiomicsPreprocessing(resegmentationRange=[1e6, 2e6]))
