"""The CycleGAN's image pool (Shrivastava et al. 2017): the discriminators see a history of generated images."""

from __future__ import annotations

import numpy as np

from VirtualBiopsy.errors import requirePackage


class ImagePool:
    """Keeps up to ``size`` generated images; each query returns, per image, either it or (with probability
    one half, once the pool is full) a stored one that it then replaces.

    :param size: images kept; 0 turns the pool off (queries return their input).
    :param rng: random generator (seeded by the caller).
    """

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = int(size)
        self.rng = rng
        self.images: list = []

    def query(self, images):
        """A batch of the same shape as ``images`` (a torch tensor, first axis the batch), detached."""
        torch = requirePackage("torch")

        if self.size == 0:
            return images.detach()
        chosen = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                chosen.append(image)
            elif self.rng.random() < 0.5:
                index = int(self.rng.integers(0, self.size))
                chosen.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                chosen.append(image)
        return torch.cat(chosen, 0)
