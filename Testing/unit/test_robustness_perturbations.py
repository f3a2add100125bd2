"""Image perturbations: determinism, geometry, noise level, volume adaptation and input checks."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.extract.robustness.perturbations import (
    PERTURBATIONS,
    PerturbationRanges,
    adaptVolume,
    estimateNoiseSigma,
    perturbCase,
)


def blob(size=32, spacing=(1.5, 1.5, 2.0), direction=None, shape="sphere", noise=0.0, seed=0):
    """A smooth Gaussian blob image and a sphere (or k-axis cylinder) mask around it."""
    k, j, i = np.mgrid[:size, :size, :size].astype(float)
    c = (size - 1) / 2
    image = 1000 * np.exp(-((i - c - 2) ** 2 + (j - c) ** 2 + (k - c + 1) ** 2) / (2 * 5.0**2))
    image += np.random.default_rng(seed).normal(0, noise, image.shape) if noise else 0
    if shape == "sphere":
        roi = (i - c - 2) ** 2 + (j - c) ** 2 + (k - c + 1) ** 2 <= 36
    else:
        roi = ((i - c) ** 2 + (j - c) ** 2 <= 49) & (abs(k - c) <= 8)
    imageItk, maskItk = sitk.GetImageFromArray(image.astype(np.float32)), sitk.GetImageFromArray(roi.astype(np.uint8))
    for item in (imageItk, maskItk):
        item.SetSpacing(spacing)
        item.SetOrigin((10.0, -20.0, 5.0))
        if direction is not None:
            item.SetDirection(direction)
    return imageItk, maskItk


def arrays(item):
    return sitk.GetArrayFromImage(item[0]), sitk.GetArrayFromImage(item[1])


def test_same_seed_same_copies_other_seed_other_copies():
    image, mask = blob(noise=3)
    first, again, other = (perturbCase(image, mask, seed, 3, PERTURBATIONS) for seed in (7, 7, 8))
    for a, b in zip(first, again):
        assert a[2] == b[2]
        assert all(np.array_equal(x, y) for x, y in zip(arrays(a), arrays(b)))
    assert first[0][2]["rotationDegrees"] != other[0][2]["rotationDegrees"]
    # Links shared by two chains get the same parameters.
    rotationOnly = perturbCase(image, mask, 7, 3, ("rotation",))
    assert [c[2]["rotationDegrees"] for c in rotationOnly] == [c[2]["rotationDegrees"] for c in first]


def test_empty_chain_returns_the_input():
    image, mask = blob()
    ((copyImage, copyMask, description),) = perturbCase(image, mask, 0, 1, ())
    assert np.array_equal(sitk.GetArrayFromImage(copyImage), sitk.GetArrayFromImage(image))
    assert np.array_equal(sitk.GetArrayFromImage(copyMask), sitk.GetArrayFromImage(mask))
    assert description["rotationDegrees"] == 0 and description["volumeFraction"] == 0


def test_translation_moves_the_content_by_minus_the_shift():
    image, mask = blob()
    ((copyImage, _, description),) = perturbCase(
        image, mask, 1, 1, ("translation",), PerturbationRanges(translationFraction=1.0)
    )

    def weightedCentroid(item):
        array = sitk.GetArrayFromImage(item).astype(float)
        statistics = [
            np.sum(array * grid) / array.sum()
            for grid in np.mgrid[: array.shape[0], : array.shape[1], : array.shape[2]]
        ]
        return np.array(item.TransformContinuousIndexToPhysicalPoint(statistics[::-1]))

    moved = weightedCentroid(copyImage) - weightedCentroid(image)
    assert moved == pytest.approx(-np.array(description["translationMm"]), abs=0.05)


@pytest.mark.parametrize("direction", [None, (0, 1, 0, 0, 0, 1, 1, 0, 0)])
def test_rotation_turns_about_the_slice_axis_through_the_roi_centre(direction):
    image, mask = blob(shape="cylinder", spacing=(1.0, 1.0, 1.0), direction=direction)
    ((_, rotated, description),) = perturbCase(image, mask, 2, 1, ("rotation",), PerturbationRanges(rotationDegrees=15))
    assert abs(description["rotationDegrees"]) > 1
    before, after = sitk.GetArrayFromImage(mask) > 0, sitk.GetArrayFromImage(rotated) > 0
    dice = 2 * np.sum(before & after) / (before.sum() + after.sum())
    assert dice > 0.97  # a cylinder along k is (nearly) unchanged by a turn about k through its axis


def test_resampling_scales_the_spacing_over_the_same_extent():
    image, mask = blob()
    ((copyImage, copyMask, description),) = perturbCase(image, mask, 3, 1, ("resampling",))
    factor = description["spacingFactor"]
    assert 0.8 <= factor <= 1.2
    assert copyImage.GetSpacing() == pytest.approx(np.array(image.GetSpacing()) * factor)
    assert copyMask.GetSize() == tuple(int(np.ceil(32 / factor)) for _ in range(3))

    def physicalVolume(m):
        return np.count_nonzero(sitk.GetArrayViewFromImage(m)) * np.prod(m.GetSpacing())

    assert physicalVolume(copyMask) == pytest.approx(physicalVolume(mask), rel=0.1)


def test_noise_estimate_and_added_noise_match_the_image_noise():
    image, mask = blob(noise=6.0, seed=4)
    assert estimateNoiseSigma(image) == pytest.approx(6.0, rel=0.06)
    ((noisy, _, description),) = perturbCase(image, mask, 5, 1, ("noise",), PerturbationRanges(noiseScale=2.0))
    assert description["noiseSigma"] == pytest.approx(2 * estimateNoiseSigma(image))
    added = sitk.GetArrayFromImage(noisy) - sitk.GetArrayFromImage(image)
    assert added.std() == pytest.approx(description["noiseSigma"], rel=0.02)
    assert abs(added.mean()) < 0.2


def test_volume_adaptation_hits_the_target_and_nests():
    _, mask = blob()
    original = sitk.GetArrayFromImage(mask) > 0
    grown, shrunk = (sitk.GetArrayFromImage(adaptVolume(mask, f)) > 0 for f in (0.2, -0.2))
    assert grown.sum() == round(1.2 * original.sum()) and shrunk.sum() == round(0.8 * original.sum())
    assert np.all(grown[original]) and np.all(original[shrunk])
    assert (sitk.GetArrayFromImage(adaptVolume(mask, -5.0)) > 0).sum() == 1


def test_bad_inputs_are_refused_with_the_fix():
    image, mask = blob()
    with pytest.raises(InputError, match="Unknown perturbation.*'blur'.*choose from"):
        perturbCase(image, mask, 0, 1, ("rotation", "blur"))
    with pytest.raises(InputError, match="count is 0"):
        perturbCase(image, mask, 0, 0)
    with pytest.raises(InputError, match="seed is -1"):
        perturbCase(image, mask, -1, 1)
    with pytest.raises(InputError, match=r"no voxel with label 3 \(labels present: \[0, 1\]\)"):
        perturbCase(image, mask, 0, 1, label=3)
    shifted = sitk.Image(mask)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="resample the mask"):
        perturbCase(image, shifted, 0, 1)
