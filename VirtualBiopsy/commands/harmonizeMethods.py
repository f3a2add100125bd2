"""The methods of ``virtual-biopsy harmonize``: parsed arguments → the panel's config → the library's call."""

from __future__ import annotations

import argparse
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig


def harmonizeImage(image: sitk.Image, arguments: argparse.Namespace) -> tuple[sitk.Image, dict[str, Any]]:
    """Run ``arguments.method`` on ``image`` with the config the Harmonization panel builds for it:
    :class:`~VirtualBiopsy.harmonize.preprocessingConfig.PreprocessingConfig` for ``n4``, ``denoise`` and
    ``resample``, :class:`~VirtualBiopsy.harmonize.config.HarmonizationConfig` for the normalizations.

    :returns: the result and its settings (the config's fields, for the provenance).
    :raises InputError: for a missing or bad input file or option (or any error of the method).
    """
    method = arguments.method
    if method in ("denoise", "resample") and arguments.mask is not None:
        raise InputError(f"--mask does not apply to --method {method}; drop it.")
    if method in ("n4", "denoise", "resample"):
        return _preprocess(image, preprocessingConfig(arguments), arguments)
    return _normalize(image, harmonizationConfig(arguments), arguments)


def preprocessingConfig(arguments: argparse.Namespace) -> PreprocessingConfig:
    """The :class:`PreprocessingConfig` of the options given (the others keep the config's defaults)."""
    values: dict[str, Any] = {
        "n4ShrinkFactor": arguments.shrink_factor,
        "n4ConvergenceThreshold": arguments.convergence_threshold,
        "denoisingMethod": arguments.denoise_method,
        "resamplingSpacingMm": arguments.spacing_mm,
        "resamplingInterpolator": arguments.interpolator,
    }
    if arguments.method == "resample":
        values["resamplingPreset"] = arguments.preset or (
            "reference" if arguments.reference is not None else "isotropic"
        )
        if values["resamplingPreset"] == "reference" and arguments.spacing_mm is not None:
            raise InputError(
                "--spacing-mm does not apply to --preset reference (the reference's grid is used); drop it."
            )
    if arguments.iterations:
        perLevel = _integers(arguments.iterations, "--iterations")
        if len(set(perLevel)) != 1:
            raise InputError(
                f"--iterations {arguments.iterations}: every N4 level runs the same number of iterations "
                "(PreprocessingConfig.n4Iterations); give it once per level, e.g. 50,50,50,50."
            )
        values.update(n4Levels=len(perLevel), n4Iterations=perLevel[0])
    return PreprocessingConfig.fromDict({key: value for key, value in values.items() if value is not None})


def harmonizationConfig(arguments: argparse.Namespace) -> HarmonizationConfig:
    """The :class:`HarmonizationConfig` of the options given (the others keep the config's defaults)."""
    if arguments.method == "nyul" and arguments.model is None:
        raise InputError("--method nyul needs --model LANDMARKS.json (fit one with 'virtual-biopsy nyul fit').")
    if arguments.method == "histmatch" and arguments.reference is None:
        raise InputError("--method histmatch needs --reference PATH: the volume whose histogram the image should take.")
    maskMode = "mask" if arguments.mask is not None else (arguments.mask_mode or "foreground")
    values = {
        "normalization": arguments.method,
        "maskMode": maskMode,
        "backgroundValue": arguments.background,
        "normalizeOutsideMask": arguments.normalize_outside_mask,
        "whiteStripeContrast": arguments.contrast,
        "whiteStripeWidth": arguments.width,
        "nyulModelFile": str(arguments.model) if arguments.model is not None else None,
        "histogramLevels": arguments.histogram_levels,
        "histogramMatchPoints": arguments.match_points,
        "percentileLow": arguments.low,
        "percentileHigh": arguments.high,
        "percentileClip": False if arguments.no_clip else None,
        "equalizationBins": arguments.bins,
        "claheClipLimit": arguments.clip_limit,
        "claheKernelSizeMm": arguments.kernel_size_mm,
    }
    return HarmonizationConfig.fromDict({key: value for key, value in values.items() if value is not None})


def _preprocess(
    image: sitk.Image, config: PreprocessingConfig, arguments: argparse.Namespace
) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.harmonize.biasField import correctBiasField
    from VirtualBiopsy.harmonize.denoising import denoiseImage
    from VirtualBiopsy.harmonize.resampling import resampleImage

    if arguments.method == "n4":
        mask = readImage(arguments.mask, "mask") if arguments.mask is not None else None
        with progressBar("n4") as progress:
            corrected, _bias = correctBiasField(image, mask, progress=progress, **config.biasFieldArguments())
        return corrected, config.toDict()
    if arguments.method == "denoise":
        return denoiseImage(image, **config.denoisingArguments()), config.toDict()
    reference = readImage(arguments.reference, "reference image") if arguments.reference is not None else None
    return resampleImage(image, reference=reference, **config.resamplingArguments()), config.toDict()


def _normalize(
    image: sitk.Image, config: HarmonizationConfig, arguments: argparse.Namespace
) -> tuple[sitk.Image, dict[str, Any]]:
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.harmonize.configuredNormalization import normalizeImage
    from VirtualBiopsy.harmonize.normalization import NyulModel

    mask = readImage(arguments.mask, "mask") if arguments.mask is not None else None
    reference = referenceMask = None
    if arguments.reference is not None:
        reference = readImage(arguments.reference, "reference image")
    if arguments.reference_mask is not None:
        referenceMask = readImage(arguments.reference_mask, "reference mask")
    options = config.toDict()
    if config.normalization == "nyul":
        model = NyulModel.load(config.nyulModelFile)
        options.update(percentiles=list(model.percentiles), sequence=model.sequence)
    return normalizeImage(image, config, mask, reference, referenceMask), options


def _integers(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise InputError(f"{option} {text!r}: give whole numbers separated by commas, e.g. 50,50,50,50.") from error
    if not values:
        raise InputError(f"{option} is empty; give whole numbers separated by commas, e.g. 50,50,50,50.")
    return values
