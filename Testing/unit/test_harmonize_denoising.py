"""Denoising: every method raises PSNR on a noisy phantom and equals SimpleITK run directly; bad input is refused."""

import numpy as np
import pytest
import SimpleITK as sitk
from harmonizePhantoms import twoContrastHead

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.denoising import (
    DENOISING_METHODS,
    denoiseImage,
    stableTimeStep,
)


@pytest.fixture(scope="module")
def phantom():
    """(clean, noisy): a two-tissue phantom (no noise) and the same with Gaussian noise of SD 40."""
    _, clean, _ = twoContrastHead(size=24, spacing=5.0, seed=1)
    clean = sitk.SmoothingRecursiveGaussian(clean, 2.0)
    rng = np.random.default_rng(7)
    noisy = sitk.GetImageFromArray(
        sitk.GetArrayFromImage(clean) + rng.normal(0, 40, clean.GetSize()[::-1]).astype(np.float32)
    )
    noisy.CopyInformation(clean)
    return clean, noisy


def _psnr(reference, image):
    a, b = sitk.GetArrayFromImage(reference), sitk.GetArrayFromImage(image)
    return 10 * np.log10(float(np.ptp(a)) ** 2 / float(np.mean((a - b) ** 2)))


FAST = {
    "nlm": (
        {"patchRadius": 1, "samplePatches": 50, "kernelBandwidthSigma": 150.0, "iterations": 2},
        lambda image: _nlm(image),
    ),
    "gradientAnisotropicDiffusion": (
        {"iterations": 5, "conductance": 2.0},
        lambda image: sitk.GradientAnisotropicDiffusion(image, 5.0 / 16, 2.0, 1, 5),
    ),
    "curvatureFlow": ({"iterations": 5}, lambda image: sitk.CurvatureFlow(image, 5.0 / 16, 5)),
    "bilateral": ({"domainSigma": 5.0, "rangeSigma": 150.0}, lambda image: sitk.Bilateral(image, 5.0, 150.0)),
}


def _nlm(image):
    denoiser = sitk.PatchBasedDenoisingImageFilter()
    denoiser.SetPatchRadius(1)
    denoiser.SetNumberOfSamplePatches(50)
    denoiser.SetKernelBandwidthSigma(150.0)
    denoiser.SetNumberOfIterations(2)
    return denoiser.Execute(image)


@pytest.mark.parametrize(
    "method", [pytest.param(m, marks=pytest.mark.slow) if m == "nlm" else m for m in DENOISING_METHODS]
)
def test_denoising_raises_psnr_and_equals_simpleitk(phantom, method):
    clean, noisy = phantom
    options, direct = FAST[method]
    before = sitk.GetArrayFromImage(noisy)
    denoised = denoiseImage(noisy, method, **options)
    assert _psnr(clean, denoised) > _psnr(clean, noisy) + 1.5  # dB (measured: +1.9 to +6.5)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(denoised), sitk.GetArrayFromImage(sitk.Cast(direct(noisy), sitk.sitkFloat32))
    )
    np.testing.assert_array_equal(sitk.GetArrayFromImage(noisy), before)
    assert denoised.GetPixelID() == sitk.sitkFloat32 and denoised.GetSpacing() == noisy.GetSpacing()


def test_stable_time_step_follows_the_spacing(phantom):
    _, noisy = phantom
    assert stableTimeStep(noisy) == pytest.approx(5.0 / 16)
    anisotropic = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    anisotropic.SetSpacing((0.5, 0.8, 3.0))
    assert stableTimeStep(anisotropic) == pytest.approx(0.5 / 16)
    # the stable default keeps an integer image's range; the smoothing never overshoots
    denoised = denoiseImage(noisy, "gradientAnisotropicDiffusion", iterations=10)
    values = sitk.GetArrayFromImage(denoised)
    assert values.min() >= sitk.GetArrayFromImage(noisy).min() - 1e-3
    assert values.max() <= sitk.GetArrayFromImage(noisy).max() + 1e-3


def test_denoising_bad_input(phantom):
    _, noisy = phantom
    with pytest.raises(InputError, match="Unknown denoising method 'median'"):
        denoiseImage(noisy, "median")
    with pytest.raises(InputError, match="no option 'radius'"):
        denoiseImage(noisy, "curvatureFlow", radius=2)
    with pytest.raises(InputError, match="stability limit 0.3125"):
        denoiseImage(noisy, "curvatureFlow", timeStep=0.5)
    with pytest.raises(InputError, match="noiseModel"):
        denoiseImage(noisy, "nlm", noiseModel="speckle")
    with pytest.raises(InputError, match="iterations"):
        denoiseImage(noisy, "gradientAnisotropicDiffusion", iterations=0)
    with pytest.raises(InputError, match="noiseModelFidelityWeight"):
        denoiseImage(noisy, "nlm", noiseModelFidelityWeight=2.0)
    voxels = sitk.GetArrayFromImage(noisy)
    voxels[3, 3, 3] = np.inf
    with pytest.raises(InputError, match="NaN or infinite"):
        denoiseImage(sitk.GetImageFromArray(voxels), "bilateral")
    with pytest.raises(InputError, match="constant"):
        denoiseImage(sitk.Image(8, 8, 8, sitk.sitkInt16), "curvatureFlow")
    with pytest.raises(GeometryError, match="4D"):
        denoiseImage(sitk.JoinSeries([noisy, noisy]), "curvatureFlow")
    with pytest.raises(GeometryError, match="2D"):
        denoiseImage(noisy[:, :, 3], "curvatureFlow")
