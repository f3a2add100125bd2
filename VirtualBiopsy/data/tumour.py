"""Tumour model of the virtual cohort: grade-dependent phenotype, irregular
shape, sub-regions and texture.

Phenotype (drawn from the case's ``tumour`` stream, given the latent
aggressiveness ``a`` ~ N(0, 1) and the grade; ``e`` are independent N(0, 1)):

- core radius ``R = R0[grade] exp(0.12 a + 0.15 e)`` mm (:data:`CORE_RADIUS_MM`),
  capped so that the core stays inside the inner skull;
- shape ``r(u) = R (1 + sum c_lm Y_lm(u))`` with real spherical harmonics of
  degree 2–4, RMS relative deviation :data:`IRREGULARITY`\\[grade], plus
  boundary roughness from a smooth field (:data:`BOUNDARY_CORRELATION_MM`);
- necrotic core: the inner ``nu r(u)`` with ``nu = nu0[grade] + 0.1 a + 0.08 e``
  (:data:`NECROSIS_RATIO`), none below :data:`MINIMUM_NECROSIS_RATIO`;
  its edge follows the texture field, so necrosis is patchy;
- enhancing tumour: the rest of the core, gadolinium ``C0[grade] exp(0.25 a)`` mM
  (:data:`GADOLINIUM_MM`), modulated voxel-wise by a log-normal texture field of
  amplitude ``h = h0[grade] exp(0.15 a)`` (:data:`HETEROGENEITY`, correlation
  :data:`TEXTURE_CORRELATION_MM`) that also varies the T2 of tumour tissue;
- oedema: a shell of thickness ``m0[grade] exp(0.2 a + 0.2 e)`` mm around the core
  (:data:`OEDEMA_MARGIN_MM`), in white matter (grey matter at half weight), never in CSF.

Low-grade-like tumours are thus smaller, rarely necrotic, weakly enhancing and
homogeneous; high-grade-like ones larger, necrotic, with a strongly enhancing,
heterogeneous rim. Mass effect on the anatomy is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial, pi, sqrt

import numpy as np
from scipy.special import lpmv

from VirtualBiopsy.data.anatomy import CORTEX_DEPTH_MM, Anatomy
from VirtualBiopsy.data.randomFields import Grid, smoothNoise, softStep

GRADES = ("LGG", "HGG")
CORE_RADIUS_MM = {"LGG": 11.0, "HGG": 17.0}
IRREGULARITY = {"LGG": 0.10, "HGG": 0.20}
NECROSIS_RATIO = {"LGG": -0.10, "HGG": 0.60}
MINIMUM_NECROSIS_RATIO = 0.15
MAXIMUM_NECROSIS_RATIO = 0.80
GADOLINIUM_MM = {"LGG": 0.05, "HGG": 0.50}
HETEROGENEITY = {"LGG": 0.15, "HGG": 0.45}
OEDEMA_MARGIN_MM = {"LGG": 4.0, "HGG": 11.0}
#: Degrees of the spherical harmonics that deform the core.
SHAPE_DEGREES = (2, 3, 4)
TEXTURE_CORRELATION_MM = 4.0
BOUNDARY_CORRELATION_MM = 6.0
#: Boundary roughness, as a fraction of the irregularity per unit field.
ROUGHNESS = 0.5
#: The boundary field is clipped to ±FIELD_LIMIT SD and the shape's radius to ``R (1 + 4 irregularity)``,
#: so that the tumour fits in the box it is drawn in.
FIELD_LIMIT = 2.5
#: Centre region (|x| range, y range, z range in mm); the hemisphere is random.
CENTRE_RANGE_MM = ((12.0, 40.0), (-45.0, 35.0), (-15.0, 35.0))
#: Distance (mm) the core keeps from the cortex surface at its deepest.
CORTEX_CLEARANCE_MM = 2.0

#: Labels of :attr:`TumourRender.regions`.
REGION_LABELS = {"necrosis": 1, "enhancing": 2, "oedema": 3}

_ANGLE_STEPS = (181, 360)


@dataclass
class TumourPhenotype:
    """Latent and derived tumour properties of one case (lengths in mm, gadolinium in mM)."""

    grade: str
    aggressiveness: float
    radiusMm: float
    irregularity: float
    necrosisRatio: float
    gadoliniumMm: float
    heterogeneity: float
    oedemaMarginMm: float
    centreMm: tuple[float, float, float]
    shapeCoefficients: list[float]


@dataclass
class TumourRender:
    """The tumour on the grid, inside ``box`` (index slices ``[z, y, x]``).

    Fractions are of the whole voxel; the normal tissues' fractions in ``box`` are
    updated in place by :func:`renderTumour`.
    """

    box: tuple[slice, slice, slice]
    necrosis: np.ndarray
    enhancing: np.ndarray
    oedema: np.ndarray
    regions: np.ndarray
    texture: np.ndarray
    boundaryField: np.ndarray


def sampleTumour(rng: np.random.Generator, aggressiveness: float, grade: str) -> TumourPhenotype:
    """Draw the phenotype of a ``grade`` tumour (scalar draws, in a fixed order)."""
    a = aggressiveness
    noise = rng.standard_normal(3)
    side = 1.0 if rng.random() < 0.5 else -1.0
    ranges = CENTRE_RANGE_MM
    centre = (side * rng.uniform(*ranges[0]), rng.uniform(*ranges[1]), rng.uniform(*ranges[2]))
    ratio = NECROSIS_RATIO[grade] + 0.1 * a + 0.08 * noise[1]
    ratio = 0.0 if ratio < MINIMUM_NECROSIS_RATIO else min(ratio, MAXIMUM_NECROSIS_RATIO)
    irregularity = IRREGULARITY[grade]
    coefficients = []
    for degree in SHAPE_DEGREES:
        deviation = irregularity * sqrt(4 * pi / ((2 * degree + 1) * len(SHAPE_DEGREES)))
        coefficients.extend((deviation * rng.standard_normal(2 * degree + 1)).tolist())
    return TumourPhenotype(
        grade=grade,
        aggressiveness=float(a),
        radiusMm=float(CORE_RADIUS_MM[grade] * np.exp(0.12 * a + 0.15 * noise[0])),
        irregularity=irregularity,
        necrosisRatio=float(ratio),
        gadoliniumMm=float(GADOLINIUM_MM[grade] * np.exp(0.25 * a)),
        heterogeneity=float(HETEROGENEITY[grade] * np.exp(0.15 * a)),
        oedemaMarginMm=float(OEDEMA_MARGIN_MM[grade] * np.exp(0.2 * a + 0.2 * noise[2])),
        centreMm=centre,
        shapeCoefficients=coefficients,
    )


def shapeTable(coefficients: list[float]) -> np.ndarray:
    """Relative radius deviation ``sum c_lm Y_lm`` on a 1° (polar × azimuth) table.

    ``Y_lm`` are the orthonormal real spherical harmonics of :data:`SHAPE_DEGREES`.
    """
    polar = np.linspace(0.0, pi, _ANGLE_STEPS[0])
    azimuth = np.linspace(-pi, pi, _ANGLE_STEPS[1], endpoint=False)
    legendre, angular = [], []
    for degree in SHAPE_DEGREES:
        for order in range(-degree, degree + 1):
            m = abs(order)
            norm = sqrt((2 * degree + 1) / (4 * pi) * factorial(degree - m) / factorial(degree + m))
            legendre.append(norm * lpmv(m, degree, np.cos(polar)))
            if order == 0:
                angular.append(np.ones_like(azimuth))
            else:
                angular.append(sqrt(2) * (np.cos(m * azimuth) if order > 0 else np.sin(m * azimuth)))
    table = (np.array(legendre).T * np.asarray(coefficients)) @ np.array(angular)
    return table.astype(np.float32)


def renderTumour(grid: Grid, anatomy: Anatomy, phenotype: TumourPhenotype, rng: np.random.Generator) -> TumourRender:
    """Place the tumour in ``anatomy`` (whose fractions in the box are reduced in place).

    :param rng: the case's ``tumour`` stream, after :func:`sampleTumour`.
    """
    centre = np.asarray(phenotype.centreMm, dtype=np.float64)
    centreIndex = tuple(int(round((c - grid.origin) / grid.spacing)) for c in centre[::-1])
    available = float(anatomy.depth[centreIndex]) - CORTEX_DEPTH_MM - CORTEX_CLEARANCE_MM
    maximumRadius = max(available, 1.5 * grid.spacing)
    radius = max(min(phenotype.radiusMm, maximumRadius), 1.5 * grid.spacing)
    largestRadius = min(radius * (1.0 + 4.0 * phenotype.irregularity), maximumRadius)
    roughness = ROUGHNESS * phenotype.irregularity
    halfWidth = largestRadius * (1.0 + FIELD_LIMIT * roughness) + phenotype.oedemaMarginMm * (1.0 + 0.4 * FIELD_LIMIT)
    box = grid.boxSlices(centre, halfWidth + 2 * grid.spacing)
    z, y, x = grid.boxCoordinates(box)
    z, y, x = z - np.float32(centre[2]), y - np.float32(centre[1]), x - np.float32(centre[0])
    axes = (z.ravel(), y.ravel(), x.ravel())
    texture = smoothNoise(rng, axes, TEXTURE_CORRELATION_MM)
    boundaryField = np.clip(smoothNoise(rng, axes, BOUNDARY_CORRELATION_MM), -FIELD_LIMIT, FIELD_LIMIT)

    distance = np.sqrt(x * x + y * y + z * z)
    polar = np.arccos(np.clip(np.divide(z, distance, out=np.zeros_like(distance), where=distance > 0), -1, 1))
    azimuth = np.arctan2(np.broadcast_to(y, distance.shape), np.broadcast_to(x, distance.shape))
    table = shapeTable(phenotype.shapeCoefficients)
    row = np.rint(polar * ((_ANGLE_STEPS[0] - 1) / pi)).astype(np.intp)
    column = np.rint((azimuth + pi) * (_ANGLE_STEPS[1] / (2 * pi))).astype(np.intp) % _ANGLE_STEPS[1]
    shapeRadius = np.clip(radius * (1.0 + table[row, column]), 0.4 * radius, largestRadius).astype(np.float32)

    spacing = grid.spacing
    core = softStep(shapeRadius * (1.0 + np.float32(roughness) * boundaryField) - distance, spacing)
    necroticExtent = softStep(phenotype.necrosisRatio * shapeRadius * (1.0 + 0.3 * texture) - distance, spacing)
    necroticExtent = np.minimum(necroticExtent, core) if phenotype.necrosisRatio > 0 else np.zeros_like(core)
    margin = np.float32(phenotype.oedemaMarginMm) * np.maximum(1.0 + 0.4 * boundaryField, 0.0)
    oedemaExtent = np.clip(softStep(shapeRadius + margin - distance, spacing) - core, 0.0, 1.0)

    fractions = {name: anatomy.fractions[name][box] for name in ("csf", "greyMatter", "whiteMatter")}
    intracranial = fractions["csf"] + fractions["greyMatter"] + fractions["whiteMatter"]
    parenchyma = fractions["greyMatter"] + fractions["whiteMatter"]
    necrosis = necroticExtent * intracranial
    enhancing = (core - necroticExtent) * intracranial
    oedema = (0.5 * fractions["greyMatter"] + fractions["whiteMatter"]) * oedemaExtent
    fractions["csf"] *= 1.0 - core
    fractions["greyMatter"] *= 1.0 - core - 0.5 * oedemaExtent
    fractions["whiteMatter"] *= 1.0 - core - oedemaExtent

    regions = np.zeros(core.shape, dtype=np.uint8)
    regions[(oedemaExtent >= 0.5) & (parenchyma >= 0.5)] = REGION_LABELS["oedema"]
    inCore = core * intracranial >= 0.5
    regions[inCore & (enhancing >= necrosis)] = REGION_LABELS["enhancing"]
    regions[inCore & (necrosis > enhancing)] = REGION_LABELS["necrosis"]
    return TumourRender(box, necrosis, enhancing, oedema, regions, texture, boundaryField)
