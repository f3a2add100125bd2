"""The normalization methods on known images: invariances, known answers, and a clear error for each
hostile input (NaN/Inf voxels, a non-finite or empty mask, a constant image, a mask on another grid)."""

import numpy as np
import pytest
import SimpleITK as sitk
from normalizationCases import arrays, cohortCase
from syntheticImages import headWithLesion

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.normalization import (
    applyNyul,
    clahe,
    fitNyulLandmarks,
    histogramEqualization,
    histogramMatching,
    percentileRescale,
    whiteStripeNormalize,
    zScoreNormalize,
)
from VirtualBiopsy.harmonize.normalization.whiteStripe import findWhiteStripe


def _nyulModel():
    image, _, head = headWithLesion(size=24)
    return fitNyulLandmarks([image], [head])


#: Every method as ``f(image, mask, backgroundValue=...)``.
METHODS = {
    "zscore": lambda image, mask, **options: zScoreNormalize(image, mask, **options),
    "whitestripe": lambda image, mask, **options: whiteStripeNormalize(image, mask, "T2", **options),
    "nyul": lambda image, mask, **options: applyNyul(image, mask, _nyulModel(), **options),
    "histmatch": lambda image, mask, **options: histogramMatching(
        image, mask, headWithLesion(size=24, seed=3)[0], **options
    ),
    "percentile": lambda image, mask, **options: percentileRescale(image, mask, **options),
    "equalization": lambda image, mask, **options: histogramEqualization(image, mask, **options),
    "clahe": lambda image, mask, **options: clahe(image, mask, **options),
}


@pytest.fixture
def head24():
    image, _, head = headWithLesion(size=24)
    return image, head


@pytest.mark.parametrize("method", METHODS)
def test_output_is_float32_on_the_input_grid_and_the_input_is_untouched(method, head24):
    image, head = head24
    before = sitk.GetArrayFromImage(image).copy()
    output = METHODS[method](image, head, backgroundValue=-3.0)
    assert output.GetPixelID() == sitk.sitkFloat32 and output.GetSize() == image.GetSize()
    assert output.GetSpacing() == image.GetSpacing() and output.GetOrigin() == image.GetOrigin()
    values, inside = arrays(output, head)
    assert np.all(values[~inside] == -3.0) and np.all(np.isfinite(values))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), before)


@pytest.mark.parametrize("method", METHODS)
def test_nan_or_inf_inside_the_mask_is_refused(method, head24):
    image, head = head24
    voxels, inside = arrays(image, head)
    for bad in (np.nan, np.inf):
        poisoned = voxels.astype(np.float32)
        poisoned[np.argwhere(inside)[0][0], np.argwhere(inside)[0][1], np.argwhere(inside)[0][2]] = bad
        hostile = sitk.GetImageFromArray(poisoned)
        hostile.CopyInformation(image)
        with pytest.raises(InputError, match="1 NaN or Inf voxels inside the mask"):
            METHODS[method](hostile, head)


@pytest.mark.parametrize("method", METHODS)
def test_nan_outside_the_mask_is_refused_only_when_every_voxel_is_mapped(method, head24):
    image, head = head24
    voxels = sitk.GetArrayFromImage(image).copy()
    voxels[0, 0, 0] = np.nan  # a corner: outside the head
    hostile = sitk.GetImageFromArray(voxels)
    hostile.CopyInformation(image)
    with pytest.raises(InputError, match="0 NaN or Inf voxels inside the mask and 1 outside"):
        METHODS[method](hostile, head, backgroundValue=None)
    output = sitk.GetArrayFromImage(METHODS[method](hostile, head, backgroundValue=0.0))
    assert np.all(np.isfinite(output)) and output[0, 0, 0] == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_empty_mask_is_refused(method, head24):
    image, head = head24
    with pytest.raises(InputError, match="mask is empty"):
        METHODS[method](image, head * 0)


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_mask_is_refused(method, head24):
    image, head = head24
    mask = sitk.Cast(head, sitk.sitkFloat32)
    voxels = sitk.GetArrayFromImage(mask)
    voxels[3, 4, 5] = np.nan
    hostile = sitk.GetImageFromArray(voxels)
    hostile.CopyInformation(image)
    with pytest.raises(InputError, match="mask has 1 NaN or Inf voxels"):
        METHODS[method](image, hostile)


