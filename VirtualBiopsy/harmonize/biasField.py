"""N4 bias-field correction (Tustison et al. 2010) through SimpleITK.

Follows SimpleITK's own N4 example: the filter fits the log bias field on a
shrunk copy of the image (fast), then the field is reconstructed at full
resolution from its B-spline control points (``GetLogBiasFieldAsImage``) and
divided out of the original image, so the corrected image keeps every voxel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.imageInputs import (
    requireMaskOnGrid,
    requirePositiveInt,
    requirePositiveReal,
    requireUsableImage,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: Fewest voxels with positive intensity the fitting mask must keep (after shrinking).
MINIMUM_FIT_VOXELS = 64


def correctBiasField(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    shrinkFactor: int = 4,
    iterations: Sequence[int] = (50, 50, 50, 50),
    convergenceThreshold: float = 1e-6,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[sitk.Image, sitk.Image]:
    """Remove a smooth multiplicative bias field with N4.

    :param image: a 3D scalar MR image (any pixel type; computed in Float32).
    :param mask: 0/1 image on the same grid: the voxels the field is fitted on. ``None`` uses the
        foreground (:func:`~VirtualBiopsy.harmonize.foreground.foregroundMask`). Voxels ≤ 0 are left
        out of the fit (N4 works on the logarithm of the intensities).
    :param shrinkFactor: the fit runs on the image shrunk by this factor along every axis (1: no shrink).
    :param iterations: maximum iterations per fitting level; its length is the number of levels
        (the B-spline mesh doubles at each level).
    :param convergenceThreshold: stop a level when the change of the field falls below this.
    :param progress: ``progress(fraction, message)`` after each iteration.
    :param cancel: checked after each iteration. SimpleITK's N4 ignores ``Abort()`` (measured with
        SimpleITK 2.5), so a cancelled fit runs to its end and its result is discarded.
    :returns: ``(corrected, biasField)``, both Float32 on ``image``'s grid; ``image = corrected × biasField``
        wherever the image is defined. The input is not modified.
    :raises InputError: for NaN/Inf voxels, a constant image, bad settings or a mask with too few positive voxels.
    :raises GeometryError: for a 2D/4D image or a mask on another grid.
    :raises CancelledError: when ``cancel`` was set.
    """
    image = requireUsableImage(image, "image to correct")
    shrinkFactor = requirePositiveInt(shrinkFactor, "N4 shrinkFactor")
    levels = [requirePositiveInt(value, "N4 iterations per level") for value in _sequence(iterations, "N4 iterations")]
    convergenceThreshold = requirePositiveReal(convergenceThreshold, "N4 convergenceThreshold")
    progress = progress or noProgress
    mask = foregroundMask(image) if mask is None else requireMaskOnGrid(mask, image, "N4 mask")
    mask = fittingMask(image, mask)

    shrunkImage = sitk.Shrink(image, [shrinkFactor] * image.GetDimension())
    shrunkMask = sitk.Shrink(mask, [shrinkFactor] * image.GetDimension())
    fitVoxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(shrunkMask)))
    if fitVoxels < MINIMUM_FIT_VOXELS:
        raise InputError(
            f"The N4 mask keeps {fitVoxels} voxels after shrinking by {shrinkFactor} (at least {MINIMUM_FIT_VOXELS} are "
            "needed); use a larger mask or a smaller shrinkFactor."
        )
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(levels)
    corrector.SetConvergenceThreshold(convergenceThreshold)
    total = sum(levels)
    done = [0]

    def onIteration() -> None:
        done[0] += 1
        level = corrector.GetCurrentLevel()
        progress(
            min(done[0] / total, 0.99),
            f"N4 level {level + 1}/{len(levels)}, iteration {corrector.GetElapsedIterations()}",
        )
        if cancel is not None and cancel.cancelled:
            corrector.Abort()

    corrector.AddCommand(sitk.sitkIterationEvent, onIteration)
    if cancel is not None:
        cancel.raiseIfCancelled()
    progress(0.0, f"N4 bias-field correction (shrink {shrinkFactor}, {len(levels)} levels)")
    try:
        corrector.Execute(shrunkImage, shrunkMask)
    except RuntimeError as error:
        if cancel is not None and cancel.cancelled:
            raise CancelledError("N4 bias-field correction was cancelled by the user.") from error
        raise
    if cancel is not None:
        cancel.raiseIfCancelled()
    logBiasField = corrector.GetLogBiasFieldAsImage(image)
    biasField = sitk.Exp(logBiasField)
    corrected = sitk.Divide(image, biasField)
    logger.info("N4: %d iterations over %d levels, shrink %d", done[0], len(levels), shrinkFactor)
    progress(1.0, "N4 bias-field correction done")
    return corrected, biasField


def fittingMask(image: sitk.Image, mask: sitk.Image) -> sitk.Image:
    """The voxels N4 fits on: ``mask`` restricted to positive intensities (UInt8 0/1)."""
    positive = sitk.Cast(image > 0, sitk.sitkUInt8)
    return sitk.And(sitk.Cast(mask > 0, sitk.sitkUInt8), positive)


def _sequence(values: object, what: str) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise InputError(
            f"{what} is {values!r}; give a non-empty list of whole numbers, one per level, e.g. [50, 50, 50, 50]."
        )
    return list(values)
