"""N4 bias-field correction: recovers a known smooth bias, equals SimpleITK's filter run directly, refuses bad input."""

import numpy as np
import pytest
import SimpleITK as sitk
from harmonizePhantoms import smoothBias, twoContrastHead

from VirtualBiopsy.errors import CancelledError, GeometryError, InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField, fittingMask
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.progress import CancelToken

SETTINGS = {"shrinkFactor": 2, "iterations": (20, 20, 20), "convergenceThreshold": 1e-6}


@pytest.fixture(scope="module")
def biased():
    clean, _, _ = twoContrastHead(size=40, spacing=3.0)
    field = smoothBias(clean, strength=0.5)
    return clean, field, clean * field


def _cv(image, mask):
    values = sitk.GetArrayFromImage(image)[sitk.GetArrayFromImage(mask) > 0]
    return float(values.std() / values.mean())


def _brain(clean):
    """The brain tissue (one intensity class) of the phantom, eroded away from its edges."""
    voxels = sitk.GetArrayFromImage(clean)
    brain = sitk.GetImageFromArray((np.abs(voxels - 500) < 40).astype(np.uint8))
    brain.CopyInformation(clean)
    return sitk.BinaryErode(brain, [1, 1, 1])


@pytest.mark.slow
def test_n4_recovers_a_known_smooth_bias_and_equals_simpleitk(biased):
    clean, field, image = biased
    progress = []
    corrected, estimated = correctBiasField(image, progress=lambda f, m: progress.append(f), **SETTINGS)
    brain = _brain(clean)
    # one tissue class: its coefficient of variation drops from the bias's spread to near the noise's
    assert _cv(clean, brain) < 0.05
    assert _cv(image, brain) > 2.5 * _cv(corrected, brain)
    # the estimated field is the true one up to a constant factor (N4 fixes no global scale)
    inside = sitk.GetArrayFromImage(foregroundMask(image)) > 0
    ratio = sitk.GetArrayFromImage(estimated)[inside] / sitk.GetArrayFromImage(field)[inside]
    assert ratio.std() / ratio.mean() < 0.05
    # image = corrected × bias
    np.testing.assert_allclose(
        sitk.GetArrayFromImage(corrected * estimated), sitk.GetArrayFromImage(image), rtol=1e-4, atol=1e-3
    )
    assert progress[-1] == 1.0 and progress == sorted(progress)

    # SimpleITK's own recipe, step by step, with the same settings and mask
    mask = fittingMask(sitk.Cast(image, sitk.sitkFloat32), foregroundMask(image))
    filter_ = sitk.N4BiasFieldCorrectionImageFilter()
    filter_.SetMaximumNumberOfIterations([20, 20, 20])
    filter_.SetConvergenceThreshold(1e-6)
    filter_.Execute(sitk.Shrink(image, [2] * 3), sitk.Shrink(mask, [2] * 3))
    reference = image / sitk.Exp(filter_.GetLogBiasFieldAsImage(image))
    np.testing.assert_allclose(
        sitk.GetArrayFromImage(corrected), sitk.GetArrayFromImage(reference), rtol=1e-6, atol=1e-4
    )
    assert corrected.GetSize() == image.GetSize() and corrected.GetOrigin() == image.GetOrigin()


@pytest.mark.slow
def test_n4_uses_the_given_mask_and_keeps_the_input(biased):
    clean, _, image = biased
    before = sitk.GetArrayFromImage(image)
    brain = _brain(clean)
    withBrain, _ = correctBiasField(image, brain, **SETTINGS)
    withHead, _ = correctBiasField(image, None, **SETTINGS)
    assert not np.allclose(sitk.GetArrayFromImage(withBrain), sitk.GetArrayFromImage(withHead))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), before)


def test_n4_cancel_discards_the_result(biased):
    _, _, image = biased
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        correctBiasField(image, shrinkFactor=4, iterations=(2,), cancel=token)


def test_n4_bad_input(biased):
    _, _, image = biased
    nan = sitk.GetArrayFromImage(image)
    nan[5, 5, 5] = np.nan
    nanImage = sitk.GetImageFromArray(nan)
    with pytest.raises(InputError, match="1 NaN or infinite"):
        correctBiasField(nanImage)
    inf = sitk.GetArrayFromImage(image)
    inf[0, 0, 0] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        correctBiasField(sitk.GetImageFromArray(inf))
    with pytest.raises(InputError, match="constant"):
        correctBiasField(sitk.Image(16, 16, 16, sitk.sitkFloat32) + 5.0)
    other = sitk.Image(image.GetSize(), sitk.sitkUInt8) + 1
    other.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="spacing"):
        correctBiasField(image, other)
    with pytest.raises(GeometryError, match="size"):
        correctBiasField(image, sitk.Image(8, 8, 8, sitk.sitkUInt8) + 1)
    with pytest.raises(GeometryError, match="4D"):
        correctBiasField(sitk.JoinSeries([image, image]))
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    with pytest.raises(InputError, match="empty"):
        correctBiasField(image, empty)
    with pytest.raises(InputError, match="shrinkFactor"):
        correctBiasField(image, shrinkFactor=0)
    with pytest.raises(InputError, match="iterations"):
        correctBiasField(image, iterations=())
    with pytest.raises(InputError, match="iterations"):
        correctBiasField(image, iterations=(10, -1))
    with pytest.raises(InputError, match="convergenceThreshold"):
        correctBiasField(image, convergenceThreshold=float("nan"))
    negative = image * -1.0  # no positive voxel to fit on
    with pytest.raises(InputError, match="voxels after shrinking"):
        correctBiasField(negative, sitk.Cast(sitk.Abs(negative) > 0, sitk.sitkUInt8))
