"""Sites and scanners of the virtual cohort: protocol, bias field, slice
thickness, intensity scale and Rician noise.

Each site scans every patient with its own protocol (:data:`SITES`), so the
same tissue gets a different contrast at each site (relaxation times change
with field strength, see :mod:`~VirtualBiopsy.data.mrPhysics`). The acquisition
of one noise-free signal image (PD units) is:

1. multiply by the patient's receive bias field ``exp(g (v·p)/R + c exp(-|p|²/2s²) + b n(p))``:
   a linear gradient of log-amplitude ``g`` along a random direction ``v``,
   the central brightening of 3 T (dielectric effect, amplitude ``c``,
   :data:`CENTRAL_BRIGHTENING_WIDTH_MM`), and a smooth random part ``b n``
   (correlation :data:`BIAS_CORRELATION_MM`); shared by the patient's sequences;
2. blur along z with a Gaussian slice profile whose full width at half maximum
   is the site's slice thickness (the grid's own voxel width is subtracted in
   quadrature), as a thick-slice acquisition reconstructed on the common grid;
3. scale so that normal white matter reads ``intensityScale`` (times a per-series
   log-normal gain of SD :data:`GAIN_SD`, the scanner's automatic scaling);
4. add complex white Gaussian noise of SD ``intensityScale / snr[sequence]``
   and take the magnitude (Rician noise; the SNR is that of white matter);
5. round to the scanner's 16-bit integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from VirtualBiopsy.data.mrPhysics import Sequence
from VirtualBiopsy.data.randomFields import Grid, smoothNoise

#: The sequences of every virtual case, in manifest order.
SEQUENCES = ("T1c", "T2", "FLAIR")

#: Width (SD, mm) of the central brightening and correlation length of the random bias part.
CENTRAL_BRIGHTENING_WIDTH_MM = 45.0
BIAS_CORRELATION_MM = 80.0
#: Head radius (mm) that normalizes the linear bias gradient.
BIAS_GRADIENT_RADIUS_MM = 90.0
#: SD of the per-series log gain (automatic intensity scaling).
GAIN_SD = 0.10
#: Largest stored value (signed 16-bit).
MAXIMUM_VALUE = 32767


@dataclass(frozen=True)
class Site:
    """A site's scanner and protocol.

    :ivar name: site identifier written to the manifest and clinical table.
    :ivar fieldStrength: 1.5 or 3.0 (tesla).
    :ivar sequences: acquisition parameters of ``T1c``, ``T2`` and ``FLAIR``.
    :ivar snr: white-matter signal-to-noise ratio per sequence.
    :ivar sliceThicknessMm: full width at half maximum of the slice profile.
    :ivar biasGradient: log-amplitude of the linear bias across :data:`BIAS_GRADIENT_RADIUS_MM`.
    :ivar biasCentre: log-amplitude of the central brightening.
    :ivar biasRandom: SD of the smooth random log-bias.
    :ivar intensityScale: stored value of normal white matter.
    """

    name: str
    fieldStrength: float
    sequences: dict[str, Sequence]
    snr: dict[str, float]
    sliceThicknessMm: float
    biasGradient: float
    biasCentre: float
    biasRandom: float
    intensityScale: float


#: The cohort's sites: a 1.5 T site with thick slices and low SNR, a 3 T site with
#: 3-D gradient-echo T1c and thin slices, and a second 3 T site with spin-echo T1c.
SITES: tuple[Site, ...] = (
    Site(
        name="SiteA",
        fieldStrength=1.5,
        sequences={
            "T1c": Sequence("spinEcho", 500.0, 12.0, contrast=True),
            "T2": Sequence("spinEcho", 4000.0, 100.0),
            "FLAIR": Sequence("inversionRecovery", 9000.0, 120.0, inversionTime=2500.0),
        },
        snr={"T1c": 18.0, "T2": 15.0, "FLAIR": 12.0},
        sliceThicknessMm=5.0,
        biasGradient=0.10,
        biasCentre=0.0,
        biasRandom=0.04,
        intensityScale=800.0,
    ),
    Site(
        name="SiteB",
        fieldStrength=3.0,
        sequences={
            "T1c": Sequence("gradientEcho", 8.0, 3.0, flipAngle=12.0, contrast=True),
            "T2": Sequence("spinEcho", 5000.0, 90.0),
            "FLAIR": Sequence("inversionRecovery", 9000.0, 110.0, inversionTime=2500.0),
        },
        snr={"T1c": 45.0, "T2": 40.0, "FLAIR": 30.0},
        sliceThicknessMm=1.0,
        biasGradient=0.15,
        biasCentre=0.25,
        biasRandom=0.06,
        intensityScale=1500.0,
    ),
    Site(
        name="SiteC",
        fieldStrength=3.0,
        sequences={
            "T1c": Sequence("spinEcho", 600.0, 10.0, contrast=True),
            "T2": Sequence("spinEcho", 6000.0, 105.0),
            "FLAIR": Sequence("inversionRecovery", 10000.0, 125.0, inversionTime=2700.0),
        },
        snr={"T1c": 32.0, "T2": 26.0, "FLAIR": 20.0},
        sliceThicknessMm=3.0,
        biasGradient=0.12,
        biasCentre=0.20,
        biasRandom=0.05,
        intensityScale=1100.0,
    ),
)


def siteByName(name: str) -> Site:
    """The site called ``name`` from :data:`SITES`."""
    for site in SITES:
        if site.name == name:
            return site
    raise KeyError(f"Unknown site '{name}'; known sites: {', '.join(s.name for s in SITES)}.")


def biasField(grid: Grid, site: Site, rng: np.random.Generator) -> np.ndarray:
    """The patient's multiplicative receive field at ``site`` (float32, about 1 at the centre)."""
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    z, y, x = grid.coordinates()
    scale = np.float32(site.biasGradient / BIAS_GRADIENT_RADIUS_MM)
    logBias = smoothNoise(rng, (grid.axis(),) * 3, BIAS_CORRELATION_MM)
    logBias *= np.float32(site.biasRandom)
    logBias += (np.float32(direction[2]) * scale) * z + (np.float32(direction[1]) * scale) * y
    logBias += (np.float32(direction[0]) * scale) * x
    if site.biasCentre:
        width = np.float32(-0.5 / CENTRAL_BRIGHTENING_WIDTH_MM**2)
        logBias += np.float32(site.biasCentre) * (np.exp(width * z * z) * np.exp(width * y * y) * np.exp(width * x * x))
    return np.exp(logBias, out=logBias)


