"""Resampling presets: documented grids (same extent, same centre, direction kept), equal to sitk.Resample, clamping."""

import math

import numpy as np
import pytest
import SimpleITK as sitk
from harmonizePhantoms import twoContrastHead

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.resampling import (
    INTERPOLATORS,
    RESAMPLING_PRESETS,
    presetGrid,
    resampleImage,
)


@pytest.fixture(scope="module")
def anisotropic():
    """An oblique phantom with 0.9 × 1.1 × 4.0 mm voxels (thick slices along k)."""
    image, _, _ = twoContrastHead(size=24, spacing=4.0, oblique=True)
    image = sitk.Cast(image * 3.0, sitk.sitkInt16)
    image.SetSpacing((0.9, 1.1, 4.0))
    return image


def _centre(image):
    return np.array(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))


def _extent(image):
    return np.array(image.GetSize()) * np.array(image.GetSpacing())


def test_isotropic_grid_keeps_extent_centre_and_direction(anisotropic):
    out = resampleImage(anisotropic, "isotropic", 2.0, "linear")
    assert out.GetSpacing() == (2.0, 2.0, 2.0)
    # ceil(24 × 0.9 / 2) = 11, ceil(24 × 1.1 / 2) = 14, ceil(24 × 4 / 2) = 48
    assert out.GetSize() == (11, 14, 48)
    np.testing.assert_allclose(_centre(out), _centre(anisotropic), atol=1e-9)
    assert out.GetDirection() == anisotropic.GetDirection()
    assert np.all(_extent(out) >= _extent(anisotropic) - 1e-9) and np.all(_extent(out) - _extent(anisotropic) < 2.0)
    assert out.GetPixelID() == sitk.sitkFloat32


def test_exact_multiples_are_not_rounded_up():
    image = sitk.Image(64, 64, 64, sitk.sitkFloat32) + 1.0
    image[0, 0, 0] = 2.0
    image.SetSpacing((3.75, 3.75, 3.75))
    assert presetGrid(image, "isotropic", 1.0).GetSize() == (240, 240, 240)
    image.SetSpacing((0.7, 0.7, 0.7))
    assert presetGrid(image, "isotropic", 0.7 / 3).GetSize() == (192, 192, 192)


def test_in_plane_keeps_the_slice_axis(anisotropic):
    out = resampleImage(anisotropic, "inPlane", 0.5, "nearest")
    assert out.GetSpacing() == (0.5, 0.5, 4.0)
    assert out.GetSize() == (math.ceil(24 * 0.9 / 0.5), math.ceil(24 * 1.1 / 0.5), 24)
    np.testing.assert_allclose(_centre(out), _centre(anisotropic), atol=1e-9)
    assert out.GetPixelID() == anisotropic.GetPixelID()  # nearest keeps the type
    # the slice axis is the one with the largest spacing, wherever it is
    permuted = sitk.PermuteAxes(anisotropic, [2, 0, 1])
    assert presetGrid(permuted, "inPlane", 0.5).GetSpacing() == (4.0, 0.5, 0.5)


@pytest.mark.parametrize("preset", ["isotropic", "inPlane"])
@pytest.mark.parametrize("interpolator", list(INTERPOLATORS))
def test_presets_equal_sitk_resample_on_the_documented_grid(anisotropic, preset, interpolator):
    out = resampleImage(anisotropic, preset, 1.5, interpolator)
    size = np.array(anisotropic.GetSize())
    spacing = np.array(anisotropic.GetSpacing())
    newSpacing = np.array([1.5, 1.5, 1.5 if preset == "isotropic" else 4.0])
    newSize = np.ceil(size * spacing / newSpacing - 1e-9).astype(int)
    direction = np.array(anisotropic.GetDirection()).reshape(3, 3)
    origin = _centre(anisotropic) - direction @ (newSpacing * (newSize - 1) / 2)
    kind = INTERPOLATORS[interpolator]
    source = anisotropic if interpolator == "nearest" else sitk.Cast(anisotropic, sitk.sitkFloat32)
    direct = sitk.Resample(
        source,
        [int(n) for n in newSize],
        sitk.Transform(),
        kind,
        tuple(origin),
        tuple(newSpacing),
        anisotropic.GetDirection(),
        0.0,
        source.GetPixelID(),
    )
    if interpolator in ("bspline", "lanczos"):
        values = sitk.GetArrayFromImage(anisotropic)
        expected = np.clip(sitk.GetArrayFromImage(direct), values.min(), values.max())
    else:
        expected = sitk.GetArrayFromImage(direct)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), expected)
    np.testing.assert_allclose(out.GetOrigin(), origin, atol=1e-9)


