"""One virtual patient: MR-like T1c, T2 and FLAIR images of a head with a
tumour, its ground truth, clinical data and latent values.

A case is drawn in this order, each part from its own random stream keyed by
``(seed, index)`` (so it is bit-identical however many cases are generated; the
patient id ``VB0001`` is ``index`` 0):

1. patient: latent aggressiveness, age, sex, grade, site (:mod:`.survival`);
2. head anatomy (:mod:`.anatomy`) on a ``size``³ grid of 240 mm;
3. tumour phenotype, regions and texture (:mod:`.tumour`);
4. MR signal of each sequence from relaxation times (:mod:`.mrPhysics`), then
   the site's bias field, slice profile, scaling and Rician noise (:mod:`.scanner`);
5. survival time and censoring (:mod:`.survival`).

The generative model and its constants are described in ``docs/virtual-cohort.md``;
they are fixed and must not be tuned to favour a method evaluated on the cohort.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.anatomy import generateAnatomy
from VirtualBiopsy.data.mrPhysics import (
    NORMAL_TISSUES,
    TISSUES,
    Sequence,
    enhancedT1,
    signal,
    tissueSignal,
)
from VirtualBiopsy.data.randomFields import Grid, caseRandom
from VirtualBiopsy.data.scanner import SEQUENCES, SITES, Site, acquire, biasField
from VirtualBiopsy.data.survival import sampleOutcome, samplePatient
from VirtualBiopsy.data.tumour import (
    REGION_LABELS,
    TumourPhenotype,
    TumourRender,
    renderTumour,
    sampleTumour,
)
from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

#: Version of the generative model; it changes whenever the same seed would give other data.
GENERATOR_VERSION = "1"
#: Smallest supported grid (voxels per side).
MINIMUM_SIZE = 32
#: SD of the patient's relative deviation of each normal tissue's T1.
T1_VARIATION_SD = 0.03
#: How strongly the tumour texture varies the T2 of viable tumour and necrosis (per unit heterogeneity).
TEXTURE_T2_WEIGHT = 0.3
NECROSIS_T2_WEIGHT = 0.2


@dataclass
class VirtualCase:
    """One virtual patient.

    :ivar patient: synthetic identifier, ``VB`` + 4 digits (index + 1).
    :ivar site: the site that scanned the patient (see :data:`~VirtualBiopsy.data.scanner.SITES`).
    :ivar images: ``T1c``, ``T2``, ``FLAIR`` (Int16, co-registered, same grid).
    :ivar mask: ground-truth whole tumour (necrosis + enhancing tumour + oedema, the lesion
        seen on FLAIR) as label 1, UInt8; ``regions`` holds the sub-regions.
    :ivar regions: 1 necrotic core, 2 enhancing tumour, 3 oedema, UInt8.
    :ivar anatomy: dominant normal tissue, ignoring the tumour, UInt8
        (:data:`~VirtualBiopsy.data.anatomy.ANATOMY_LABELS`: 1 scalp, 2 skull, 3 CSF, 4 grey, 5 white matter).
    :ivar clinical: patient, site, grade (``LGG``/``HGG``), time (months), event (1 death, 0 censored), age, sex.
    :ivar aggressiveness: the latent aggressiveness that drives grade, phenotype and survival.
    :ivar latent: every latent value (aggressiveness, true event and censoring times, tumour parameters, volumes).
    """

    patient: str
    site: str
    images: dict[str, sitk.Image]
    mask: sitk.Image
    regions: sitk.Image
    anatomy: sitk.Image
    clinical: dict
    aggressiveness: float
    latent: dict[str, float] = field(default_factory=dict)


def patientId(index: int) -> str:
    """The synthetic identifier of case ``index`` (0 → ``VB0001``)."""
    return f"VB{index + 1:04d}"


def checkArguments(seed: int, size: int, index: int = 0) -> None:
    """Raise :class:`InputError` for a negative seed or index or a grid that is too small."""
    for name, value, low in (("seed", seed, 0), ("index", index, 0), ("size", size, MINIMUM_SIZE)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"Virtual cohort {name} is {value!r}; give an integer of at least {low}.")


def generateCase(index: int, seed: int, size: int = 128) -> VirtualCase:
    """Generate virtual patient ``index`` of the cohort drawn with ``seed``.

    :param index: the patient's position in the cohort (0-based).
    :param seed: the cohort's random seed.
    :param size: voxels per side of the cubic 240 mm grid (spacing ``240 / size`` mm).
    :raises InputError: for a negative ``index`` or ``seed``, or ``size`` below 32.
    """
    checkArguments(seed, size, index)
    grid = Grid.forSize(int(size))
    patient = samplePatient(caseRandom(seed, index, "clinical"), len(SITES))
    site = SITES[patient.siteIndex]

    anatomyRandom = caseRandom(seed, index, "anatomy")
    anatomy = generateAnatomy(grid, anatomyRandom, patient.age)
    t1Scales = {name: float(np.exp(T1_VARIATION_SD * anatomyRandom.standard_normal())) for name in NORMAL_TISSUES}
    anatomyLabels = anatomy.labels()

    tumourRandom = caseRandom(seed, index, "tumour")
    phenotype = sampleTumour(tumourRandom, patient.aggressiveness, patient.grade)
    tumour = renderTumour(grid, anatomy, phenotype, tumourRandom)

    scannerRandom = caseRandom(seed, index, "scanner")
    bias = biasField(grid, site, scannerRandom)
    noiseRandom = caseRandom(seed, index, "noise")
    images = {}
    for name in SEQUENCES:
        sequence = site.sequences[name]
        values = _noiseFreeSignal(
            anatomy.fractions, tumour, phenotype.gadoliniumMm, phenotype.heterogeneity, sequence, site, t1Scales
        )
        whiteMatter = tissueSignal("whiteMatter", sequence, site.fieldStrength, t1Scales["whiteMatter"])
        images[name] = _toImage(acquire(values, whiteMatter, name, site, grid, bias, noiseRandom), grid)

    regions = np.zeros(grid.shape, dtype=np.uint8)
    regions[tumour.box] = tumour.regions
    wholeTumour = regions > 0
    outcome = sampleOutcome(caseRandom(seed, index, "survival"), patient)
    name = patientId(index)
    clinical = {
        "patient": name,
        "site": site.name,
        "grade": patient.grade,
        "time": outcome.time,
        "event": outcome.event,
        "age": patient.age,
        "sex": patient.sex,
    }
    latent = {
        "aggressiveness": patient.aggressiveness,
        "highGradeProbability": patient.highGradeProbability,
        "logHazard": outcome.logHazard,
        "eventTime": outcome.eventTime,
        "censorTime": outcome.censorTime,
        **_tumourValues(phenotype, tumour, grid),
        "fieldStrength": site.fieldStrength,
        "sliceThicknessMm": site.sliceThicknessMm,
        **anatomy.parameters,
    }
    logger.debug("Generated virtual patient %s (seed %d, %s, %s)", name, seed, site.name, patient.grade)
    return VirtualCase(
        patient=name,
        site=site.name,
        images=images,
        mask=_toImage(wholeTumour.astype(np.uint8), grid),
        regions=_toImage(regions, grid),
        anatomy=_toImage(anatomyLabels, grid),
        clinical=clinical,
        aggressiveness=patient.aggressiveness,
        latent=latent,
    )


def _tumourValues(phenotype: TumourPhenotype, tumour: TumourRender, grid: Grid) -> dict[str, float]:
    """The tumour's latent parameters and its regions' volumes (ml) on the grid."""
    voxelMl = grid.spacing**3 / 1000.0
    volumes = {
        f"{label}VolumeMl": float(np.count_nonzero(tumour.regions == value) * voxelMl)
        for label, value in REGION_LABELS.items()
    }
    return {
        "radiusMm": phenotype.radiusMm,
        "necrosisRatio": phenotype.necrosisRatio,
        "gadoliniumMm": phenotype.gadoliniumMm,
        "heterogeneity": phenotype.heterogeneity,
        "oedemaMarginMm": phenotype.oedemaMarginMm,
        "irregularity": phenotype.irregularity,
        "centreXMm": phenotype.centreMm[0],
        "centreYMm": phenotype.centreMm[1],
        "centreZMm": phenotype.centreMm[2],
        "coreVolumeMl": volumes["necrosisVolumeMl"] + volumes["enhancingVolumeMl"],
        **volumes,
    }


def _noiseFreeSignal(
    fractions: dict[str, np.ndarray],
    tumour: TumourRender,
    gadoliniumMm: float,
    heterogeneity: float,
    sequence: Sequence,
    site: Site,
    t1Scales: dict[str, float],
) -> np.ndarray:
    """Signal (PD units) of every voxel: normal tissues by their fractions, tumour tissues voxel-wise."""
    field = site.fieldStrength
    values = np.zeros_like(fractions["fat"])
    for name in NORMAL_TISSUES:
        values += np.float32(tissueSignal(name, sequence, field, t1Scales[name])) * fractions[name]

    viable, necrotic, oedema = TISSUES["tumour"], TISSUES["necrosis"], TISSUES["oedema"]
    h = np.float32(heterogeneity)
    t1 = np.float32(viable.t1[field])
    if sequence.contrast:
        concentration = np.float32(gadoliniumMm) * np.exp(h * tumour.texture - 0.5 * h * h)
        t1 = enhancedT1(t1, concentration, field).astype(np.float32)
    t2 = np.float32(viable.t2[field]) * np.exp(np.float32(TEXTURE_T2_WEIGHT) * h * tumour.texture)
    box = values[tumour.box]
    box += tumour.enhancing * signal(sequence, np.float32(viable.protonDensity), t1, t2)
    t2 = np.float32(necrotic.t2[field]) * np.exp(np.float32(NECROSIS_T2_WEIGHT) * h * tumour.boundaryField)
    box += tumour.necrosis * signal(sequence, np.float32(necrotic.protonDensity), np.float32(necrotic.t1[field]), t2)
    box += tumour.oedema * np.float32(signal(sequence, oedema.protonDensity, oedema.t1[field], oedema.t2[field]))
    return values


def _toImage(array: np.ndarray, grid: Grid) -> sitk.Image:
    """A SimpleITK image of ``array`` on ``grid`` (identity direction, centred origin)."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((grid.spacing,) * 3)
    image.SetOrigin((grid.origin,) * 3)
    return image
