"""Settings of the harmonization preprocessing and registration actions (the module's panel,
the console and batch runs share them).

The logics take these configs as they are
(:class:`~VirtualBiopsy.harmonize.preprocessingLogic.PreprocessingLogic`,
:class:`~VirtualBiopsy.harmonize.preprocessingLogic.RegistrationLogic`); the ``*Arguments`` methods map
them onto the keyword arguments of the pure SimpleITK functions, for the logics and for
``virtual-biopsy harmonize`` and ``register`` alike. The defaults are those functions' defaults.
The names keep the action they set (``n4ShrinkFactor``, ``registrationSeed``): the Harmonization
panel shows them in one parameter pack per section (``preprocessing.n4ShrinkFactor``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.denoising import DENOISING_METHODS
from VirtualBiopsy.harmonize.registration import LINEAR_STAGES, RegistrationSettings
from VirtualBiopsy.harmonize.registrationQuality import MINIMUM_NMI
from VirtualBiopsy.harmonize.resampling import INTERPOLATORS, RESAMPLING_PRESETS
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Denoising methods (:data:`~VirtualBiopsy.harmonize.denoising.DENOISING_METHODS`).
DENOISING_METHOD_NAMES = tuple(DENOISING_METHODS)
#: Interpolators of resampling (:data:`~VirtualBiopsy.harmonize.resampling.INTERPOLATORS`).
INTERPOLATOR_NAMES = tuple(INTERPOLATORS)
#: Linear registration stages as one choice: both (the default), or one of them.
REGISTRATION_STAGE_CHOICES = (",".join(LINEAR_STAGES), *LINEAR_STAGES)


@dataclass
class PreprocessingConfig(StageConfig):
    """N4 bias-field correction, denoising and resampling settings.

    :ivar n4ShrinkFactor: N4 fits on the image shrunk by this factor along every axis (1: no shrink).
    :ivar n4Levels: N4 fitting levels (the B-spline mesh doubles at each).
    :ivar n4Iterations: maximum N4 iterations per level.
    :ivar n4ConvergenceThreshold: N4 stops a level when the field changes less than this.
    :ivar denoisingMethod: ``nlm`` (patch-based non-local means), ``gradientAnisotropicDiffusion``,
        ``curvatureFlow`` or ``bilateral``, each with its default options.
    :ivar resamplingPreset: ``isotropic``, ``inPlane`` (slice axis kept) or ``reference`` (onto a reference
        volume's grid).
    :ivar resamplingSpacingMm: new spacing of the changed axes (``isotropic``, ``inPlane``).
    :ivar resamplingInterpolator: ``nearest``, ``linear``, ``bspline`` or ``lanczos``.
    """

    n4ShrinkFactor: int = 4
    n4Levels: int = 4
    n4Iterations: int = 50
    n4ConvergenceThreshold: float = 1e-6
    denoisingMethod: str = "nlm"
    resamplingPreset: str = "isotropic"
    resamplingSpacingMm: float = 1.0
    resamplingInterpolator: str = "bspline"

    def validate(self) -> None:
        """:raises InputError: naming the bad setting, its value and the allowed range or choices."""
        requireRange(self, "n4ShrinkFactor", 1, 16)
        requireRange(self, "n4Levels", 1, 10)
        requireRange(self, "n4Iterations", 1, 10000)
        _requireFinite(self, "n4ConvergenceThreshold")
        requireRange(self, "n4ConvergenceThreshold", 1e-9, 1.0)
        requireChoice(self, "denoisingMethod", DENOISING_METHOD_NAMES)
        requireChoice(self, "resamplingPreset", RESAMPLING_PRESETS)
        _requireFinite(self, "resamplingSpacingMm")
        requireRange(self, "resamplingSpacingMm", 0.01, 100.0)
        requireChoice(self, "resamplingInterpolator", INTERPOLATOR_NAMES)

    def biasFieldArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.biasField.correctBiasField` (without the images)."""
        return {
            "shrinkFactor": self.n4ShrinkFactor,
            "iterations": [self.n4Iterations] * self.n4Levels,
            "convergenceThreshold": self.n4ConvergenceThreshold,
        }

    def denoisingArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.denoising.denoiseImage` (without the image)."""
        return {"method": self.denoisingMethod}

    def resamplingArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.resampling.resampleImage` (without the images)."""
        return {
            "preset": self.resamplingPreset,
            "spacingMm": self.resamplingSpacingMm,
            "interpolator": self.resamplingInterpolator,
        }


@dataclass
class RegistrationConfig(StageConfig):
    """Intra-patient registration settings (see :func:`~VirtualBiopsy.harmonize.registration.registerImages`).

    :ivar registrationStages: linear stages: ``rigid,affine``, ``rigid`` or ``affine``.
    :ivar registrationBspline: add a deformable B-spline stage after the linear ones.
    :ivar focusOnMask: restrict the metric to the dilated tumour mask at once (else only when QC fails).
    :ivar maskDilationMm: how far the tumour mask is dilated for the metric and the QC region.
    :ivar registrationRetry: run again with a metric mask when QC fails.
    :ivar qcMinimumNmi: lowest normalized mutual information after registration that passes QC.
    :ivar registrationSeed: seed of the metric's random sampling.
    """

    registrationStages: str = REGISTRATION_STAGE_CHOICES[0]
    registrationBspline: bool = False
    focusOnMask: bool = False
    maskDilationMm: float = 10.0
    registrationRetry: bool = True
    qcMinimumNmi: float = MINIMUM_NMI
    registrationSeed: int = 0

    def validate(self) -> None:
        """:raises InputError: naming the bad setting, its value and the allowed range or choices."""
        requireChoice(self, "registrationStages", REGISTRATION_STAGE_CHOICES)
        _requireFinite(self, "maskDilationMm")
        requireRange(self, "maskDilationMm", 0.1, 100.0)
        _requireFinite(self, "qcMinimumNmi")
        requireRange(self, "qcMinimumNmi", 1.0, 2.0)
        requireRange(self, "registrationSeed", 0, 2**31 - 2)

    @property
    def stages(self) -> tuple[str, ...]:
        """The linear stages as the library takes them."""
        return tuple(self.registrationStages.split(","))

    def registrationArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.registration.registerImages` (without the images)."""
        return {
            "stages": self.stages,
            "bspline": self.registrationBspline,
            "focusOnMask": self.focusOnMask,
            "settings": RegistrationSettings(seed=self.registrationSeed),
            "maskDilationMm": self.maskDilationMm,
            "retry": self.registrationRetry,
            "qcMinimumNmi": self.qcMinimumNmi,
        }


def _requireFinite(config: object, name: str) -> None:
    value = getattr(config, name)
    if not math.isfinite(value):
        raise InputError(f"{type(config).__name__}.{name} is {value}; give a finite number.")
