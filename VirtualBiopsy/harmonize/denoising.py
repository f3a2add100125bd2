"""Denoising of MR volumes through SimpleITK.

- ``nlm``: patch-based non-local means (Awate & Whitaker), SimpleITK's
  ``PatchBasedDenoisingImageFilter``; best quality, slowest (minutes on 128³).
- ``gradientAnisotropicDiffusion`` (Perona–Malik) and ``curvatureFlow``: fast and
  edge-preserving. Their explicit time step must stay below ITK's stability limit
  ``min(spacing) / 2^(dimension + 1)`` (both filters use the image spacing); by
  default the limit itself is used, so the filters are stable on every grid.
- ``bilateral``: Gaussian in space (``domainSigma``, mm) and in intensity (``rangeSigma``).
"""

from __future__ import annotations

import logging

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.imageInputs import (
    requirePositiveInt,
    requirePositiveReal,
    requireUsableImage,
)

logger = logging.getLogger(__name__)

#: Denoising methods and the options each accepts (with their defaults).
DENOISING_METHODS: dict[str, dict[str, object]] = {
    "nlm": {
        "patchRadius": 2,
        "iterations": 1,
        "noiseModel": "none",
        "kernelBandwidthSigma": 400.0,
        "samplePatches": 200,
        "noiseModelFidelityWeight": 0.0,
    },
    "gradientAnisotropicDiffusion": {"iterations": 5, "conductance": 1.0, "timeStep": None},
    "curvatureFlow": {"iterations": 5, "timeStep": None},
    "bilateral": {"domainSigma": 2.0, "rangeSigma": None},
}

#: Noise models of the patch-based filter.
NOISE_MODELS = {"none": "NOMODEL", "gaussian": "GAUSSIAN", "rician": "RICIAN", "poisson": "POISSON"}


def stableTimeStep(image: sitk.Image) -> float:
    """ITK's stability limit of the explicit diffusion / curvature-flow time step: ``min(spacing) / 2^(dim + 1)``."""
    return min(image.GetSpacing()) / 2.0 ** (image.GetDimension() + 1)


def denoiseImage(image: sitk.Image, method: str = "nlm", **options) -> sitk.Image:
    """Denoise a 3D scalar image.

    :param image: any pixel type; the result is Float32 on the same grid (the input is not modified;
        ``curvatureFlow`` computes in Float64 and is cast).
    :param method: one of :data:`DENOISING_METHODS`.
    :param options: the method's options (see :data:`DENOISING_METHODS` for names and defaults).
        ``nlm``: ``patchRadius`` (voxels), ``iterations``, ``noiseModel`` (``none``, ``gaussian``,
        ``rician``, ``poisson``), ``kernelBandwidthSigma``, ``samplePatches``, ``noiseModelFidelityWeight``.
        ``gradientAnisotropicDiffusion``: ``iterations``, ``conductance``, ``timeStep`` (default: the stable limit).
        ``curvatureFlow``: ``iterations``, ``timeStep``. ``bilateral``: ``domainSigma`` (mm),
        ``rangeSigma`` (default: the standard deviation of the image's intensities).
    :raises InputError: for an unknown method or option, an unstable time step, NaN/Inf voxels or a constant image.
    :raises GeometryError: for a 2D/4D image.
    """
    if method not in DENOISING_METHODS:
        raise InputError(f"Unknown denoising method {method!r}; choose one of {', '.join(DENOISING_METHODS)}.")
    unknown = sorted(set(options) - set(DENOISING_METHODS[method]))
    if unknown:
        raise InputError(
            f"Denoising method {method!r} has no option {', '.join(map(repr, unknown))}; its options are "
            f"{', '.join(DENOISING_METHODS[method])}."
        )
    image = requireUsableImage(image, "image to denoise")
    settings = {**DENOISING_METHODS[method], **options}
    logger.info("Denoising with %s %s", method, settings)
    return sitk.Cast(_denoise(image, method, settings), sitk.sitkFloat32)


def _denoise(image: sitk.Image, method: str, settings: dict) -> sitk.Image:
    if method == "nlm":
        return _nonLocalMeans(image, settings)
    if method == "bilateral":
        rangeSigma = settings["rangeSigma"]
        if rangeSigma is None:
            rangeSigma = float(sitk.GetArrayViewFromImage(image).std())
        return sitk.Bilateral(
            image,
            requirePositiveReal(settings["domainSigma"], "bilateral domainSigma"),
            requirePositiveReal(rangeSigma, "bilateral rangeSigma"),
        )
    iterations = requirePositiveInt(settings["iterations"], f"{method} iterations")
    timeStep = _timeStep(image, settings["timeStep"], method)
    if method == "curvatureFlow":
        return sitk.CurvatureFlow(image, timeStep=timeStep, numberOfIterations=iterations)
    conductance = requirePositiveReal(settings["conductance"], "gradientAnisotropicDiffusion conductance")
    return sitk.GradientAnisotropicDiffusion(
        image, timeStep=timeStep, conductanceParameter=conductance, numberOfIterations=iterations
    )


def _nonLocalMeans(image: sitk.Image, settings: dict) -> sitk.Image:
    noiseModel = settings["noiseModel"]
    if noiseModel not in NOISE_MODELS:
        raise InputError(f"nlm noiseModel is {noiseModel!r}; choose one of {', '.join(NOISE_MODELS)}.")
    denoiser = sitk.PatchBasedDenoisingImageFilter()
    denoiser.SetPatchRadius(requirePositiveInt(settings["patchRadius"], "nlm patchRadius"))
    denoiser.SetNumberOfIterations(requirePositiveInt(settings["iterations"], "nlm iterations"))
    denoiser.SetNoiseModel(getattr(sitk.PatchBasedDenoisingImageFilter, NOISE_MODELS[noiseModel]))
    denoiser.SetKernelBandwidthSigma(requirePositiveReal(settings["kernelBandwidthSigma"], "nlm kernelBandwidthSigma"))
    denoiser.SetNumberOfSamplePatches(requirePositiveInt(settings["samplePatches"], "nlm samplePatches"))
    weight = settings["noiseModelFidelityWeight"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise InputError(f"nlm noiseModelFidelityWeight is {weight!r}; give a number in [0, 1].")
    denoiser.SetNoiseModelFidelityWeight(float(weight))
    return denoiser.Execute(image)


def _timeStep(image: sitk.Image, timeStep: object, method: str) -> float:
    limit = stableTimeStep(image)
    if timeStep is None:
        return limit
    timeStep = requirePositiveReal(timeStep, f"{method} timeStep")
    if timeStep > limit * (1 + 1e-9):
        raise InputError(
            f"{method} timeStep {timeStep} exceeds the stability limit {limit:.6g} for spacing {image.GetSpacing()} "
            "(min(spacing) / 2^(dimension + 1)); the result would oscillate. Leave timeStep unset or use a smaller one."
        )
    return timeStep
