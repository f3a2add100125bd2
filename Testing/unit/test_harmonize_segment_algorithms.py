"""Foreground mask, z-score normalization and the classical segmentation on known images."""

import numpy as np
import pytest
import SimpleITK as sitk
from syntheticImages import headWithLesion

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.zscore import zScoreNormalize
from VirtualBiopsy.segment.overlap import diceCoefficient
from VirtualBiopsy.segment.thresholdSegmentation import segmentBrightLesion


def _array(image):
    return sitk.GetArrayFromImage(image)


def test_foreground_mask_finds_the_head_by_otsu_and_by_zero_background():
    for zeroBackground in (False, True):
        image, _, head = headWithLesion(zeroBackground=zeroBackground)
        assert diceCoefficient(foregroundMask(image), head) > 0.99


def test_foreground_mask_rejects_a_constant_image():
    image = sitk.Image(8, 8, 8, sitk.sitkFloat32) + 3.0
    with pytest.raises(InputError, match="constant"):
        foregroundMask(image)


def test_zscore_gives_zero_mean_unit_sd_in_mask_and_keeps_geometry():
    image, _, head = headWithLesion()
    before = _array(image).copy()
    normalized = zScoreNormalize(image, head, backgroundValue=-7.0)
    values = _array(normalized)
    inside = _array(head) > 0
    assert values[inside].mean() == pytest.approx(0.0, abs=1e-5)
    assert values[inside].std() == pytest.approx(1.0, abs=1e-5)
    assert np.all(values[~inside] == -7.0)
    assert normalized.GetSpacing() == image.GetSpacing() and normalized.GetOrigin() == image.GetOrigin()
    np.testing.assert_array_equal(_array(image), before)  # input untouched


def test_zscore_is_invariant_to_affine_intensity_changes():
    image, _, head = headWithLesion()
    rescaled = image * 3.5 + 1000.0
    np.testing.assert_allclose(_array(zScoreNormalize(image, head)), _array(zScoreNormalize(rescaled, head)), atol=1e-4)


def test_zscore_errors():
    image, _, head = headWithLesion(size=16)
    with pytest.raises(InputError, match="mask is empty"):
        zScoreNormalize(image, head * 0)
    with pytest.raises(InputError, match="constant"):
        zScoreNormalize(sitk.Image(8, 8, 8, sitk.sitkFloat32) + 1.0)
    with pytest.raises(GeometryError, match="Resample the mask"):
        zScoreNormalize(image, sitk.Image(8, 8, 8, sitk.sitkUInt8))


@pytest.mark.parametrize("zeroBackground", [False, True])
def test_segmentation_finds_the_ring_enhancing_lesion_with_its_core(zeroBackground):
    image, lesion, _ = headWithLesion(zeroBackground=zeroBackground)
    mask = segmentBrightLesion(image, threshold=1.5, headMarginMm=8.0, closingRadiusMm=2.0)
    assert diceCoefficient(mask, lesion) > 0.9
    # the scalp is as bright as the lesion's rim but lies within the head margin
    assert mask.GetSize() == image.GetSize() and mask.GetPixelID() == sitk.sitkUInt8


def test_segmentation_without_hole_filling_misses_the_core():
    image, lesion, _ = headWithLesion()
    withCore = segmentBrightLesion(image, headMarginMm=8.0, fillHoles=True)
    withoutCore = segmentBrightLesion(image, headMarginMm=8.0, fillHoles=False, closingRadiusMm=0.0)
    assert _array(withCore).sum() > _array(withoutCore).sum()


def test_segmentation_is_invariant_to_intensity_scale():
    image, _, _ = headWithLesion()
    a = segmentBrightLesion(image, headMarginMm=8.0)
    b = segmentBrightLesion(image * 0.01 + 5.0, headMarginMm=8.0)
    np.testing.assert_array_equal(_array(a), _array(b))


def test_segmentation_reports_when_nothing_is_found():
    image, _, _ = headWithLesion()
    with pytest.raises(InputError, match="No lesion of at least 1000000.0 mm³"):
        segmentBrightLesion(image, headMarginMm=8.0, minimumSizeMm3=1e6)


def test_dice_known_values():
    a = sitk.GetImageFromArray(np.array([[[1, 1, 0, 0]]], dtype=np.uint8))
    b = sitk.GetImageFromArray(np.array([[[0, 1, 1, 0]]], dtype=np.uint8))
    assert diceCoefficient(a, b) == 0.5
    assert diceCoefficient(a * 0, b * 0) == 1.0
    with pytest.raises(GeometryError):
        diceCoefficient(a, sitk.Image(2, 2, 2, sitk.sitkUInt8))
