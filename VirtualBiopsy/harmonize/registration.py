"""Intra-patient multimodal registration (e.g. T1c onto T2) with SimpleITK.

Pipeline: centred rigid initialisation from the moments of the two head masks →
``rigid`` (versor: rotation as a unit quaternion) → ``affine`` → optional B-spline,
each stage multi-resolution with Mattes mutual information on a seeded random sample
of voxels (the same seed gives the same result up to the order of ITK's multi-threaded
sums, ~1e-6 mm). The returned transform follows ITK's resampling
convention: it maps points of the fixed image (LPS, mm) to points of the moving image.

An optional tumour mask, dilated by ``maskDilationMm``, focuses the metric on the
tumour region. Quality control (:mod:`~VirtualBiopsy.harmonize.registrationQuality`)
compares normalized mutual information before and after on the fixed image's
region (the dilated mask, or the head). When QC fails the registration is run again
from the start with the metric restricted to a mask: the dilated tumour mask (twice
the dilation if the first run already used it), or the fixed head mask without a
tumour mask. The better of the two runs is returned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
from VirtualBiopsy.harmonize.registrationQuality import (
    MINIMUM_NMI,
    normalizedMutualInformation,
    passesQc,
)
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.settings import StageConfig

logger = logging.getLogger(__name__)

#: Linear stages, in the order they run.
LINEAR_STAGES = ("rigid", "affine")


@dataclass
class RegistrationSettings(StageConfig):
    """How each stage optimises (defaults suit head MR at 1–4 mm).

    :ivar shrinkFactors: image shrink factor per resolution level.
    :ivar smoothingSigmas: Gaussian smoothing per level, in voxels of that level.
    :ivar iterations: maximum optimiser iterations per level of the linear stages.
    :ivar samplingPercentage: fraction of the fixed voxels (or mask voxels) sampled by the metric.
    :ivar histogramBins: Mattes mutual information histogram bins.
    :ivar bsplineMeshSizeMm: approximate B-spline control point spacing (mm).
    :ivar bsplineIterations: maximum L-BFGS-B iterations of the B-spline stage per level.
    :ivar seed: seed of the metric's random sampling (≥ 0; the same seed gives the same result).
    """

    shrinkFactors: tuple[int, ...] = (4, 2, 1)
    smoothingSigmas: tuple[float, ...] = (2.0, 1.0, 0.0)
    iterations: int = 200
    samplingPercentage: float = 0.25
    histogramBins: int = 32
    bsplineMeshSizeMm: float = 60.0
    bsplineIterations: int = 50
    seed: int = 0

    def validate(self) -> None:
        """:raises InputError: for a bad value, naming it."""
        if len(self.shrinkFactors) == 0 or len(self.shrinkFactors) != len(self.smoothingSigmas):
            raise InputError(
                f"shrinkFactors {tuple(self.shrinkFactors)} and smoothingSigmas {tuple(self.smoothingSigmas)} "
                "must be non-empty and of the same length (one value per resolution level)."
            )
        for factor in self.shrinkFactors:
            requirePositiveInt(factor, "registration shrink factor")
        for sigma in self.smoothingSigmas:
            if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
                raise InputError(f"registration smoothing sigma is {sigma!r}; give a number ≥ 0 (voxels).")
        requirePositiveInt(self.iterations, "registration iterations")
        requirePositiveInt(self.histogramBins, "registration histogramBins", minimum=8)
        requirePositiveInt(self.bsplineIterations, "registration bsplineIterations")
        requirePositiveReal(self.bsplineMeshSizeMm, "registration bsplineMeshSizeMm")
        if not 0 < requirePositiveReal(self.samplingPercentage, "registration samplingPercentage") <= 1:
            raise InputError(
                f"registration samplingPercentage is {self.samplingPercentage}; give a fraction in (0, 1]."
            )
        requirePositiveInt(self.seed, "registration seed", minimum=0)


@dataclass
class RegistrationResult:
    """What :func:`registerImages` returns.

    :ivar transform: maps fixed-image points to moving-image points (LPS, mm; ITK's convention).
    :ivar resampled: the moving image resampled onto the fixed grid (Float32, linear, 0 outside).
    :ivar metrics: ``nmiBefore`` / ``nmiAfter`` (QC region, identity vs final transform), ``mattesBefore`` /
        ``mattesAfter`` (Mattes MI at full resolution on the seeded sample, centred initial vs final transform;
        negative, lower is better).
    :ivar qcPassed: whether the returned run passed QC.
    :ivar retried: whether the registration was run again because the first run failed QC.
    :ivar metricMask: the metric's mask in the returned run: ``none``, ``tumour`` (the dilated mask),
        ``tumourWide`` (dilated twice as far, the retry of ``focusOnMask``) or ``head`` (the fixed head).
    :ivar stagesKept: the stages whose result was kept (a refinement that worsened the metric is dropped).
    :ivar attempts: metrics and QC of every run, in order.
    """

    transform: sitk.Transform
    resampled: sitk.Image
    metrics: dict[str, float]
    qcPassed: bool
    retried: bool
    metricMask: str
    stagesKept: list[str] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)


def registerImages(
    fixed: sitk.Image,
    moving: sitk.Image,
    mask: sitk.Image | None = None,
    stages: Sequence[str] = LINEAR_STAGES,
    bspline: bool = False,
    focusOnMask: bool = False,
    maskDilationMm: float = 10.0,
    retry: bool = True,
    qcMinimumNmi: float = MINIMUM_NMI,
    settings: RegistrationSettings | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RegistrationResult:
    """Register ``moving`` onto ``fixed`` (two images of one patient, any contrasts).

    :param fixed: the reference image; the result lies on its grid.
    :param moving: the image to align (any grid).
    :param mask: a 0/1 tumour mask on the fixed grid; dilated by ``maskDilationMm`` it focuses the metric
        (at once with ``focusOnMask``, else only on retry) and is the QC region.
    :param stages: linear stages in order, a non-empty subsequence of ``("rigid", "affine")``.
    :param bspline: add a deformable B-spline stage after the linear ones.
    :param retry: run again with a metric mask when QC fails.
    :param qcMinimumNmi: lowest NMI after registration that passes QC.
    :param progress: ``progress(fraction, message)`` at every optimiser iteration.
    :param cancel: when set, the optimiser is asked to stop (``Abort``; SimpleITK 2.5 lets the current
        stage finish, measured) and :class:`CancelledError` is raised before any further stage.
    :raises InputError: NaN/Inf voxels, a constant image, an empty mask, bad stages or settings.
    :raises GeometryError: a 2D/4D image or a mask on another grid than ``fixed``.
    :raises CancelledError: when cancelled.
    """
    fixed = requireUsableImage(fixed, "fixed image")
    moving = requireUsableImage(moving, "moving image")
    stages = tuple(stages)
    ordered = sorted(set(stages), key=lambda stage: LINEAR_STAGES.index(stage) if stage in LINEAR_STAGES else -1)
    if not stages or any(stage not in LINEAR_STAGES for stage in stages) or list(stages) != ordered:
        raise InputError(f"Registration stages are {stages!r}; give 'rigid', 'affine' or both in that order.")
    settings = settings or RegistrationSettings()
    settings.validate()
    dilation = requirePositiveReal(maskDilationMm, "maskDilationMm")
    progress = progress or noProgress
    fixedHead = foregroundMask(fixed)
    if mask is not None:
        tumour = requireMaskOnGrid(mask, fixed, "registration mask")
        region = dilateMm(tumour, dilation)
        masks: list[tuple[str, sitk.Image | None]]
        if focusOnMask:
            masks = [("tumour", region), ("tumourWide", dilateMm(tumour, 2 * dilation))]
        else:
            masks = [("none", None), ("tumour", region)]
    else:
        region = fixedHead
        masks = [("none", None), ("head", fixedHead)]
    initial = _initialTransform(fixed, fixedHead, moving)
    nmiBefore = normalizedMutualInformation(fixed, _resample(moving, fixed, sitk.Transform()), region)
    runs = masks if retry else masks[:1]
    attempts: list[dict[str, Any]] = []
    best: tuple[sitk.Transform, sitk.Image, dict[str, Any]] | None = None
    for index, (maskName, metricMask) in enumerate(runs):
        span = (index / len(runs), (index + 1) / len(runs)) if retry else (0.0, 1.0)
        transform, mattes = _runStages(
            fixed, moving, initial, metricMask, stages, bspline, settings, progress, span, cancel
        )
        resampled = _resample(moving, fixed, transform)
        nmiAfter = normalizedMutualInformation(fixed, resampled, region)
        passed = passesQc(nmiBefore, nmiAfter, qcMinimumNmi)
        attempt = {"metricMask": maskName, "nmiBefore": nmiBefore, "nmiAfter": nmiAfter, **mattes, "qcPassed": passed}
        attempts.append(attempt)
        logger.info(
            "Registration run %d (metric mask %s): NMI %.4f → %.4f, QC %s",
            index + 1,
            maskName,
            nmiBefore,
            nmiAfter,
            "passed" if passed else "failed",
        )
        if best is None or nmiAfter > best[2]["nmiAfter"]:
            best = (transform, resampled, attempt)
        if passed:
            break
    assert best is not None, "runs is never empty"
    transform, resampled, chosen = best
    if not chosen["qcPassed"]:
        logger.warning(
            "Registration failed QC: NMI %.4f after (minimum %.3f, %.4f before)",
            chosen["nmiAfter"],
            qcMinimumNmi,
            nmiBefore,
        )
    progress(1.0, "Registration done")
    metrics = {key: chosen[key] for key in ("nmiBefore", "nmiAfter", "mattesBefore", "mattesAfter")}
    return RegistrationResult(
        transform,
        resampled,
        metrics,
        chosen["qcPassed"],
        len(attempts) > 1,
        chosen["metricMask"],
        list(chosen["stagesKept"]),
        attempts,
    )


def dilateMm(mask: sitk.Image, radiusMm: float) -> sitk.Image:
    """Dilate a 0/1 mask by a ball of ``radiusMm`` (rounded up to whole voxels per axis)."""
    radius = [max(1, math.ceil(radiusMm / spacing - 1e-6)) for spacing in mask.GetSpacing()]
    return sitk.BinaryDilate(sitk.Cast(mask > 0, sitk.sitkUInt8), radius, sitk.sitkBall, 0, 1)


def _initialTransform(fixed: sitk.Image, fixedHead: sitk.Image, moving: sitk.Image) -> sitk.VersorRigid3DTransform:
    """Rigid transform that maps the centre of mass of the fixed head onto that of the moving head."""
    movingHead = foregroundMask(moving)
    transform = sitk.CenteredTransformInitializer(
        sitk.Cast(fixedHead, sitk.sitkFloat32),
        sitk.Cast(movingHead, sitk.sitkFloat32),
        sitk.VersorRigid3DTransform(),
        sitk.CenteredTransformInitializerFilter.MOMENTS,
    )
    return sitk.VersorRigid3DTransform(transform)


def _runStages(fixed, moving, initial, metricMask, stages, bspline, settings, progress, span, cancel):
    """Run the stages from ``initial``; returns the final transform and the metric record.

    Refinement stages (affine, B-spline) start from the previous result, skip the coarsest
    resolution level (their start is already close) and are kept only when they lower the
    full-resolution Mattes value; a refinement that makes it worse is dropped.
    """
    transform: sitk.Transform = sitk.VersorRigid3DTransform(initial)
    allStages = (*stages, *(("bspline",) if bspline else ()))
    record: dict = {"mattesBefore": _evaluate(fixed, moving, transform, metricMask, settings), "stagesKept": []}
    current = record["mattesBefore"]
    for position, stage in enumerate(allStages):
        if cancel is not None:
            cancel.raiseIfCancelled()
        low = span[0] + (span[1] - span[0]) * position / len(allStages)
        high = span[0] + (span[1] - span[0]) * (position + 1) / len(allStages)
        refinement = position > 0
        levels = slice(1, None) if refinement and len(settings.shrinkFactors) > 1 else slice(None)
        method = _method(metricMask, settings, levels)
        candidate = _stageTransform(stage, transform, fixed, settings, method)
        _observe(method, stage, progress, low, high, len(settings.shrinkFactors[levels]), settings, cancel)
        try:
            method.Execute(fixed, moving)
        except RuntimeError as error:
            if cancel is not None and cancel.cancelled:
                raise CancelledError("Registration was cancelled by the user.") from error
            raise
        if cancel is not None:
            cancel.raiseIfCancelled()
        if stage == "bspline":
            candidate = sitk.CompositeTransform([transform, candidate])
        value = _evaluate(fixed, moving, candidate, metricMask, settings)
        logger.info(
            "Registration stage %s: %d iterations, Mattes MI %.5f → %.5f (%s)",
            stage,
            method.GetOptimizerIteration(),
            current,
            value,
            method.GetOptimizerStopConditionDescription(),
        )
        if not refinement or value <= current:
            transform, current = candidate, value
            record["stagesKept"].append(stage)
        else:
            logger.info(
                "Registration stage %s dropped: it raised the Mattes value from %.5f to %.5f", stage, current, value
            )
    record["mattesAfter"] = current
    return transform, record


def _stageTransform(
    stage: str,
    transform: sitk.VersorRigid3DTransform | sitk.AffineTransform,
    fixed: sitk.Image,
    settings: RegistrationSettings,
    method: sitk.ImageRegistrationMethod,
) -> sitk.Transform:
    """The transform a stage optimises (set on ``method``), started from the previous stage's ``transform``."""
    if stage == "bspline":
        mesh = [
            max(1, round(size * spacing / settings.bsplineMeshSizeMm))
            for size, spacing in zip(fixed.GetSize(), fixed.GetSpacing())
        ]
        deformable = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
        method.SetOptimizerAsLBFGSB(
            gradientConvergenceTolerance=1e-5,
            numberOfIterations=settings.bsplineIterations,
            maximumNumberOfCorrections=5,
            maximumNumberOfFunctionEvaluations=1000,
            costFunctionConvergenceFactor=1e7,
        )
        method.SetMovingInitialTransform(transform)
        method.SetInitialTransform(deformable, inPlace=True)
        return deformable
    if stage == "affine":
        linear: sitk.AffineTransform | sitk.VersorRigid3DTransform = sitk.AffineTransform(3)
        linear.SetCenter(transform.GetCenter())
        linear.SetMatrix(transform.GetMatrix())
        linear.SetTranslation(transform.GetTranslation())
    else:
        linear = sitk.VersorRigid3DTransform(transform)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0,
        minStep=1e-4,
        numberOfIterations=settings.iterations,
        relaxationFactor=0.8,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(linear, inPlace=True)
    return linear


def _evaluate(fixed, moving, transform, metricMask, settings) -> float:
    """Mattes MI of ``transform`` at full resolution on the seeded sample (negative: lower is better)."""
    method = _method(metricMask, settings, slice(-1, None))
    method.SetMovingInitialTransform(transform)
    method.SetInitialTransform(sitk.TranslationTransform(3), inPlace=False)
    value = float(method.MetricEvaluate(fixed, moving))
    if not np.isfinite(value):
        raise InputError(
            f"The Mattes mutual information is {value}: the images do not overlap under the current transform. "
            "Check that the fixed and moving images show the same body part."
        )
    return value


def _method(metricMask, settings, levels: slice) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogramBins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    # ITK reads seed 0 as "seed from the wall clock", so every seed is shifted by one.
    method.SetMetricSamplingPercentage(settings.samplingPercentage, settings.seed + 1)
    if metricMask is not None:
        method.SetMetricFixedMask(metricMask)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(settings.shrinkFactors)[levels])
    method.SetSmoothingSigmasPerLevel(list(settings.smoothingSigmas)[levels])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


def _observe(method, stage, progress, low, high, levels, settings, cancel) -> None:
    maximum = settings.bsplineIterations if stage == "bspline" else settings.iterations

    def onIteration() -> None:
        level = method.GetCurrentLevel()
        within = min(method.GetOptimizerIteration() / maximum, 1.0)
        progress(low + (high - low) * (level + within) / levels, f"Registration {stage}, level {level + 1}/{levels}")
        if cancel is not None and cancel.cancelled:
            method.Abort()

    method.AddCommand(sitk.sitkIterationEvent, onIteration)


def _resample(moving: sitk.Image, fixed: sitk.Image, transform: sitk.Transform) -> sitk.Image:
    return sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