@pytest.mark.parametrize("method", METHODS)
def test_constant_image_is_refused_without_dividing_by_zero(method, head24):
    image, head = head24
    constant = sitk.Image(image.GetSize(), sitk.sitkFloat32) + 42.0
    constant.CopyInformation(image)
    with np.errstate(all="raise"), pytest.raises(InputError, match="constant"):
        METHODS[method](constant, head)


@pytest.mark.parametrize("method", METHODS)
def test_mask_on_another_grid_is_refused(method, head24):
    image, head = head24
    shifted = sitk.Image(head)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="origin"):
        METHODS[method](image, shifted)
    with pytest.raises(GeometryError, match="size"):
        METHODS[method](image, sitk.Image(8, 8, 8, sitk.sitkUInt8) + 1)


def test_a_4d_or_vector_image_is_refused(head24):
    image, head = head24
    vector = sitk.Compose(image, image)
    with pytest.raises(GeometryError, match="components"):
        zScoreNormalize(vector, None)


@pytest.mark.parametrize(
    ("name", "normalize"), [("zscore", zScoreNormalize), ("whitestripe", lambda i, m: whiteStripeNormalize(i, m, "T1"))]
)
@pytest.mark.parametrize(("scale", "offset"), [(3.5, 1000.0), (0.01, -7.0)])
def test_zscore_and_whitestripe_are_invariant_to_positive_affine_intensity_changes(name, normalize, scale, offset):
    case, head = cohortCase(0)
    image = sitk.Cast(case.images["T1c"], sitk.sitkFloat64)
    reference = sitk.GetArrayFromImage(normalize(image, head))
    changed = sitk.GetArrayFromImage(normalize(image * scale + offset, head))
    np.testing.assert_allclose(changed, reference, rtol=0, atol=2e-3)


def test_zscore_known_answer():
    voxels = np.array([[[1.0, 2.0, 3.0, 4.0, 100.0]]])
    mask = sitk.GetImageFromArray(np.array([[[1, 1, 1, 1, 0]]], np.uint8))
    output = sitk.GetArrayFromImage(zScoreNormalize(sitk.GetImageFromArray(voxels), mask, backgroundValue=None))
    expected = (voxels - 2.5) / np.sqrt(1.25)
    np.testing.assert_allclose(output, expected, rtol=1e-6)


def test_whitestripe_finds_the_brightest_tissue_on_t1_and_the_largest_on_t2():
    """Three tissues: grey (600, 40%), white (900, 30%) and CSF (200, 30%) with noise SD 20. On T1 the
    stripe is around the last mode (white matter), on T2 the largest (grey here), on PD the first (CSF)."""
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(600, 20, 40000), rng.normal(900, 20, 30000), rng.normal(200, 20, 30000)])
    image = sitk.GetImageFromArray(values.reshape(10, 100, 100))
    white, grey = findWhiteStripe(values, "T1"), findWhiteStripe(values, "T2")
    assert abs(white.mode - 900) < 20 and abs(white.mean - 900) < 20 and 880 - 60 < white.lower < white.upper < 960
    assert abs(grey.mode - 600) < 10 and abs(grey.mean - 600) < 10
    assert findWhiteStripe(values, "PD").mode == pytest.approx(200, abs=10)
    t1 = sitk.GetArrayFromImage(whiteStripeNormalize(image, None, "T1", backgroundValue=None)).ravel()
    np.testing.assert_allclose(t1, (values - white.mean) / white.standardDeviation, rtol=1e-5, atol=1e-4)
    with pytest.raises(InputError, match="contrast is 'T3'"):
        whiteStripeNormalize(image, None, "T3")
    for width in (0.0, 0.6, -1, "wide"):
        with pytest.raises(InputError, match="width"):
            whiteStripeNormalize(image, None, "T1", width=width)


