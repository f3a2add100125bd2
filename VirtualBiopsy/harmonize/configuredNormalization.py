"""Intensity normalization of one image with the settings of a :class:`HarmonizationConfig`.

The one mapping from the config onto the normalization functions, used on nodes by
:class:`~VirtualBiopsy.harmonize.logic.HarmonizationLogic` (the panel, the console and the cohort
pipeline) and on files by ``virtual-biopsy harmonize``.
"""

from __future__ import annotations

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.normalization import (
    NyulModel,
    applyNyul,
    clahe,
    histogramEqualization,
    histogramMatching,
    percentileRescale,
    whiteStripeNormalize,
    zScoreNormalize,
)


def requireInputs(config: HarmonizationConfig, mask: object, reference: object) -> None:
    """Refuse a mask or reference that the config does not use, or a missing one that it needs.

    :raises InputError: naming the setting and the fix.
    """
    if config.maskMode == "mask" and mask is None:
        raise InputError(
            "maskMode is 'mask' but no mask node was given; select a segmentation or labelmap, or "
            "use maskMode 'foreground'."
        )
    if config.maskMode != "mask" and mask is not None:
        raise InputError(
            f"A mask node was given but maskMode is '{config.maskMode}'; set maskMode to 'mask' to "
            "use it, or leave the mask out."
        )
    if config.normalization == "histmatch" and reference is None:
        raise InputError(
            "Histogram matching needs a reference volume; select the volume whose histogram the input should take."
        )
    if config.normalization != "histmatch" and reference is not None:
        raise InputError(
            f"A reference volume was given but normalization is '{config.normalization}'; only "
            "'histmatch' uses one. Leave it out or choose histogram matching."
        )


def statisticsMask(config: HarmonizationConfig, image: sitk.Image, mask: sitk.Image | None) -> sitk.Image | None:
    """The voxels the statistics come from: ``mask`` (maskMode ``mask``), the head (``foreground``) or all (``none``)."""
    if config.maskMode == "none":
        return None
    if config.maskMode == "foreground":
        return foregroundMask(image)
    return mask


def normalizeImage(
    image: sitk.Image,
    config: HarmonizationConfig,
    mask: sitk.Image | None = None,
    reference: sitk.Image | None = None,
    referenceMask: sitk.Image | None = None,
) -> sitk.Image:
    """Normalize ``image`` as ``config`` says.

    :param mask: with maskMode ``mask``: the 0/1 mask the statistics come from (on the image grid).
    :param reference: with ``histmatch``: the image whose histogram is matched.
    :param referenceMask: with ``histmatch``: the reference's voxels to match; default its head, or every
        voxel with maskMode ``none``.
    :raises InputError: for a missing or unexpected mask or reference, or any normalization error.
    """
    config.validate()
    requireInputs(config, mask, reference)
    mask = statisticsMask(config, image, mask)
    background = None if config.normalizeOutsideMask or mask is None else config.backgroundValue
    method = config.normalization
    if method == "zscore":
        return zScoreNormalize(image, mask, background)
    if method == "whitestripe":
        return whiteStripeNormalize(image, mask, config.whiteStripeContrast, config.whiteStripeWidth, background)
    if method == "nyul":
        return applyNyul(image, mask, NyulModel.load(config.nyulModelFile), background)
    if method == "histmatch":
        assert reference is not None  # checked above, with the fix
        if referenceMask is None and config.maskMode != "none":
            referenceMask = foregroundMask(reference)
        return histogramMatching(
            image,
            mask,
            reference,
            referenceMask,
            config.histogramLevels,
            config.histogramMatchPoints,
            backgroundValue=background,
        )
    if method == "percentile":
        return percentileRescale(
            image, mask, config.percentileLow, config.percentileHigh, (0.0, 1.0), config.percentileClip, background
        )
    if method == "histeq":
        return histogramEqualization(image, mask, config.equalizationBins, background)
    kernel = config.claheKernelSizeMm or None
    return clahe(image, mask, config.claheClipLimit, kernel, config.equalizationBins, background)
