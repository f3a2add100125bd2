"""Nyúl histogram standardization (Nyúl & Udupa, Magn. Reson. Med. 1999; Nyúl, Udupa & Zhang, IEEE TMI 2000).

Fitting: in each training image, the intensities at the landmark percentiles of
the voxels in its mask are mapped linearly so that the first and last
percentiles land on the standard range; the standard landmarks are their
averages. Applying: a new image's landmarks are mapped piecewise-linearly onto
the standard landmarks, with the first and last segments extended (linear
extrapolation) beyond them. This is the algorithm of TorchIO's
``HistogramStandardization`` and intensity-normalization's ``NyulNormalizer``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.normalization.maskedImage import (
    mappedImage,
    maskedImage,
    requireSpread,
)
from VirtualBiopsy.harmonize.normalization.nyulModel import NyulModel, checkScale
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

METHOD = "Nyúl standardization"
#: Landmark percentiles: the intensity range of interest (1st–99th) and the deciles.
DEFAULT_PERCENTILES = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 99.0)
DEFAULT_STANDARD_RANGE = (0.0, 100.0)


def fitNyulLandmarks(
    images: Sequence[sitk.Image],
    masks: Sequence[sitk.Image | None] | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    standardRange: tuple[float, float] = DEFAULT_STANDARD_RANGE,
    sequence: str = "",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> NyulModel:
    """Fit the standard scale on a cohort's images of one sequence.

    :param images: the training images (at least one).
    :param masks: one mask (or ``None`` for every voxel) per image, on its grid; ``None``: no masks.
    :param percentiles: landmark percentiles, strictly increasing, in (0, 100).
    :param standardRange: where the first and last percentiles map.
    :param sequence: the sequence name stored in the model.
    :raises InputError: for no images, a count of masks that differs, bad percentiles or range, or an
        image whose landmarks are not strictly increasing (or any check of the masked voxels).
    :raises GeometryError: for a mask on another grid.
    :raises CancelledError: when cancelled.
    """
    images = list(images)
    if not images:
        raise InputError(f"{METHOD}: no images to fit the standard scale on; give at least one.")
    masks = [None] * len(images) if masks is None else list(masks)
    if len(masks) != len(images):
        raise InputError(f"{METHOD}: {len(images)} images but {len(masks)} masks; give one mask (or None) per image.")
    percentiles, standardRange = checkPercentiles(percentiles, standardRange)
    progress = progress or noProgress
    low, high = standardRange
    scaled, hashes = [], []
    for index, (image, mask) in enumerate(zip(images, masks)):
        if cancel is not None:
            cancel.raiseIfCancelled()
        progress(index / len(images), f"Landmarks of image {index + 1}/{len(images)}")
        landmarks = imageLandmarks(image, mask, percentiles, f"training image {index + 1}")
        scaled.append(low + (landmarks - landmarks[0]) * (high - low) / (landmarks[-1] - landmarks[0]))
        hashes.append(voxelHash(image))
    standard = np.mean(scaled, axis=0)
    progress(1.0, f"Standard scale fitted on {len(images)} images")
    return NyulModel(
        percentiles=percentiles,
        standardLandmarks=tuple(float(v) for v in standard),
        standardRange=standardRange,
        sequence=sequence,
        fittedOnCount=len(images),
        fittedOnHashes=tuple(hashes),
    )


def checkPercentiles(
    percentiles: Sequence[float], standardRange: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, float]]:
    """The percentiles and standard range as float tuples, after checking them.

    :raises InputError: for percentiles that are not strictly increasing in (0, 100), or a range
        that is not two finite numbers, low < high.
    """
    percentiles = tuple(float(p) for p in percentiles)
    standardRange = tuple(float(value) for value in standardRange)
    checkScale(percentiles, np.linspace(0.0, 1.0, len(percentiles)), standardRange)
    low, high = standardRange  # checkScale has checked that there are two
    return percentiles, (low, high)


def applyNyul(
    image: sitk.Image, mask: sitk.Image | None, model: NyulModel, backgroundValue: float | None = 0.0
) -> sitk.Image:
    """Map ``image`` onto the model's standard scale.

    :param mask: the voxels whose percentiles are the image's landmarks (``None``: every voxel).
    :param backgroundValue: written outside the mask; ``None`` maps every voxel.
    :returns: a Float32 image on the same grid.
    :raises InputError: for landmarks that are not strictly increasing or any check of the masked voxels.
    :raises GeometryError: for a mask on another grid.
    """
    if not isinstance(model, NyulModel):
        raise InputError(
            f"{METHOD}: expected a NyulModel, got {type(model).__name__}; load one with "
            "NyulModel.load(path) or fit one with fitNyulLandmarks."
        )
    masked = maskedImage(image, mask, backgroundValue, METHOD)
    landmarks = _landmarksOf(masked.values, model.percentiles, "image")
    standard = np.asarray(model.standardLandmarks)
    return mappedImage(masked, lambda x: piecewiseLinear(x, landmarks, standard), backgroundValue)


def piecewiseLinear(values: np.ndarray, knots: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The piecewise-linear map through ``(knots, targets)``, extended by its first and last segments."""
    mapped = np.interp(values, knots, targets)
    below, above = values < knots[0], values > knots[-1]
    firstSlope = (targets[1] - targets[0]) / (knots[1] - knots[0])
    lastSlope = (targets[-1] - targets[-2]) / (knots[-1] - knots[-2])
    mapped[below] = targets[0] + (values[below] - knots[0]) * firstSlope
    mapped[above] = targets[-1] + (values[above] - knots[-1]) * lastSlope
    return mapped


def imageLandmarks(image: sitk.Image, mask: sitk.Image | None, percentiles: Sequence[float], what: str) -> np.ndarray:
    """The intensities of ``image`` at ``percentiles`` of the voxels in ``mask`` (checked as for applying)."""
    masked = maskedImage(image, mask, 0.0, f"{METHOD} ({what})")
    return _landmarksOf(masked.values, percentiles, what)


def voxelHash(image: sitk.Image) -> str:
    """SHA-256 of an image's pixel type, size and voxel bytes (no file name, no metadata)."""
    digest = hashlib.sha256()
    digest.update(f"{image.GetPixelIDTypeAsString()}|{image.GetSize()}|".encode())
    digest.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).tobytes())
    return digest.hexdigest()


def _landmarksOf(values: np.ndarray, percentiles: Sequence[float], what: str) -> np.ndarray:
    requireSpread(values, METHOD, f"the intensities of the {what} inside the mask")
    landmarks = np.percentile(values, percentiles)
    repeated = [
        f"{a:g}%/{b:g}%" for a, b, x, y in zip(percentiles, percentiles[1:], landmarks, landmarks[1:]) if y <= x
    ]
    if repeated:
        raise InputError(
            f"{METHOD}: the {what} has the same intensity at percentiles {', '.join(repeated)} "
            f"(landmarks {np.round(landmarks, 6).tolist()}); the mask probably includes a large uniform background. "
            "Use a mask of the tissue only."
        )
    return landmarks
