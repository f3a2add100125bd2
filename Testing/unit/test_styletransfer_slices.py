"""Style-transfer data: robust intensity scaling to [-1, 1] and back, seeded slice sampling, hostile volumes."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
from VirtualBiopsy.harmonize.styleTransfer.slices import (
    IntensityRange,
    SliceSampler,
    domainRange,
    fromUnitRange,
    paddedSize,
    requireFiniteVolume,
    robustRange,
    scaleVolume,
    toUnitRange,
)


def headImage(size: int = 24, seed: int = 0) -> sitk.Image:
    """A noisy ball (the head, intensities around 100–300) in a dark, noisy background."""
    rng = np.random.default_rng(seed)
    k, j, i = np.mgrid[:size, :size, :size] - (size - 1) / 2
    inside = k**2 + j**2 + i**2 < (0.4 * size) ** 2
    voxels = np.where(inside, 200 + 50 * np.sin(i / 2.0), 2.0) + rng.normal(0, 1.0, inside.shape)
    image = sitk.GetImageFromArray(voxels.astype(np.float32))
    image.SetSpacing((1.0, 1.5, 2.0))
    return image


def test_robust_range_equals_numpy_percentiles_inside_the_mask():
    rng = np.random.default_rng(1)
    voxels = rng.gamma(2.0, 50.0, size=(5, 6, 7)).astype(np.float32)
    mask = rng.random(voxels.shape) > 0.3
    found = robustRange(voxels, mask, 0.5, 99.5)
    assert (found.lower, found.upper) == tuple(np.percentile(voxels[mask], [0.5, 99.5]))


def test_unit_range_round_trip_and_clipping():
    intensityRange = IntensityRange(100.0, 300.0)
    values = np.array([100.0, 200.0, 300.0, 50.0, 400.0], dtype=np.float32)
    scaled = toUnitRange(values, intensityRange)
    np.testing.assert_array_equal(scaled, [-1.0, 0.0, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(fromUnitRange(scaled[:3], intensityRange), values[:3], rtol=1e-6)


def test_scaled_volume_is_minus_one_outside_the_head_and_spans_the_unit_range_inside():
    scaled = scaleVolume(headImage(), 0.5, 99.5)
    assert scaled.voxels.dtype == np.float32 and scaled.voxels.shape == (24, 24, 24)
    assert np.all(scaled.voxels[~scaled.mask] == -1.0)
    inside = scaled.voxels[scaled.mask]
    assert inside.min() == -1.0 and inside.max() == 1.0
    assert 0.003 < np.mean(inside == 1.0) < 0.01  # the 0.5% above the upper percentile are clipped


def test_domain_range_is_the_median_of_the_volumes():
    volumes = [scaleVolume(headImage(seed=seed) * factor, 1.0, 99.0) for seed, factor in ((0, 1.0), (1, 2.0), (2, 4.0))]
    middle = domainRange(volumes)
    assert middle == IntensityRange(volumes[1].intensityRange.lower, volumes[1].intensityRange.upper)


def test_sampler_is_seeded_shaped_and_draws_head_slices_only():
    scaled = scaleVolume(headImage(size=40), 0.5, 99.5)
    first = SliceSampler([scaled], 32, 0.3, np.random.default_rng(7)).batch(6)
    again = SliceSampler([scaled], 32, 0.3, np.random.default_rng(7)).batch(6)
    other = SliceSampler([scaled], 32, 0.3, np.random.default_rng(8)).batch(6)
    assert first.shape == (6, 1, 32, 32) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    sampler = SliceSampler([scaled], 32, 0.3, np.random.default_rng(0))
    fractions = scaled.mask.mean(axis=(1, 2))
    assert all(fractions[k] >= 0.3 for _, k in sampler.candidates)
    assert len(sampler.candidates) == int(np.count_nonzero(fractions >= 0.3))


def test_sampler_pads_small_slices_with_background():
    scaled = scaleVolume(headImage(size=24), 0.5, 99.5)
    batch = SliceSampler([scaled], 32, 0.2, np.random.default_rng(0)).batch(3)
    assert np.all(batch[:, :, :4, :] == -1.0) and np.all(batch[:, :, -4:, :] == -1.0)
    assert np.any(batch[:, :, 4:28, 4:28] > -1.0)


def test_padded_size():
    assert [paddedSize(n, 4) for n in (1, 4, 5, 30, 32)] == [4, 4, 8, 32, 32]


def test_nan_and_infinite_voxels_are_refused_with_their_count():
    voxels = sitk.GetArrayFromImage(headImage())
    voxels[0, 0, :3] = np.nan
    voxels[1, 1, 1] = np.inf
    with pytest.raises(InputError, match="4 NaN or infinite"):
        requireFiniteVolume(sitk.GetImageFromArray(voxels), "image")


def test_vector_and_4d_images_are_refused():
    with pytest.raises(GeometryError, match="components"):
        scaleVolume(sitk.Image([8, 8, 8], sitk.sitkVectorFloat32, 2), 0.5, 99.5)
    with pytest.raises(GeometryError, match="4D"):
        scaleVolume(sitk.Image([8, 8, 8, 2], sitk.sitkFloat32), 0.5, 99.5)


def test_constant_head_and_headless_domain_are_refused():
    with pytest.raises(InputError, match="constant"):
        robustRange(np.full((4, 4, 4), 7.0), np.ones((4, 4, 4), bool), 0.5, 99.5)
    with pytest.raises(InputError, match="no head"):
        robustRange(np.zeros((4, 4, 4)), np.zeros((4, 4, 4), bool), 0.5, 99.5)
    scaled = scaleVolume(headImage(), 0.5, 99.5)
    with pytest.raises(InputError, match="No slice"):
        SliceSampler([scaled], 32, 1.0, np.random.default_rng(0))


def test_config_presets_and_bad_settings():
    small, full = CycleGanConfig.preset("small"), CycleGanConfig.preset("full")
    assert (small.generatorFilters, small.residualBlocks, small.sliceSize) == (16, 3, 64)
    assert (full.generatorFilters, full.residualBlocks, full.sliceSize, full.batchSize) == (64, 9, 256, 1)
    assert CycleGanConfig.fromDict(full.toDict()) == full
    with pytest.raises(InputError, match="not known"):
        CycleGanConfig.preset("huge")
    with pytest.raises(InputError, match="multiple of 4"):
        CycleGanConfig.fromDict({"sliceSize": 30})
    with pytest.raises(InputError, match="lowerPercentile"):
        CycleGanConfig.fromDict({"lowerPercentile": 50.0, "upperPercentile": 50.0})
    with pytest.raises(InputError, match="Did you mean 'sliceSize'"):
        CycleGanConfig.fromDict({"slicesize": 64})
