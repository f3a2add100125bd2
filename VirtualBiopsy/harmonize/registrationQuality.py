"""Quality control of a registration: normalized mutual information on a region of the fixed image.

Normalized mutual information (Studholme et al. 1999), ``NMI = (H(F) + H(M)) / H(F, M)``,
is 1 for independent intensities and 2 for intensities that determine each other.
It is computed from a joint histogram of the fixed image and the moving image
resampled onto the fixed grid, over the voxels of a region (the dilated tumour mask,
or the head). Unlike correlation it does not assume the two contrasts are alike,
so it suits T1c against T2 or FLAIR.

A registration passes QC when its NMI after registration is at least
:data:`MINIMUM_NMI` and not lower than before registration (minus :data:`NMI_SLACK`).
The threshold catches gross failures (the head off by centimetres), not millimetre
errors. Measured on the virtual cohort (64³, 3.75 mm, T2 fixed, T1c moving, head
region, cases 0–2): aligned pairs give NMI 1.11–1.23, the same pairs misaligned by
about 6 mm and 7° give 1.05–1.09, and pairs 120 mm apart 1.005–1.011; after
registration from the misaligned start 1.135–1.229 (cases 0–6).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

#: Lowest NMI after registration that passes QC (see the module docstring for how it was chosen).
MINIMUM_NMI = 1.05
#: How much lower than before registration the NMI after it may be and still pass (numerical noise).
NMI_SLACK = 1e-3
#: Histogram bins per image of the NMI.
NMI_BINS = 32


def normalizedMutualInformation(
    fixed: sitk.Image, moving: sitk.Image, region: sitk.Image, bins: int = NMI_BINS
) -> float:
    """NMI of ``fixed`` and ``moving`` (on the same grid) over the non-zero voxels of ``region``.

    :returns: a value in [1, 2]; 1 when either image is constant over the region.
    """
    inside = sitk.GetArrayViewFromImage(region) > 0
    a = sitk.GetArrayViewFromImage(fixed)[inside].astype(np.float64)
    b = sitk.GetArrayViewFromImage(moving)[inside].astype(np.float64)
    if a.size == 0 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0
    joint, _, _ = np.histogram2d(a, b, bins=bins)
    joint /= joint.sum()
    jointEntropy = _entropy(joint)
    return (
        float((_entropy(joint.sum(axis=1)) + _entropy(joint.sum(axis=0))) / jointEntropy) if jointEntropy > 0 else 1.0
    )


def passesQc(nmiBefore: float, nmiAfter: float, minimumNmi: float = MINIMUM_NMI) -> bool:
    """The QC rule: NMI after ≥ ``minimumNmi`` and ≥ NMI before − :data:`NMI_SLACK`."""
    return nmiAfter >= minimumNmi and nmiAfter >= nmiBefore - NMI_SLACK


def _entropy(probabilities: np.ndarray) -> float:
    p = probabilities[probabilities > 0]
    return float(-(p * np.log(p)).sum())


def qcLine(metrics: dict[str, float], passed: bool, metricMask: str, retried: bool) -> str:
    """One line on a registration's QC, as ``virtual-biopsy register`` prints it and the module shows it.

    :param metrics: ``nmiBefore``, ``nmiAfter``, ``mattesBefore``, ``mattesAfter`` (see
        :class:`~VirtualBiopsy.harmonize.registration.RegistrationResult`).
    """
    return (
        f"QC: {'passed' if passed else 'FAILED'}; NMI {metrics['nmiBefore']:.4f} → {metrics['nmiAfter']:.4f}; "
        f"Mattes MI {metrics['mattesBefore']:.4f} → {metrics['mattesAfter']:.4f}; metric mask {metricMask}"
        + ("; retried" if retried else "")
    )
