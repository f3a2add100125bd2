"""The CycleGAN's 2D networks (Zhu et al. 2017, appendix 7.2), in plain torch.

- :class:`ResnetGenerator`: c7s1-k, d2k, d4k, n × R4k, u2k, uk, c7s1-1 with tanh; instance norm,
  reflection padding. Its two stride-2 layers make it take sizes that are multiples of 4.
- :class:`PatchDiscriminator`: C64-C128-C256-C512 then a 1-channel convolution (4×4 kernels, the first
  three of stride 2, LeakyReLU 0.2, no norm on the first); with three stride-2 layers each output
  value sees a 70×70 patch of the input.

This module imports torch: import it only where networks are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from VirtualBiopsy.errors import requirePackage
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig

torch = requirePackage("torch")
if TYPE_CHECKING:
    from torch import nn
else:
    nn = torch.nn

#: The generator's input size must be a multiple of this (two stride-2 down-samplings).
SIZE_MULTIPLE = 4


def _norm(channels: int):
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """R-k: two 3×3 convolutions with reflection padding and instance norm, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
        )

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image-to-image generator: one channel in, one channel out in [-1, 1], same size as the input.

    :param filters: k of the first layer (64 in the paper).
    :param residualBlocks: n (9 in the paper for 256×256 images).
    """

    def __init__(self, filters: int = 64, residualBlocks: int = 9, inChannels: int = 1, outChannels: int = 1) -> None:
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(inChannels, filters, 7), _norm(filters), nn.ReLU(inplace=True)]
        channels = filters
        for _ in range(2):
            layers += [
                nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
                _norm(2 * channels),
                nn.ReLU(inplace=True),
            ]
            channels *= 2
        layers += [ResidualBlock(channels) for _ in range(residualBlocks)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, outChannels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake score per overlapping patch (70×70 with ``layers=3``), no sigmoid (LSGAN).

    :param filters: filters of the first layer (64 in the paper), doubled per layer up to 8×.
    :param layers: stride-2 layers after the first.
    """

    def __init__(self, filters: int = 64, layers: int = 3, inChannels: int = 1) -> None:
        super().__init__()
        blocks = [nn.Conv2d(inChannels, filters, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        channels = filters
        for index in range(1, layers + 1):
            out = filters * min(2**index, 8)
            stride = 2 if index < layers else 1
            blocks += [
                nn.Conv2d(channels, out, 4, stride=stride, padding=1),
                _norm(out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            channels = out
        blocks.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*blocks)

    def forward(self, x):
        return self.model(x)


def patchReceptiveField(layers: int = 3) -> int:
    """Side, in pixels, of the input patch one output value of :class:`PatchDiscriminator` sees."""
    field, jump = 1, 1
    strides = [2] * layers + [1, 1]  # the first and ``layers - 1`` further stride-2 layers, then two stride-1
    for stride in strides:
        field += 3 * jump  # kernel 4
        jump *= stride
    return field


def patchOutputSize(size: int, layers: int = 3) -> int:
    """Side of the discriminator's output for an input of side ``size``."""
    for _ in range(layers):
        size = (size + 2 - 4) // 2 + 1
    for _ in range(2):
        size = size + 2 - 4 + 1
    return size


def buildGenerator(config: CycleGanConfig) -> ResnetGenerator:
    """A generator as ``config`` describes it."""
    return ResnetGenerator(config.generatorFilters, config.residualBlocks)


def buildDiscriminator(config: CycleGanConfig) -> PatchDiscriminator:
    """A discriminator as ``config`` describes it."""
    return PatchDiscriminator(config.discriminatorFilters, config.discriminatorLayers)


def initializeWeights(module, generator) -> None:
    """Normal(0, 0.02) weights and zero biases for convolutions, as in the paper's code (seeded by ``generator``)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            with torch.no_grad():
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * 0.02)
                if layer.bias is not None:
                    layer.bias.zero_()
