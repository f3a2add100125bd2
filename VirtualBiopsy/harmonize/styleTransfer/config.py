"""Settings of a CycleGAN for MR style transfer: networks, slice size and training."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireRange

#: Names of the shipped configurations (:meth:`CycleGanConfig.preset`).
PRESETS = ("small", "full")


@dataclass
class CycleGanConfig(StageConfig):
    """A 2D CycleGAN (Zhu et al. 2017): ResNet generators, PatchGAN discriminators, LSGAN losses.

    The defaults are the small CPU configuration; :meth:`preset` gives ``"full"``, the paper's
    (64 filters, 9 residual blocks, 256×256 slices, batches of one).

    :ivar generatorFilters: filters of the generator's first layer (k of c7s1-k).
    :ivar residualBlocks: residual blocks at the generator's bottleneck.
    :ivar discriminatorFilters: filters of the discriminator's first layer.
    :ivar discriminatorLayers: stride-2 layers of the PatchGAN (3 gives 70×70 patches).
    :ivar sliceSize: side of the square training crops, in voxels (a multiple of 4).
    :ivar batchSize: slices per domain and training step.
    :ivar learningRate: Adam's learning rate, constant then decayed linearly to zero.
    :ivar beta1: Adam's first-moment decay.
    :ivar cycleWeight: weight λ of the cycle-consistency (L1) losses.
    :ivar identityWeight: weight of the identity losses, as a fraction of ``cycleWeight``.
    :ivar poolSize: generated images kept to update the discriminators (0: none).
    :ivar decayFraction: fraction of the epochs, at the end, over which the learning rate decays.
    :ivar lowerPercentile: foreground percentile mapped to -1.
    :ivar upperPercentile: foreground percentile mapped to +1.
    :ivar minimumForeground: fraction of a slice that must be head for it to be sampled.
    """

    generatorFilters: int = 16
    residualBlocks: int = 3
    discriminatorFilters: int = 16
    discriminatorLayers: int = 3
    sliceSize: int = 64
    batchSize: int = 4
    learningRate: float = 2e-4
    beta1: float = 0.5
    cycleWeight: float = 10.0
    identityWeight: float = 0.5
    poolSize: int = 50
    decayFraction: float = 0.5
    lowerPercentile: float = 0.5
    upperPercentile: float = 99.5
    minimumForeground: float = 0.1

    @classmethod
    def preset(cls, name: str) -> "CycleGanConfig":
        """``"small"`` (CPU: 16 filters, 3 blocks, 64×64) or ``"full"`` (GPU: 64 filters, 9 blocks, 256×256).

        :raises InputError: for another name.
        """
        if name == "full":
            return cls.fromDict(
                {
                    "generatorFilters": 64,
                    "residualBlocks": 9,
                    "discriminatorFilters": 64,
                    "sliceSize": 256,
                    "batchSize": 1,
                }
            )
        if name != "small":
            raise InputError(f"CycleGAN configuration '{name}' is not known; choose one of: {', '.join(PRESETS)}.")
        return cls()

    def validate(self) -> None:
        """Check every setting's range."""
        for name in ("generatorFilters", "discriminatorFilters", "batchSize"):
            requireRange(self, name, 1, 1024)
        requireRange(self, "residualBlocks", 0, 64)
        requireRange(self, "discriminatorLayers", 1, 6)
        requireRange(self, "sliceSize", 16, 1024)
        if self.sliceSize % 4:
            raise InputError(
                f"CycleGanConfig.sliceSize is {self.sliceSize}; it must be a multiple of 4 "
                f"(e.g. {4 * round(self.sliceSize / 4) or 16}), the generator's two down-samplings."
            )
        requireRange(self, "learningRate", 1e-8, 1.0)
        requireRange(self, "beta1", 0.0, 0.999)
        requireRange(self, "cycleWeight", 0.0, 1000.0)
        requireRange(self, "identityWeight", 0.0, 10.0)
        requireRange(self, "poolSize", 0, 10000)
        requireRange(self, "decayFraction", 0.0, 1.0)
        requireRange(self, "lowerPercentile", 0.0, 50.0)
        requireRange(self, "upperPercentile", 50.0, 100.0)
        requireRange(self, "minimumForeground", 0.0, 1.0)
        if self.lowerPercentile >= self.upperPercentile:
            raise InputError(
                f"CycleGanConfig.lowerPercentile ({self.lowerPercentile}) must be below "
                f"upperPercentile ({self.upperPercentile})."
            )