def test_bspline_is_clamped_to_the_input_range(anisotropic):
    out = sitk.GetArrayFromImage(resampleImage(anisotropic, "isotropic", 0.7, "bspline"))
    unclamped = sitk.GetArrayFromImage(
        sitk.Resample(
            sitk.Cast(anisotropic, sitk.sitkFloat32),
            presetGrid(anisotropic, "isotropic", 0.7),
            sitk.Transform(),
            sitk.sitkBSpline,
            0.0,
            sitk.sitkFloat32,
        )
    )
    values = sitk.GetArrayFromImage(anisotropic)
    assert unclamped.min() < values.min() or unclamped.max() > values.max()  # B-spline overshoots here
    assert out.min() >= values.min() and out.max() <= values.max()
    assert out.min() >= 0  # no negative MR intensities


def test_reference_preset_lands_on_the_reference_grid(anisotropic):
    reference, _, _ = twoContrastHead(size=20, spacing=5.0)
    out = resampleImage(anisotropic, "reference", interpolator="linear", reference=reference)
    for getter in ("GetSize", "GetSpacing", "GetOrigin", "GetDirection"):
        assert getattr(out, getter)() == getattr(reference, getter)()
    direct = sitk.Resample(sitk.Cast(anisotropic, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, 0.0)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), sitk.GetArrayFromImage(direct))


def test_resampling_round_trip_of_a_smooth_image_is_close():
    image, _, _ = twoContrastHead(size=32, spacing=3.0)
    image = sitk.SmoothingRecursiveGaussian(image, 4.0)
    fine = resampleImage(image, "isotropic", 1.5, "bspline")
    back = resampleImage(fine, "reference", interpolator="bspline", reference=image)
    a, b = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(back)
    assert np.abs(a - b)[4:-4, 4:-4, 4:-4].max() < 0.01 * np.ptp(a)


def test_resampling_bad_input(anisotropic):
    assert "reference" in RESAMPLING_PRESETS
    with pytest.raises(InputError, match="Unknown resampling preset 'cubic'"):
        resampleImage(anisotropic, "cubic")
    with pytest.raises(InputError, match="Unknown interpolator 'spline'"):
        resampleImage(anisotropic, interpolator="spline")
    with pytest.raises(InputError, match="missing for preset 'reference'"):
        resampleImage(anisotropic, "reference")
    with pytest.raises(InputError, match="given for preset 'isotropic'"):
        resampleImage(anisotropic, "isotropic", reference=anisotropic)
    for bad in (0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(InputError, match="spacingMm"):
            resampleImage(anisotropic, "isotropic", bad)
    with pytest.raises(InputError, match="larger spacingMm"):
        resampleImage(anisotropic, "isotropic", 0.001)
    voxels = sitk.GetArrayFromImage(sitk.Cast(anisotropic, sitk.sitkFloat32))
    voxels[1, 2, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        resampleImage(sitk.GetImageFromArray(voxels))
    with pytest.raises(InputError, match="constant"):
        resampleImage(sitk.Image(5, 5, 5, sitk.sitkUInt8))
    with pytest.raises(GeometryError, match="4D"):
        resampleImage(sitk.JoinSeries([anisotropic, anisotropic]))
    with pytest.raises(GeometryError, match="reference image is 2D"):
        resampleImage(anisotropic, "reference", reference=anisotropic[:, :, 0])
