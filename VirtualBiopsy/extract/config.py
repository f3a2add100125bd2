"""Settings of the feature extraction stage (pyradiomics' own names)."""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.settings import StageConfig, requireRange

FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


@dataclass
class ExtractionConfig(StageConfig):
    """pyradiomics settings for one extraction.

    :ivar featureClasses: pyradiomics feature classes to compute on the original image.
    :ivar binWidth: width of the grey-level bins (in image units; about 0.1 for
        z-score normalized images, 25 for raw MR).
    :ivar resampledPixelSpacing: resample to this spacing in mm first, or ``None``.
    :ivar interpolator: SimpleITK interpolator name used when resampling.
    :ivar geometryTolerance: tolerance of pyradiomics' image/mask geometry check.
    """

    featureClasses: list[str] = field(default_factory=lambda: list(FEATURE_CLASSES))
    binWidth: float = 25.0
    resampledPixelSpacing: list[float] | None = None
    interpolator: str = "sitkBSpline"
    geometryTolerance: float = 1e-5

    def validate(self) -> None:
        from VirtualBiopsy.errors import InputError

        unknown = [name for name in self.featureClasses if name not in FEATURE_CLASSES]
        if unknown or not self.featureClasses:
            raise InputError(
                f"ExtractionConfig.featureClasses has {unknown or 'nothing'}; choose from: {', '.join(FEATURE_CLASSES)}."
            )
        requireRange(self, "binWidth", 1e-9)
        if self.resampledPixelSpacing is not None and (
            len(self.resampledPixelSpacing) != 3 or min(self.resampledPixelSpacing) <= 0
        ):
            raise InputError(
                f"ExtractionConfig.resampledPixelSpacing is {self.resampledPixelSpacing}; give three positive spacings in mm or null."
            )

    def pyradiomicsSettings(self) -> dict:
        """The settings dictionary passed to ``RadiomicsFeatureExtractor``."""
        settings = {
            "binWidth": self.binWidth,
            "interpolator": self.interpolator,
            "geometryTolerance": self.geometryTolerance,
        }
        if self.resampledPixelSpacing is not None:
            settings["resampledPixelSpacing"] = list(self.resampledPixelSpacing)
        return settings
