"""Virtual-cohort images (64³) for the normalization tests, generated once per test session."""

from __future__ import annotations

import functools

import numpy as np
import SimpleITK as sitk

#: Cohort seed of every normalization test.
SEED = 0


@functools.lru_cache(maxsize=None)
def cohortCase(index: int):
    """Virtual patient ``index`` (64³) and its head mask: ``(case, headMask)``."""
    from VirtualBiopsy.data.virtualCohort import generateCase
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    case = generateCase(index, SEED, size=64)
    return case, foregroundMask(case.images["T1c"])


def arrays(image: sitk.Image, mask: sitk.Image | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The voxels (float64) and the mask (bool) as numpy arrays in k, j, i order."""
    voxels = sitk.GetArrayFromImage(image).astype(np.float64)
    return voxels, None if mask is None else sitk.GetArrayFromImage(mask) != 0


def writeImage(image: sitk.Image, path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)


def caseAtSite(index: int, siteName: str, sequence: str = "T1c", size: int = 64) -> sitk.Image:
    """Virtual patient ``index``'s anatomy and tumour, scanned at ``siteName`` instead of its own site.

    Repeats the steps of :func:`~VirtualBiopsy.data.virtualCase.generateCase` with the same random
    streams (for T1c, the first sequence of the noise stream); at the patient's own site it gives
    ``generateCase``'s image exactly (checked by the test that uses it).
    """
    from VirtualBiopsy.data import virtualCase as case

    grid = case.Grid.forSize(size)
    patient = case.samplePatient(case.caseRandom(SEED, index, "clinical"), len(case.SITES))
    site = next(candidate for candidate in case.SITES if candidate.name == siteName)
    anatomyRandom = case.caseRandom(SEED, index, "anatomy")
    anatomy = case.generateAnatomy(grid, anatomyRandom, patient.age)
    t1Scales = {
        name: float(np.exp(case.T1_VARIATION_SD * anatomyRandom.standard_normal())) for name in case.NORMAL_TISSUES
    }
    tumourRandom = case.caseRandom(SEED, index, "tumour")
    phenotype = case.sampleTumour(tumourRandom, patient.aggressiveness, patient.grade)
    tumour = case.renderTumour(grid, anatomy, phenotype, tumourRandom)
    bias = case.biasField(grid, site, case.caseRandom(SEED, index, "scanner"))
    settings = site.sequences[sequence]
    values = case._noiseFreeSignal(
        anatomy.fractions, tumour, phenotype.gadoliniumMm, phenotype.heterogeneity, settings, site, t1Scales
    )
    whiteMatter = case.tissueSignal("whiteMatter", settings, site.fieldStrength, t1Scales["whiteMatter"])
    noise = case.caseRandom(SEED, index, "noise")
    return case._toImage(case.acquire(values, whiteMatter, sequence, site, grid, bias, noise), grid)
