"""Building blocks of the virtual cohort: the image grid, seeded random streams,
smooth random fields and partial-volume steps.

Smooth random fields are cubic B-spline surfaces over a lattice of independent
standard-normal control points spaced one correlation length apart. They are
evaluated as three small matrix products (one per axis), so a 128³ field costs
about 10 ms, and they are scaled to unit variance by the B-spline's mean
squared weight (:data:`BSPLINE_VARIANCE`), not by the sample, so that their
amplitude varies naturally from patient to patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Field of view of every virtual case, in mm (a cube centred on the head).
FIELD_OF_VIEW_MM = 240.0

#: Mean of the squared cubic B-spline weights at a point (0.5 at a knot, 0.46
#: half-way); dividing by its square root gives fields of unit variance.
BSPLINE_VARIANCE = 0.48

#: Independent random streams of one case, keyed with (seed, index) so that a
#: case never depends on how many others are generated or on the order of draws
#: in another part of the model.
STREAMS = {"clinical": 1, "anatomy": 2, "tumour": 3, "scanner": 4, "noise": 5, "survival": 6}


def caseRandom(seed: int, index: int, stream: str) -> np.random.Generator:
    """The random generator of one part (``stream``) of case ``index`` of cohort ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index, STREAMS[stream]]))


@dataclass(frozen=True)
class Grid:
    """An isotropic cubic image grid centred on the origin (LPS, mm).

    Arrays are indexed ``[k, j, i]`` = ``[z, y, x]`` as SimpleITK's
    ``GetArrayFromImage`` returns them.
    """

    size: int
    spacing: float

    @classmethod
    def forSize(cls, size: int) -> Grid:
        """The grid of ``size``³ voxels covering :data:`FIELD_OF_VIEW_MM`."""
        return cls(size=size, spacing=FIELD_OF_VIEW_MM / size)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, self.size)

    @property
    def origin(self) -> float:
        """Physical coordinate (mm) of the first voxel centre along every axis."""
        return -0.5 * (self.size - 1) * self.spacing

    def axis(self) -> np.ndarray:
        """Voxel-centre coordinates along one axis (mm), float32."""
        return (self.origin + self.spacing * np.arange(self.size)).astype(np.float32)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable ``(z, y, x)`` coordinate arrays in mm."""
        axis = self.axis()
        return axis[:, None, None], axis[None, :, None], axis[None, None, :]

    def boxSlices(self, centre: np.ndarray, halfWidth: float) -> tuple[slice, slice, slice]:
        """Index slices ``[z, y, x]`` of the voxels within ``halfWidth`` mm of ``centre`` (x, y, z)."""
        slices = []
        for value in (centre[2], centre[1], centre[0]):
            low = int(np.floor((value - halfWidth - self.origin) / self.spacing))
            high = int(np.ceil((value + halfWidth - self.origin) / self.spacing)) + 1
            slices.append(slice(max(low, 0), min(high, self.size)))
        return slices[0], slices[1], slices[2]

    def boxCoordinates(self, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable ``(z, y, x)`` coordinates (mm) of the voxels in ``box``."""
        axis = self.axis()
        z, y, x = (axis[part] for part in box)
        return z[:, None, None], y[None, :, None], x[None, None, :]


def _bsplineMatrix(coordinates: np.ndarray, start: float, step: float, count: int) -> np.ndarray:
    """Cubic B-spline weights of ``count`` knots (``start + step * k``) at ``coordinates``."""
    position = (coordinates[:, None] - start) / step
    distance = np.abs(position - np.arange(count)[None, :])
    near = 2.0 / 3.0 - distance**2 + 0.5 * distance**3
    far = (2.0 - distance) ** 3 / 6.0
    return np.where(distance < 1.0, near, np.where(distance < 2.0, far, 0.0)).astype(np.float32)


def smoothNoise(
    rng: np.random.Generator,
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    correlationMm: float,
) -> np.ndarray:
    """A smooth, zero-mean, unit-variance random field sampled at the grid ``axes``.

    :param rng: random generator (consumed in a fixed order).
    :param axes: 1-D voxel coordinates (mm) along z, y and x.
    :param correlationMm: knot spacing of the B-spline lattice (about the correlation length).
    :returns: float32 array of shape ``(len(z), len(y), len(x))``.
    """
    matrices = []
    for coordinates in axes:
        count = int(np.ceil((coordinates[-1] - coordinates[0]) / correlationMm)) + 4
        matrices.append(_bsplineMatrix(coordinates, coordinates[0] - 1.5 * correlationMm, correlationMm, count))
    knots = rng.standard_normal(tuple(matrix.shape[1] for matrix in matrices)).astype(np.float32)
    field = np.tensordot(matrices[0], knots, axes=(1, 0))
    field = np.tensordot(matrices[1], field, axes=(1, 1)).transpose(1, 0, 2)
    field = field @ matrices[2].T
    field *= np.float32(1.0 / np.sqrt(BSPLINE_VARIANCE))
    return np.ascontiguousarray(field)


def softStep(signedDistanceMm: np.ndarray, spacing: float) -> np.ndarray:
    """Partial-volume fraction of a voxel whose centre lies ``signedDistanceMm`` inside a surface.

    A linear ramp one voxel wide: 0 outside, 1 inside, 0.5 on the surface.
    """
    fraction = signedDistanceMm * np.float32(1.0 / spacing)
    fraction += np.float32(0.5)
    return np.clip(fraction, 0.0, 1.0, out=fraction)