def sliceProfile(image: np.ndarray, grid: Grid, thicknessMm: float) -> np.ndarray:
    """Blur ``image`` along z (axis 0) to a slice profile of FWHM ``thicknessMm``.

    A no-op when the slices are not thicker than the grid spacing.
    """
    extra = thicknessMm**2 - grid.spacing**2
    if extra <= 0:
        return image
    sigma = np.sqrt(extra) / (2.0 * np.sqrt(2.0 * np.log(2.0))) / grid.spacing
    reach = int(np.ceil(2.5 * sigma))
    weights = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    weights = (weights / weights.sum()).astype(np.float32)
    blurred = image * weights[reach]
    for offset in range(1, reach + 1):
        weight = weights[reach + offset]
        blurred[offset:] += weight * image[:-offset]
        blurred[:-offset] += weight * image[offset:]
    return blurred


def acquire(
    signal: np.ndarray,
    whiteMatterSignal: float,
    sequenceName: str,
    site: Site,
    grid: Grid,
    bias: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Turn a noise-free signal image (PD units) into stored scanner values (int16).

    :param whiteMatterSignal: the noise-free signal of normal white matter for this sequence.
    :param rng: the case's ``noise`` stream (consumed in sequence order).
    """
    gain = site.intensityScale / whiteMatterSignal * np.exp(GAIN_SD * rng.standard_normal())
    image = signal * bias
    image = sliceProfile(image, grid, site.sliceThicknessMm)
    image *= np.float32(gain)
    sigma = np.float32(site.intensityScale / site.snr[sequenceName])
    real = rng.standard_normal(image.shape, dtype=np.float32)
    real *= sigma
    real += image
    imaginary = rng.standard_normal(image.shape, dtype=np.float32)
    imaginary *= sigma
    np.square(real, out=real)
    np.square(imaginary, out=imaginary)
    real += imaginary
    np.sqrt(real, out=real)
    np.rint(real, out=real)
    np.minimum(real, MAXIMUM_VALUE, out=real)
    return real.astype(np.int16)
