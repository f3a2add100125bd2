"""The methods of ``virtual-biopsy harmonize``: from parsed arguments to the library's call."""

from __future__ import annotations

import argparse
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError


def harmonizeImage(image: sitk.Image, arguments: argparse.Namespace) -> tuple[sitk.Image, dict[str, Any]]:
    """Run ``arguments.method`` on ``image``.

    :returns: the result and the options it ran with (for the provenance).
    :raises InputError: for a missing or bad input file or option (or any error of the method).
    """
    method = arguments.method
    if method in ("denoise", "resample") and arguments.mask is not None:
        raise InputError(f"--mask does not apply to --method {method}; drop it.")
    if method == "n4":
        return _biasField(image, arguments)
    if method == "denoise":
        from VirtualBiopsy.harmonize.denoising import denoiseImage

        options = {"method": arguments.denoise_method or "nlm"}
        return denoiseImage(image, options["method"]), options
    if method == "resample":
        return _resample(image, arguments)
    return _normalize(image, arguments)


def _biasField(image: sitk.Image, arguments: argparse.Namespace) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.harmonize.biasField import correctBiasField

    options: dict[str, Any] = {
        "shrinkFactor": 4 if arguments.shrink_factor is None else arguments.shrink_factor,
        "iterations": _integers(arguments.iterations, "--iterations") if arguments.iterations else [50, 50, 50, 50],
        "convergenceThreshold": 1e-6 if arguments.convergence_threshold is None else arguments.convergence_threshold,
    }
    mask = readImage(arguments.mask, "mask") if arguments.mask is not None else None
    with progressBar("n4") as progress:
        corrected, _bias = correctBiasField(image, mask, options["shrinkFactor"], options["iterations"],
                                            options["convergenceThreshold"], progress=progress)
    return corrected, options


def _resample(image: sitk.Image, arguments: argparse.Namespace) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.harmonize.resampling import resampleImage

    preset = arguments.preset or ("reference" if arguments.reference is not None else "isotropic")
    options: dict[str, Any] = {"preset": preset, "spacingMm": 1.0 if arguments.spacing_mm is None else arguments.spacing_mm,
               "interpolator": arguments.interpolator or "bspline"}
    if preset == "reference" and arguments.spacing_mm is not None:
        raise InputError("--spacing-mm does not apply to --preset reference (the reference's grid is used); drop it.")
    reference = readImage(arguments.reference, "reference image") if arguments.reference is not None else None
    return resampleImage(image, preset, options["spacingMm"], options["interpolator"], reference), options


def _normalize(image: sitk.Image, arguments: argparse.Namespace) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.harmonize import normalization
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    method = arguments.method
    if arguments.mask is not None:
        mask, maskMode = readImage(arguments.mask, "mask"), "mask"
    elif arguments.mask_mode == "none":
        mask, maskMode = None, "none"
    else:
        mask, maskMode = foregroundMask(image), "foreground"
    background = None if arguments.normalize_outside_mask or mask is None else (
        0.0 if arguments.background is None else arguments.background)
    options: dict[str, Any] = {"maskMode": maskMode, "backgroundValue": background}
    if method == "zscore":
        return normalization.zScoreNormalize(image, mask, background), options
    if method == "whitestripe":
        options.update(contrast=arguments.contrast or "T1", width=0.05 if arguments.width is None else arguments.width)
        return normalization.whiteStripeNormalize(image, mask, options["contrast"], options["width"], background), options
    if method == "nyul":
        if arguments.model is None:
            raise InputError("--method nyul needs --model LANDMARKS.json (fit one with 'virtual-biopsy nyul fit').")
        model = normalization.NyulModel.load(arguments.model)
        options.update(percentiles=list(model.percentiles), sequence=model.sequence)
        return normalization.applyNyul(image, mask, model, background), options
    if method == "histmatch":
        return _histogramMatching(image, mask, maskMode, background, arguments, options)
    if method == "percentile":
        options.update(low=1.0 if arguments.low is None else arguments.low,
                       high=99.0 if arguments.high is None else arguments.high, clip=not arguments.no_clip)
        return normalization.percentileRescale(image, mask, options["low"], options["high"], (0.0, 1.0),
                                               options["clip"], background), options
    options["bins"] = 256 if arguments.bins is None else arguments.bins
    if method == "histeq":
        return normalization.histogramEqualization(image, mask, options["bins"], background), options
    options.update(clipLimit=0.01 if arguments.clip_limit is None else arguments.clip_limit,
                   kernelSizeMm=arguments.kernel_size_mm)
    return normalization.clahe(image, mask, options["clipLimit"], options["kernelSizeMm"], options["bins"],
                               background), options


def _histogramMatching(
    image: sitk.Image,
    mask: sitk.Image | None,
    maskMode: str,
    background: float | None,
    arguments: argparse.Namespace,
    options: dict[str, Any],
) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.harmonize.foreground import foregroundMask
    from VirtualBiopsy.harmonize.normalization import histogramMatching

    if arguments.reference is None:
        raise InputError("--method histmatch needs --reference PATH: the volume whose histogram the image should take.")
    reference = readImage(arguments.reference, "reference image")
    if arguments.reference_mask is not None:
        referenceMask = readImage(arguments.reference_mask, "reference mask")
    else:
        referenceMask = None if maskMode == "none" else foregroundMask(reference)
    options.update(histogramLevels=1024 if arguments.histogram_levels is None else arguments.histogram_levels,
                   matchPoints=7 if arguments.match_points is None else arguments.match_points)
    return histogramMatching(image, mask, reference, referenceMask, options["histogramLevels"], options["matchPoints"],
                             backgroundValue=background), options


def _integers(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise InputError(f"{option} {text!r}: give whole numbers separated by commas, e.g. 50,50,50,50.") from error
    if not values:
        raise InputError(f"{option} is empty; give whole numbers separated by commas, e.g. 50,50,50,50.")
    return values
