"""Head phantom of the virtual cohort: partial-volume fractions of scalp fat,
skull, CSF, grey and white matter.

The head is an ellipsoid whose surface is perturbed by a smooth random field.
Every voxel's *depth* below the scalp surface, measured along the ray from the
head's centre, places it in a layer: scalp (:data:`SCALP_MM`), skull
(:data:`SKULL_MM`), subarachnoid CSF (:data:`CSF_MM`), cortex
(:data:`CORTEX_MM` plus folding) and white matter. A second smooth field
(correlation :data:`FOLDING_CORRELATION_MM`) folds the cortex: where it is high
the grey/white boundary lies deeper and CSF fills a sulcus. Lateral and third
ventricles (CSF) and deep grey nuclei (thalamus, lentiform nucleus) are
ellipsoids; the ventricles grow with age (atrophy, :data:`VENTRICLE_GROWTH_PER_YEAR`).
Boundaries are one-voxel partial-volume ramps, so fractions sum to at most 1
(the rest is air).

Per patient: head size and shape, surface bumps, folding pattern, ventricle size.
Coordinates are LPS mm with the head centred on the origin (x: right→left,
y: anterior→posterior, z: inferior→superior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from VirtualBiopsy.data.randomFields import Grid, smoothNoise, softStep

#: Head semi-axes (x, y, z) in mm of an average adult.
HEAD_SEMI_AXES_MM = (74.0, 94.0, 88.0)
#: Relative standard deviation of the head's overall size and of each semi-axis.
HEAD_SCALE_SD = 0.04
HEAD_AXIS_SD = 0.025
#: Relative amplitude and correlation length (mm) of the head surface's bumps.
SURFACE_BUMP_SD = 0.03
SURFACE_CORRELATION_MM = 50.0
#: Layer thicknesses below the scalp surface, in mm.
SCALP_MM = 6.0
SKULL_MM = 7.0
CSF_MM = 2.5
CORTEX_MM = 3.0
#: Cortical folding: the grey/white boundary lies ``CORTEX_MM + FOLDING_MM max(f + FOLDING_OFFSET, 0)``
#: below the cortex surface, where ``f`` is a smooth unit field of correlation ``FOLDING_CORRELATION_MM``.
FOLDING_MM = 8.0
FOLDING_OFFSET = 0.8
FOLDING_CORRELATION_MM = 8.0
#: Where ``f`` exceeds this (ramp width 0.5) the band is a sulcus: CSF down to ``CORTEX_MM`` above the white matter.
SULCUS_THRESHOLD = 0.8
#: Lateral ventricles: centre (x, y, z) of the left one (mirrored for the right) and semi-axes, mm.
LATERAL_VENTRICLE_CENTRE_MM = (11.0, -4.0, 14.0)
LATERAL_VENTRICLE_SEMI_AXES_MM = (5.5, 26.0, 9.0)
THIRD_VENTRICLE_CENTRE_MM = (0.0, 2.0, -2.0)
THIRD_VENTRICLE_SEMI_AXES_MM = (2.0, 12.0, 8.0)
#: Deep grey nuclei (left side; mirrored), centre and semi-axes in mm.
DEEP_GREY_NUCLEI_MM = (
    ((11.0, 8.0, 0.0), (8.0, 13.0, 9.0)),  # thalamus
    ((23.0, -8.0, 2.0), (6.0, 14.0, 10.0)),  # lentiform nucleus
)
#: Ventricle size grows by this fraction per year of age above :data:`REFERENCE_AGE`.
VENTRICLE_GROWTH_PER_YEAR = 0.012
VENTRICLE_SIZE_SD = 0.12
REFERENCE_AGE = 55.0

#: Depth (mm below the scalp surface) of the inner skull surface and of the cortex.
INNER_SKULL_DEPTH_MM = SCALP_MM + SKULL_MM
CORTEX_DEPTH_MM = INNER_SKULL_DEPTH_MM + CSF_MM

#: Labels of :attr:`Anatomy.labels`.
ANATOMY_LABELS = {"scalp": 1, "skull": 2, "csf": 3, "greyMatter": 4, "whiteMatter": 5}


@dataclass
class Anatomy:
    """Tissue fractions of one virtual head (float32 arrays ``[z, y, x]``).

    :ivar fractions: ``fat`` (scalp), ``bone``, ``csf``, ``greyMatter``, ``whiteMatter``.
    :ivar depth: depth of each voxel below the scalp surface, mm (negative outside the head).
    :ivar parameters: the patient's anatomical parameters (head scale, ventricle scale, ...).
    """

    fractions: dict[str, np.ndarray]
    depth: np.ndarray
    parameters: dict[str, float]

    @property
    def intracranial(self) -> np.ndarray:
        """Fraction of each voxel inside the inner skull surface (CSF + grey + white matter)."""
        return self.fractions["csf"] + self.fractions["greyMatter"] + self.fractions["whiteMatter"]

    def labels(self) -> np.ndarray:
        """The dominant tissue of each voxel as :data:`ANATOMY_LABELS` (0 where air dominates), uint8."""
        names = ("fat", "bone", "csf", "greyMatter", "whiteMatter")
        best = 1.0 - self.fractions["fat"] - self.fractions["bone"] - self.intracranial
        labels = np.zeros(best.shape, dtype=np.uint8)
        for label, name in enumerate(names, start=1):
            larger = self.fractions[name] > best
            labels[larger] = label
            np.maximum(best, self.fractions[name], out=best)
        return labels


def _rayRadius(z: np.ndarray, y: np.ndarray, x: np.ndarray, semiAxes) -> tuple[np.ndarray, np.ndarray]:
    """Distance from the centre and the ellipsoid's radius along the same ray (mm)."""
    distance = np.sqrt(x * x + y * y + z * z)
    normalized = np.sqrt((x / semiAxes[0]) ** 2 + (y / semiAxes[1]) ** 2 + (z / semiAxes[2]) ** 2)
    radius = np.divide(distance, normalized, out=np.full_like(distance, min(semiAxes)), where=normalized > 1e-6)
    return distance, radius


