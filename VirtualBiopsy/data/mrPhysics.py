"""MR signal of the virtual cohort: tissue relaxation times and sequence equations.

Signals are computed from proton density (PD, relative to water), T1 and T2
with the textbook steady-state equations (TE ≪ TR; T2* taken as T2):

- spin echo (T1-weighted, T2-weighted): ``PD (1 - E1) E2``
- spoiled gradient echo: ``PD sin(a) (1 - E1) / (1 - cos(a) E1) E2``
- inversion recovery (FLAIR): ``PD |1 - 2 exp(-TI/T1) + E1| E2``

with ``E1 = exp(-TR/T1)`` and ``E2 = exp(-TE/T2)``. Gadolinium shortens T1 by
``1/T1 = 1/T1₀ + r1 C``; only the post-contrast T1 (``T1c``) sees it.

Relaxation times are rounded values from the published ranges for adult brain
at 1.5 T and 3 T (3 T grey and white matter: Stanisz et al. 2005, MRM 54:507;
1.5 T: within the range summarized there and by Wansapura et al. 1999, JMRI
9:531; fat: Gold et al. 2004, AJR 183:343) and typical glioma, oedema and
necrosis values. They were fixed before any method was run on the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tissue:
    """Relaxation properties of one tissue.

    :ivar protonDensity: water-relative proton density.
    :ivar t1: T1 in ms at 1.5 T and 3 T.
    :ivar t2: T2 in ms at 1.5 T and 3 T.
    """

    protonDensity: float
    t1: dict[float, float]
    t2: dict[float, float]


#: Tissue table, by name. Bone: cortical bone's ultrashort T2 makes it dark on
#: every conventional sequence.
TISSUES: dict[str, Tissue] = {
    "fat": Tissue(0.90, {1.5: 343.0, 3.0: 382.0}, {1.5: 58.0, 3.0: 68.0}),
    "bone": Tissue(0.10, {1.5: 250.0, 3.0: 300.0}, {1.5: 1.0, 3.0: 1.0}),
    "csf": Tissue(1.00, {1.5: 4000.0, 3.0: 4300.0}, {1.5: 2000.0, 3.0: 1800.0}),
    "greyMatter": Tissue(0.80, {1.5: 1150.0, 3.0: 1820.0}, {1.5: 95.0, 3.0: 99.0}),
    "whiteMatter": Tissue(0.69, {1.5: 780.0, 3.0: 1084.0}, {1.5: 72.0, 3.0: 69.0}),
    "tumour": Tissue(0.85, {1.5: 1300.0, 3.0: 1750.0}, {1.5: 120.0, 3.0: 110.0}),
    "necrosis": Tissue(0.92, {1.5: 2400.0, 3.0: 2800.0}, {1.5: 350.0, 3.0: 320.0}),
    "oedema": Tissue(0.86, {1.5: 1300.0, 3.0: 1700.0}, {1.5: 180.0, 3.0: 165.0}),
}

#: Normal tissues of the head, in the order of :class:`~VirtualBiopsy.data.anatomy.Anatomy` fractions.
NORMAL_TISSUES = ("fat", "bone", "csf", "greyMatter", "whiteMatter")

#: T1 relaxivity of a gadolinium chelate (gadopentetate-like) in s⁻¹ mM⁻¹ at 1.5 T and 3 T.
GADOLINIUM_R1 = {1.5: 4.1, 3.0: 3.7}


@dataclass(frozen=True)
class Sequence:
    """Acquisition parameters of one MR sequence.

    :ivar kind: ``"spinEcho"``, ``"gradientEcho"`` or ``"inversionRecovery"``.
    :ivar repetitionTime: TR in ms.
    :ivar echoTime: TE in ms.
    :ivar inversionTime: TI in ms (inversion recovery only).
    :ivar flipAngle: excitation flip angle in degrees (gradient echo only).
    :ivar contrast: whether gadolinium was given before this sequence.
    """

    kind: str
    repetitionTime: float
    echoTime: float
    inversionTime: float = 0.0
    flipAngle: float = 90.0
    contrast: bool = False


def signal(sequence: Sequence, protonDensity, t1, t2):
    """Magnitude signal (PD units) of tissue with the given PD, T1 and T2 (ms).

    Works on floats and on numpy arrays alike.
    """
    e1 = np.exp(-sequence.repetitionTime / t1)
    e2 = np.exp(-sequence.echoTime / t2)
    if sequence.kind == "spinEcho":
        return protonDensity * (1.0 - e1) * e2
    if sequence.kind == "gradientEcho":
        angle = np.deg2rad(sequence.flipAngle)
        return protonDensity * np.sin(angle) * (1.0 - e1) / (1.0 - np.cos(angle) * e1) * e2
    if sequence.kind == "inversionRecovery":
        return protonDensity * np.abs(1.0 - 2.0 * np.exp(-sequence.inversionTime / t1) + e1) * e2
    raise ValueError(f"Unknown sequence kind '{sequence.kind}'; use spinEcho, gradientEcho or inversionRecovery.")


def enhancedT1(t1, concentration, fieldStrength: float):
    """T1 (ms) after gadolinium at ``concentration`` mM: ``1/T1 = 1/T1₀ + r1 C``."""
    return 1.0 / (1.0 / t1 + GADOLINIUM_R1[fieldStrength] * concentration / 1000.0)


def tissueSignal(name: str, sequence: Sequence, fieldStrength: float, t1Scale: float = 1.0) -> float:
    """Signal of a normal tissue from :data:`TISSUES` (no gadolinium uptake).

    :param t1Scale: the patient's relative deviation of T1 from the table.
    """
    tissue = TISSUES[name]
    return float(signal(sequence, tissue.protonDensity, tissue.t1[fieldStrength] * t1Scale, tissue.t2[fieldStrength]))
