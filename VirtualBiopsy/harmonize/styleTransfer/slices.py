"""Training slices for the CycleGAN: foreground slices of two domains' volumes, scaled to [-1, 1].

Each volume is scaled on its own: the ``lowerPercentile`` and ``upperPercentile`` of its head
(foreground) voxels map to -1 and +1, values beyond are clipped, and voxels outside the head are
-1. The percentiles are recorded so that a translated image maps back to the target domain's
intensity range (:func:`fromUnitRange`). Slices are taken across the volume's third index axis
(axial for the virtual cohort), cropped or padded to the training size; everything is seeded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.imageGeometry import requireScalar3D


@dataclass(frozen=True)
class IntensityRange:
    """The intensities that map to -1 (``lower``) and +1 (``upper``)."""

    lower: float
    upper: float


@dataclass
class ScaledVolume:
    """A volume in [-1, 1] (numpy order k, j, i), its head mask and the range it was scaled with."""

    voxels: np.ndarray
    mask: np.ndarray
    intensityRange: IntensityRange


def requireFiniteVolume(image: sitk.Image, what: str) -> np.ndarray:
    """The voxels of a 3D scalar image as float32, after checking they are all finite.

    :raises GeometryError: for a 2D/4D or vector image; :raises InputError: for NaN or infinite voxels.
    """
    requireScalar3D(image, what)
    voxels = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(voxels)))
    if bad:
        raise InputError(
            f"The {what} has {bad} NaN or infinite voxel(s) of {voxels.size}; replace them (e.g. by 0 "
            "with SimpleITK's Mask or numpy.nan_to_num) before style transfer."
        )
    return voxels


def robustRange(
    voxels: np.ndarray, mask: np.ndarray, lowerPercentile: float, upperPercentile: float, what: str = "image"
) -> IntensityRange:
    """The ``lowerPercentile`` and ``upperPercentile`` of the voxels inside ``mask``.

    :raises InputError: when the mask is empty or the two percentiles are equal (a constant head).
    """
    inside = voxels[mask > 0]
    if inside.size == 0:
        raise InputError(f"The {what} has no head (foreground) voxels; check that the right volume was selected.")
    lower, upper = (float(v) for v in np.percentile(inside, [lowerPercentile, upperPercentile]))
    if not upper > lower:
        raise InputError(
            f"The {what}'s head intensities are constant between the {lowerPercentile} and "
            f"{upperPercentile} percentiles (both {lower}); there is no contrast to translate."
        )
    return IntensityRange(lower, upper)


def toUnitRange(voxels: np.ndarray, intensityRange: IntensityRange) -> np.ndarray:
    """``voxels`` mapped linearly so that the range goes to [-1, 1], clipped there (float32)."""
    scale = 2.0 / (intensityRange.upper - intensityRange.lower)
    return np.clip((voxels - intensityRange.lower) * scale - 1.0, -1.0, 1.0).astype(np.float32)


def fromUnitRange(values: np.ndarray, intensityRange: IntensityRange) -> np.ndarray:
    """The inverse of :func:`toUnitRange` (before clipping): [-1, 1] back to intensities (float32)."""
    return ((values + 1.0) * 0.5 * (intensityRange.upper - intensityRange.lower) + intensityRange.lower).astype(
        np.float32
    )


def scaleVolume(image: sitk.Image, lowerPercentile: float, upperPercentile: float, what: str = "image") -> ScaledVolume:
    """Find ``image``'s head, its robust range, and scale it to [-1, 1] (-1 outside the head)."""
    voxels = requireFiniteVolume(image, what)
    mask = sitk.GetArrayFromImage(foregroundMask(image)).astype(bool)
    intensityRange = robustRange(voxels, mask, lowerPercentile, upperPercentile, what)
    scaled = toUnitRange(voxels, intensityRange)
    scaled[~mask] = -1.0
    return ScaledVolume(scaled, mask, intensityRange)


def domainRange(volumes: Sequence[ScaledVolume]) -> IntensityRange:
    """A domain's typical range: the medians of its volumes' lower and upper intensities."""
    return IntensityRange(
        float(np.median([v.intensityRange.lower for v in volumes])),
        float(np.median([v.intensityRange.upper for v in volumes])),
    )


class SliceSampler:
    """Draws random training slices of one domain.

    :param volumes: the domain's scaled volumes.
    :param size: side of the square slices (crops of larger slices, padded with -1 where smaller).
    :param minimumForeground: fraction of a slice's voxels that must be head for it to be drawn.
    :param rng: the random generator (seeded by the caller).
    :raises InputError: when no slice of any volume has enough head.
    """

    def __init__(
        self,
        volumes: Sequence[ScaledVolume],
        size: int,
        minimumForeground: float,
        rng: np.random.Generator,
        what: str = "domain",
    ) -> None:
        self.volumes = list(volumes)
        self.size = int(size)
        self.rng = rng
        self.candidates = [
            (v, int(k))
            for v, volume in enumerate(self.volumes)
            for k in np.flatnonzero(volume.mask.mean(axis=(1, 2)) >= minimumForeground)
        ]
        if not self.candidates:
            raise InputError(
                f"No slice of the {what}'s {len(self.volumes)} volume(s) has at least "
                f"{minimumForeground:.0%} head voxels; give volumes that contain a head, or lower "
                "minimumForeground."
            )

    def batch(self, count: int) -> np.ndarray:
        """``count`` slices, shape (count, 1, size, size), float32 in [-1, 1]."""
        picks = self.rng.integers(0, len(self.candidates), size=count)
        return np.stack([self._slice(*self.candidates[p])[None] for p in picks])

    def _slice(self, volumeIndex: int, k: int) -> np.ndarray:
        plane = self.volumes[volumeIndex].voxels[k]
        out = np.full((self.size, self.size), -1.0, dtype=np.float32)
        source, target = [], []
        for length in plane.shape:
            if length >= self.size:
                start = int(self.rng.integers(0, length - self.size + 1))
                source.append(slice(start, start + self.size))
                target.append(slice(0, self.size))
            else:
                start = (self.size - length) // 2
                source.append(slice(0, length))
                target.append(slice(start, start + length))
        out[tuple(target)] = plane[tuple(source)]
        return out[:, ::-1].copy() if self.rng.random() < 0.5 else out


def paddedSize(length: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that holds ``length``."""
    return int(math.ceil(length / multiple) * multiple)