def ellipsoidFraction(grid: Grid, centre, semiAxes) -> tuple[tuple[slice, slice, slice], np.ndarray]:
    """Partial-volume fraction of an axis-aligned ellipsoid, within its bounding box.

    :returns: the box's index slices and the fraction in it.
    """
    box = grid.boxSlices(np.asarray(centre), max(semiAxes) + 2 * grid.spacing)
    z, y, x = grid.boxCoordinates(box)
    distance, radius = _rayRadius(z - centre[2], y - centre[1], x - centre[0], semiAxes)
    return box, softStep(radius - distance, grid.spacing)


def generateAnatomy(grid: Grid, rng: np.random.Generator, age: float) -> Anatomy:
    """Draw one patient's head on ``grid``.

    :param rng: the case's ``anatomy`` random stream.
    :param age: years; older patients have larger ventricles.
    """
    scale = 1.0 + HEAD_SCALE_SD * rng.standard_normal()
    semiAxes = [a * scale * (1.0 + HEAD_AXIS_SD * rng.standard_normal()) for a in HEAD_SEMI_AXES_MM]
    ventricleScale = float(
        np.exp(VENTRICLE_GROWTH_PER_YEAR * (age - REFERENCE_AGE) + VENTRICLE_SIZE_SD * rng.standard_normal())
    )
    z, y, x = grid.coordinates()
    axes = (grid.axis(),) * 3
    bumps = smoothNoise(rng, axes, SURFACE_CORRELATION_MM)
    folding = smoothNoise(rng, axes, FOLDING_CORRELATION_MM)

    distance, radius = _rayRadius(z, y, x, semiAxes)
    bumps *= np.float32(SURFACE_BUMP_SD)
    bumps += np.float32(1.0)
    depth = radius * bumps
    depth -= distance
    del distance, radius, bumps

    spacing = grid.spacing
    inHead = softStep(depth, spacing)
    inSkull = softStep(depth - np.float32(SCALP_MM), spacing)
    inCranium = softStep(depth - np.float32(INNER_SKULL_DEPTH_MM), spacing)
    inCortex = softStep(depth - np.float32(CORTEX_DEPTH_MM), spacing)
    whiteDepth = np.maximum(folding + np.float32(FOLDING_OFFSET), np.float32(0.0))
    whiteDepth *= np.float32(FOLDING_MM)
    whiteDepth += np.float32(CORTEX_DEPTH_MM + CORTEX_MM)
    inWhite = softStep(depth - whiteDepth, spacing)
    sulcus = np.clip((folding - np.float32(SULCUS_THRESHOLD)) * np.float32(2.0), 0.0, 1.0)
    sulcus *= softStep(whiteDepth - np.float32(CORTEX_MM) - depth, spacing)
    del whiteDepth, folding

    fat = inHead - inSkull
    bone = inSkull - inCranium
    band = inCortex - inWhite
    csf = inCranium - inCortex + band * sulcus
    grey = band * (1.0 - sulcus)
    white = inWhite
    del inHead, inSkull, inCranium, inCortex, band, sulcus

    for centre, halfAxes in DEEP_GREY_NUCLEI_MM:
        for side in (1.0, -1.0):
            box, nucleus = ellipsoidFraction(grid, (side * centre[0], centre[1], centre[2]), halfAxes)
            moved = white[box] * nucleus
            grey[box] += moved
            white[box] -= moved
    lateral = LATERAL_VENTRICLE_CENTRE_MM
    ventricles = [((side * lateral[0], *lateral[1:]), LATERAL_VENTRICLE_SEMI_AXES_MM) for side in (1.0, -1.0)]
    ventricles.append((THIRD_VENTRICLE_CENTRE_MM, THIRD_VENTRICLE_SEMI_AXES_MM))
    for centre, halfAxes in ventricles:
        box, ventricle = ellipsoidFraction(grid, centre, [a * ventricleScale for a in halfAxes])
        movedGrey, movedWhite = grey[box] * ventricle, white[box] * ventricle
        grey[box] -= movedGrey
        white[box] -= movedWhite
        csf[box] += movedGrey + movedWhite

    return Anatomy(
        fractions={"fat": fat, "bone": bone, "csf": csf, "greyMatter": grey, "whiteMatter": white},
        depth=depth,
        parameters={"headScale": float(scale), "ventricleScale": ventricleScale},
    )
