"""CycleGAN networks: output shapes, the PatchGAN's 70×70 receptive field (measured with autograd), parameter
counts of the reference implementation, the image pool and the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.cycleGan import linearDecayFactor  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.imagePool import ImagePool  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.networks import (  # noqa: E402
    PatchDiscriminator,
    ResnetGenerator,
    buildDiscriminator,
    buildGenerator,
    patchOutputSize,
    patchReceptiveField,
)


@pytest.mark.parametrize("shape", [(2, 1, 64, 64), (1, 1, 36, 44)])
def test_generator_keeps_the_size_and_stays_in_the_unit_range(shape):
    generator = buildGenerator(CycleGanConfig())
    with torch.no_grad():
        output = generator(torch.randn(shape) * 3)
    assert output.shape == shape
    assert output.abs().max() <= 1.0


@pytest.mark.parametrize("size,expected", [(256, 30), (64, 6), (70, 6), (100, 10)])
def test_discriminator_output_size(size, expected):
    discriminator = buildDiscriminator(CycleGanConfig())
    with torch.no_grad():
        output = discriminator(torch.zeros(1, 1, size, size))
    assert output.shape == (1, 1, expected, expected) and patchOutputSize(size) == expected


@pytest.mark.parametrize("layers,field", [(1, 16), (2, 34), (3, 70)])
def test_patch_receptive_field_measured_by_autograd(layers, field):
    """The input pixels that one output value depends on form a field × field square (pix2pix's 16, 34, 70);
    instance norms, which couple every pixel, are removed for the measurement."""
    discriminator = PatchDiscriminator(filters=4, layers=layers)
    for index, layer in enumerate(discriminator.model):
        if isinstance(layer, torch.nn.InstanceNorm2d):
            discriminator.model[index] = torch.nn.Identity()
    image = torch.randn(1, 1, 160, 160, requires_grad=True)
    output = discriminator(image)
    centre = output.shape[-1] // 2
    output[0, 0, centre, centre].backward()
    rows, columns = np.nonzero(image.grad[0, 0].numpy())
    assert rows.max() - rows.min() + 1 == field and columns.max() - columns.min() + 1 == field
    assert patchReceptiveField(layers) == field


def test_parameter_counts_match_the_reference_cyclegan():
    """pytorch-CycleGAN-and-pix2pix prints 11.378 M parameters for resnet_9blocks and 2.765 M for the basic
    PatchGAN (64 filters, RGB)."""
    generator = ResnetGenerator(64, 9, inChannels=3, outChannels=3)
    discriminator = PatchDiscriminator(64, 3, inChannels=3)
    assert round(sum(p.numel() for p in generator.parameters()) / 1e6, 3) == 11.378
    assert round(sum(p.numel() for p in discriminator.parameters()) / 1e6, 3) == 2.765
    blocks = [m for m in generator.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 9


def test_image_pool_returns_inputs_until_full_then_mixes_history():
    pool = ImagePool(3, np.random.default_rng(0))
    first = torch.arange(3.0).reshape(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)
    mixed = torch.cat([pool.query(torch.full((1, 1, 1, 1), 10.0 + n)) for n in range(40)])
    values = set(mixed.flatten().tolist())
    assert values & {0.0, 1.0, 2.0} and values & {10.0 + n for n in range(40)}
    assert len(pool.images) == 3
    assert torch.equal(ImagePool(0, np.random.default_rng(0)).query(first), first)


def test_linear_decay_schedule():
    factors = [linearDecayFactor(epoch, 10, 0.5) for epoch in range(10)]
    np.testing.assert_allclose(factors, [1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert [linearDecayFactor(epoch, 4, 0.0) for epoch in range(4)] == [1, 1, 1, 1]
