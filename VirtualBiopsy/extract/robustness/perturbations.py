"""Image and mask perturbations for feature robustness (Zwanenburg et al. 2019, Sci Rep 9:614).

Each perturbed copy of an (image, mask) pair applies a chain of perturbations
with parameters drawn from a seeded generator:

- ``rotation``: a rotation about the slice axis through the ROI's centroid;
- ``translation``: a sub-voxel shift along every axis (a fraction of the spacing);
- ``resampling``: a new voxel spacing (a factor times the original) over the same extent;
- ``noise``: additive Gaussian noise with the image's own noise level (see :func:`estimateNoiseSigma`);
- ``volume``: the mask grown or shrunk to a target volume fraction (signed distance threshold).

Rotation, translation and resampling are one resampling step (linear for the
image; the mask is interpolated linearly and thresholded at 0.5, Zwanenburg's
partial-volume rule). Noise is then added to the image and the volume adapted
on the new grid. The chain of all five is Zwanenburg's RTNV plus resampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError

PERTURBATIONS = ("rotation", "translation", "resampling", "noise", "volume")
#: Zwanenburg's RTNV chain (rotation, translation, noise, volume adaptation).
DEFAULT_PERTURBATIONS = ("rotation", "translation", "noise", "volume")


@dataclass(frozen=True)
class PerturbationRanges:
    """Ranges the perturbation parameters are drawn from, uniformly.

    :ivar rotationDegrees: rotations in [−r, r] degrees.
    :ivar translationFraction: shifts in [0, t] of the voxel spacing, per axis.
    :ivar spacingFactors: new spacing = factor × spacing, factor in [low, high].
    :ivar noiseScale: noise standard deviation = scale × the image's noise estimate.
    :ivar volumeFraction: mask volume changed by a fraction in [−v, v] (0.2: ±20 %).
    """

    rotationDegrees: float = 15.0
    translationFraction: float = 0.5
    spacingFactors: tuple[float, float] = (0.8, 1.2)
    noiseScale: float = 1.0
    volumeFraction: float = 0.2


def perturbCase(
    image: sitk.Image,
    mask: sitk.Image,
    seed: int,
    count: int,
    perturbations: Sequence[str] = DEFAULT_PERTURBATIONS,
    ranges: PerturbationRanges = PerturbationRanges(),
    label: int = 1,
) -> list[tuple[sitk.Image, sitk.Image, dict]]:
    """``count`` perturbed copies of ``image`` and its ROI (``mask == label``).

    :param seed: the same seed gives the same copies.
    :param perturbations: the chain applied to every copy, a subset of :data:`PERTURBATIONS`.
    :returns: ``(image, mask, description)`` per copy: a float32 image, a uint8 mask with
        label 1, and the parameters drawn (``perturbation``, ``rotationDegrees``, ``translationMm``,
        ``spacingFactor``, ``noiseSigma``, ``volumeFraction``, ``voxels``).
    :raises InputError: for an unknown perturbation, a bad count or seed, or an empty ROI.
    :raises GeometryError: when image and mask are not on one 3-D grid.
    """
    unknown = [name for name in perturbations if name not in PERTURBATIONS]
    if unknown:
        raise InputError(
            f"Unknown perturbation(s) {', '.join(map(repr, unknown))}; choose from {', '.join(PERTURBATIONS)}."
        )
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise InputError(f"Perturbation count is {count!r}; give a whole number of perturbed copies, at least 1.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"Perturbation seed is {seed!r}; give a whole number, 0 or more.")
    roi = binaryRoi(image, mask, label)
    image = sitk.Cast(image, sitk.sitkFloat32)
    noiseSigma = estimateNoiseSigma(image) if "noise" in perturbations else 0.0
    copies = []
    for index in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
        parameters = _drawParameters(rng, perturbations, ranges, image.GetSpacing())
        parameters["noiseSigma"] = ranges.noiseScale * noiseSigma if "noise" in perturbations else 0.0
        perturbedImage, perturbedMask = _resampleGeometry(image, roi, parameters)
        if parameters["noiseSigma"] > 0:
            perturbedImage = _addNoise(perturbedImage, parameters["noiseSigma"], rng)
        if parameters["volumeFraction"] != 0:
            perturbedMask = adaptVolume(perturbedMask, parameters["volumeFraction"])
        voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(perturbedMask)))
        if voxels == 0:
            raise InputError(
                f"Perturbation {index + 1} ({'+'.join(perturbations)}) left the ROI empty; the ROI is too "
                "small to perturb (give a larger ROI or smaller perturbation ranges)."
            )
        description = {"perturbation": index + 1, "chain": "+".join(perturbations), **parameters, "voxels": voxels}
        copies.append((perturbedImage, perturbedMask, description))
    return copies


def binaryRoi(image: sitk.Image, mask: sitk.Image, label: int = 1) -> sitk.Image:
    """The ROI ``mask == label`` as a uint8 0/1 mask on the image's grid.

    :raises GeometryError: when the image is not 3-D or the mask is on another grid.
    :raises InputError: when no voxel carries ``label``.
    """
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise GeometryError(
            f"Perturbations need a scalar 3-D image; got {image.GetDimension()}-D with "
            f"{image.GetNumberOfComponentsPerPixel()} component(s). Extract one 3-D volume first."
        )
    sameGrid = (
        mask.GetSize() == image.GetSize()
        and np.allclose(mask.GetSpacing(), image.GetSpacing(), rtol=1e-5)
        and np.allclose(mask.GetOrigin(), image.GetOrigin(), atol=1e-4)
        and np.allclose(mask.GetDirection(), image.GetDirection(), atol=1e-5)
    )
    if not sameGrid:
        raise GeometryError(
            f"Mask grid (size {mask.GetSize()}, spacing {mask.GetSpacing()}) differs from the image's "
            f"(size {image.GetSize()}, spacing {image.GetSpacing()}); resample the mask onto the image."
        )
    roi = sitk.GetArrayFromImage(mask) == label
    if not roi.any():
        present = np.unique(sitk.GetArrayViewFromImage(mask)).tolist()
        raise InputError(f"Mask has no voxel with label {label} (labels present: {present}); give the tumour's label.")
    roiImage = sitk.GetImageFromArray(roi.astype(np.uint8))
    roiImage.CopyInformation(image)
    return roiImage


def estimateNoiseSigma(image: sitk.Image) -> float:
    """Robust estimate of the image's noise standard deviation (wavelet-style, Donoho 1995).

    The mixed difference over each 2×2×2 neighbourhood (Haar's finest HHH detail,
    unnormalised) cancels smooth signal and has variance ``8 σ²`` under white noise;
    its median absolute value gives ``σ = median|d| / 0.6745 / √8``. Where most
    differences are zero (a constant background), only the non-zero ones are used.
    """
    differences = sitk.GetArrayViewFromImage(image).astype(np.float64)
    axes = [axis for axis in range(differences.ndim) if differences.shape[axis] > 1]
    for axis in axes:
        differences = np.diff(differences, axis=axis)
    differences = differences.ravel()
    if np.count_nonzero(differences) * 2 < differences.size:
        differences = differences[differences != 0]
    if differences.size == 0:
        return 0.0
    return float(np.median(np.abs(differences))) / 0.6745 / math.sqrt(2.0 ** len(axes))


def adaptVolume(mask: sitk.Image, fraction: float) -> sitk.Image:
    """Grow (``fraction`` > 0) or shrink the 0/1 ``mask`` to ``(1 + fraction)`` times its voxel count.

    Voxels are ranked by their signed distance to the ROI surface (mm), so growth
    and shrinkage follow the ROI's shape; at least one voxel is kept.
    """
    array = sitk.GetArrayViewFromImage(mask) > 0
    current = int(array.sum())
    target = int(np.clip(round(current * (1.0 + fraction)), 1, array.size))
    if target == current or current == 0:
        return mask
    distance = sitk.GetArrayFromImage(
        sitk.SignedMaurerDistanceMap(
            sitk.Cast(mask > 0, sitk.sitkUInt8), insideIsPositive=False, squaredDistance=False, useImageSpacing=True
        )
    )
    order = np.argsort(distance, axis=None, kind="stable")
    adapted = np.zeros(array.size, dtype=np.uint8)
    adapted[order[:target]] = 1
    result = sitk.GetImageFromArray(adapted.reshape(array.shape))
    result.CopyInformation(mask)
    return result


def _drawParameters(
    rng: np.random.Generator, perturbations: Sequence[str], ranges: PerturbationRanges, spacing: Sequence[float]
) -> dict:
    # Every parameter is drawn whether used or not, so the links a chain shares get the same values.
    angle = rng.uniform(-ranges.rotationDegrees, ranges.rotationDegrees)
    shift = rng.uniform(0.0, ranges.translationFraction, size=3) * np.asarray(spacing)
    factor = rng.uniform(*ranges.spacingFactors)
    volume = rng.uniform(-ranges.volumeFraction, ranges.volumeFraction)
    return {
        "rotationDegrees": float(angle) if "rotation" in perturbations else 0.0,
        "translationMm": tuple(float(v) for v in shift) if "translation" in perturbations else (0.0, 0.0, 0.0),
        "spacingFactor": float(factor) if "resampling" in perturbations else 1.0,
        "volumeFraction": float(volume) if "volume" in perturbations else 0.0,
    }


def _resampleGeometry(image: sitk.Image, roi: sitk.Image, parameters: dict) -> tuple[sitk.Image, sitk.Image]:
    factor = parameters["spacingFactor"]
    spacing = [s * factor for s in image.GetSpacing()]
    size = [max(1, int(math.ceil(n / factor))) for n in image.GetSize()]
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(roi)
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    transform = sitk.Euler3DTransform()
    transform.SetCenter(statistics.GetCentroid(1))
    # Rotation about the slice (k) axis, whatever the image's orientation: R = D Rz D^T.
    theta = math.radians(parameters["rotationDegrees"])
    rz = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    transform.SetMatrix(tuple((direction @ rz @ direction.T).ravel()))
    transform.SetTranslation(tuple(direction @ np.asarray(parameters["translationMm"])))
    grid = sitk.Image(size, sitk.sitkUInt8)
    grid.SetSpacing(spacing)
    grid.SetOrigin(image.GetOrigin())
    grid.SetDirection(image.GetDirection())
    if parameters["rotationDegrees"] == 0 and not any(parameters["translationMm"]) and factor == 1.0:
        return image, roi
    newImage = sitk.Resample(image, grid, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    fuzzy = sitk.Resample(sitk.Cast(roi, sitk.sitkFloat32), grid, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return newImage, sitk.Cast(fuzzy >= 0.5, sitk.sitkUInt8)


def _addNoise(image: sitk.Image, sigma: float, rng: np.random.Generator) -> sitk.Image:
    array = sitk.GetArrayFromImage(image)
    noisy = sitk.GetImageFromArray((array + rng.normal(0.0, sigma, array.shape)).astype(np.float32))
    noisy.CopyInformation(image)
    return noisy


def describe(ranges: PerturbationRanges) -> dict:
    """The ranges as a plain dict (for provenance)."""
    return asdict(ranges)