def test_percentile_rescale_known_answer_and_options():
    voxels = np.arange(101, dtype=np.float64).reshape(1, 1, 101)
    image = sitk.GetImageFromArray(voxels)
    clipped = sitk.GetArrayFromImage(percentileRescale(image, None, 10, 90, (0, 1))).ravel()
    np.testing.assert_allclose(clipped, np.clip((np.arange(101) - 10) / 80, 0, 1), atol=1e-6)
    unclipped = sitk.GetArrayFromImage(percentileRescale(image, None, 10, 90, (-1, 1), clip=False)).ravel()
    np.testing.assert_allclose(unclipped, -1 + (np.arange(101) - 10) / 40, atol=1e-5)
    for low, high in ((50, 50), (-1, 99), (1, 101), (90, 10)):
        with pytest.raises(InputError, match="percentiles"):
            percentileRescale(image, None, low, high)
    with pytest.raises(InputError, match="output range"):
        percentileRescale(image, None, outputRange=(1, 0))
    mostlyZero = sitk.GetImageFromArray(np.r_[np.zeros(98), 1.0, 2.0].reshape(1, 1, 100))
    with pytest.raises(InputError, match="both 0"):
        percentileRescale(mostlyZero, None, 1, 90)


def test_histogram_equalization_flattens_the_histogram():
    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.exponential(100.0, (20, 50, 50)))
    output = sitk.GetArrayFromImage(histogramEqualization(image, None, bins=1024)).ravel()
    counts, _ = np.histogram(output, bins=10, range=(0, 1))
    assert counts.min() > 0.8 * counts.mean()
    with pytest.raises(InputError, match="bins"):
        histogramEqualization(image, None, bins=1)


def test_clahe_options_are_checked(head24):
    image, head = head24
    for clipLimit in (0, -0.1, 2.0, np.nan):
        with pytest.raises(InputError, match="clipLimit"):
            clahe(image, head, clipLimit=clipLimit)
    for size in (0, -5, np.inf):
        with pytest.raises(InputError, match="kernelSizeMm"):
            clahe(image, head, kernelSizeMm=size)
    output = sitk.GetArrayFromImage(clahe(image, head, kernelSizeMm=12.0))
    assert 0.0 <= output.min() and output.max() <= 1.0


def test_histogram_matching_recovers_an_affine_change():
    """Matching an image to a scaled and shifted copy of itself gives that copy back (up to histogram binning)."""
    case, head = cohortCase(1)
    image = sitk.Cast(case.images["T2"], sitk.sitkFloat64)
    target = image * 1.7 + 250.0
    matched, inside = arrays(histogramMatching(image, head, target, head, histogramLevels=4096, matchPoints=15), head)
    expected = arrays(target)[0]
    spread = expected[inside].std()
    assert np.abs(matched[inside] - expected[inside]).max() < 0.02 * spread
    with pytest.raises(InputError, match="matchPoints"):
        histogramMatching(image, head, target, matchPoints=0)
    with pytest.raises(InputError, match="reference"):
        histogramMatching(image, head, target, head * 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32, np.uint8])
def test_zscore_is_precise_for_every_voxel_type_even_with_a_large_offset(dtype):
    """Mean and SD equal numpy's float64 ones (SD relative 1e-6), including a tiny spread on a large offset."""
    rng = np.random.default_rng(3)
    offset, spread = {
        np.float32: (1e4, 0.5),
        np.float64: (1e6, 0.01),
        np.int16: (-2000, 300),
        np.int32: (1e8, 1000),
        np.uint8: (100, 20),
    }[dtype]
    voxels = (offset + spread * rng.standard_normal((16, 16, 16))).astype(dtype)
    output = sitk.GetArrayFromImage(zScoreNormalize(sitk.GetImageFromArray(voxels), None)).astype(np.float64)
    exact = voxels.astype(np.float64)
    np.testing.assert_allclose(output, (exact - exact.mean()) / exact.std(), rtol=0, atol=2e-3)
