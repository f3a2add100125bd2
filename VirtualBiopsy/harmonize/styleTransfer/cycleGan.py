"""One CycleGAN: two generators, two discriminators, their optimizers and one training step.

Losses (Zhu et al. 2017): least-squares adversarial losses (LSGAN), cycle consistency
``λ·(|F(G(a)) - a| + |G(F(b)) - b|)`` and identity ``λ·w·(|G(b) - b| + |F(a) - a|)`` (L1 means),
the discriminators' loss halved; Adam, and a learning rate constant then decayed linearly to zero.
This module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from VirtualBiopsy.errors import requirePackage
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
from VirtualBiopsy.harmonize.styleTransfer.imagePool import ImagePool
from VirtualBiopsy.harmonize.styleTransfer.networks import (
    buildDiscriminator,
    buildGenerator,
    initializeWeights,
)

torch = requirePackage("torch")

#: Loss names, in the order of :class:`StepLosses` and the losses CSV.
LOSS_NAMES = (
    "generatorAdversarial",
    "cycle",
    "identity",
    "generatorTotal",
    "discriminatorSource",
    "discriminatorTarget",
)


@dataclass
class StepLosses:
    """One step's losses. ``cycle`` and ``identity`` are the unweighted L1 means, summed over both directions."""

    generatorAdversarial: float
    cycle: float
    identity: float
    generatorTotal: float
    discriminatorSource: float
    discriminatorTarget: float

    def values(self) -> list[float]:
        return [getattr(self, name) for name in LOSS_NAMES]


def linearDecayFactor(epoch: int, epochs: int, decayFraction: float) -> float:
    """The learning rate's factor in ``epoch`` (0-based): 1 for the first epochs, then linearly down towards 0
    over the last ``round(decayFraction * epochs)`` epochs (the last epoch's factor is above 0)."""
    decay = int(round(decayFraction * epochs))
    constant = epochs - decay
    return 1.0 if epoch < constant else 1.0 - (epoch - constant + 1) / (decay + 1)


class CycleGan:
    """The networks and optimizers of one training run, on ``device``, seeded.

    ``generator`` maps source → target, ``reverseGenerator`` target → source.
    """

    def __init__(self, config: CycleGanConfig, device: str, seed: int, epochs: int) -> None:
        self.config = config
        self.device = torch.device(device)
        generator = torch.Generator().manual_seed(seed)
        self.generator = buildGenerator(config)
        self.reverseGenerator = buildGenerator(config)
        self.sourceDiscriminator = buildDiscriminator(config)
        self.targetDiscriminator = buildDiscriminator(config)
        for network in self.networks():
            initializeWeights(network, generator)
            network.to(self.device).train()
        betas = (config.beta1, 0.999)
        self.generatorOptimizer = torch.optim.Adam(
            [*self.generator.parameters(), *self.reverseGenerator.parameters()], lr=config.learningRate, betas=betas
        )
        self.discriminatorOptimizer = torch.optim.Adam(
            [*self.sourceDiscriminator.parameters(), *self.targetDiscriminator.parameters()],
            lr=config.learningRate,
            betas=betas,
        )
        self.schedulers = [
            torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda epoch: linearDecayFactor(epoch, epochs, config.decayFraction)
            )
            for optimizer in (self.generatorOptimizer, self.discriminatorOptimizer)
        ]
        rng = np.random.default_rng([seed, 1])
        self.sourcePool = ImagePool(config.poolSize, rng)
        self.targetPool = ImagePool(config.poolSize, rng)

    def networks(self) -> list:
        """The four networks."""
        return [self.generator, self.reverseGenerator, self.sourceDiscriminator, self.targetDiscriminator]

    @property
    def learningRate(self) -> float:
        return float(self.generatorOptimizer.param_groups[0]["lr"])

    def endEpoch(self) -> None:
        """Step the learning-rate schedules."""
        for scheduler in self.schedulers:
            scheduler.step()

    def step(self, source: np.ndarray, target: np.ndarray) -> StepLosses:
        """One update of the generators, then of the discriminators, on a batch of each domain."""
        config = self.config
        realSource = torch.from_numpy(source).to(self.device)
        realTarget = torch.from_numpy(target).to(self.device)
        l1, mse = torch.nn.functional.l1_loss, torch.nn.functional.mse_loss

        for network in (self.sourceDiscriminator, self.targetDiscriminator):
            network.requires_grad_(False)
        self.generatorOptimizer.zero_grad(set_to_none=True)
        identity = torch.zeros((), device=self.device)
        if config.identityWeight > 0:
            identity = l1(self.generator(realTarget), realTarget) + l1(self.reverseGenerator(realSource), realSource)
        fakeTarget = self.generator(realSource)
        fakeSource = self.reverseGenerator(realTarget)
        scoreTarget = self.targetDiscriminator(fakeTarget)
        scoreSource = self.sourceDiscriminator(fakeSource)
        adversarial = mse(scoreTarget, torch.ones_like(scoreTarget)) + mse(scoreSource, torch.ones_like(scoreSource))
        cycle = l1(self.reverseGenerator(fakeTarget), realSource) + l1(self.generator(fakeSource), realTarget)
        total = adversarial + config.cycleWeight * cycle + config.cycleWeight * config.identityWeight * identity
        total.backward()
        self.generatorOptimizer.step()

        for network in (self.sourceDiscriminator, self.targetDiscriminator):
            network.requires_grad_(True)
        self.discriminatorOptimizer.zero_grad(set_to_none=True)
        lossSource = self._discriminatorLoss(self.sourceDiscriminator, realSource, self.sourcePool.query(fakeSource))
        lossTarget = self._discriminatorLoss(self.targetDiscriminator, realTarget, self.targetPool.query(fakeTarget))
        (lossSource + lossTarget).backward()
        self.discriminatorOptimizer.step()
        return StepLosses(
            *(float(value.detach()) for value in (adversarial, cycle, identity, total, lossSource, lossTarget))
        )

    @staticmethod
    def _discriminatorLoss(discriminator, real, fake):
        mse = torch.nn.functional.mse_loss
        scoreReal = discriminator(real)
        scoreFake = discriminator(fake.detach())
        return 0.5 * (mse(scoreReal, torch.ones_like(scoreReal)) + mse(scoreFake, torch.zeros_like(scoreFake)))
