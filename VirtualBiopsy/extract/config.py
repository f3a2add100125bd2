"""Settings of the feature extraction stage: a radiomics preset (or parameter file),
a few overrides, and the input checks' parameters."""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.binCount import DEFAULT_MAXIMUM_BIN_COUNT
from VirtualBiopsy.extract.extraction import DEFAULT_MINIMUM_ROI_VOXELS
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings, presetNames
from VirtualBiopsy.settings import StageConfig, requireRange

#: pyradiomics' 3D feature classes, in its order.
FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


@dataclass
class ExtractionConfig(StageConfig):
    """What to extract and how: the radiomics settings come from ``preset`` (or
    ``parameterFile``), optionally overridden.

    :ivar preset: a shipped radiomics preset (``mr-default``, ``full``, ``ibsi-*``; see
        ``resources/presets/radiomics``).
    :ivar parameterFile: a preset-format or pyradiomics parameter file (YAML); when set,
        it replaces ``preset``.
    :ivar featureClasses: compute only these feature classes (all features of each);
        empty keeps the preset's.
    :ivar binWidth: grey-level bin width override, in image units (about 0.1 for z-scored
        images); 0 keeps the preset's.
    :ivar resampledPixelSpacing: pyradiomics resampling spacing override in mm (x, y, z);
        ``None`` keeps the preset's.
    :ivar minimumRoiVoxels: refuse ROIs with fewer voxels.
    :ivar maximumBinCount: refuse, before pyradiomics runs, settings that bin an image into more grey levels
        than this (a ``binWidth`` too small for the ROI's intensity range, or a larger ``binCount``): pyradiomics'
        time grows with the cube of the count (see ``extract/binCount.py`` for the measurements behind the
        default of 512).
    :ivar resampleMaskToImage: resample a mask that lies on another grid (nearest
        neighbour) instead of refusing it; recorded in the provenance.
    :ivar cropToRoi: crop around the ROI before filtering (much faster; filtered features
        stay within 1e-6 of uncropped extraction, see ``extract/cropping.py``); turn it off
        to reproduce pyradiomics on the whole image bit for bit.
    """

    preset: str = "mr-default"
    parameterFile: str = ""
    featureClasses: list[str] = field(default_factory=list)
    binWidth: float = 0.0
    resampledPixelSpacing: list[float] | None = None
    minimumRoiVoxels: int = DEFAULT_MINIMUM_ROI_VOXELS
    maximumBinCount: int = DEFAULT_MAXIMUM_BIN_COUNT
    resampleMaskToImage: bool = False
    cropToRoi: bool = True

    def validate(self) -> None:
        unknown = [name for name in self.featureClasses if name not in FEATURE_CLASSES]
        if unknown:
            raise InputError(
                f"ExtractionConfig.featureClasses has {unknown}; choose from: {', '.join(FEATURE_CLASSES)} "
                "(or leave it empty for the preset's)."
            )
        if not math.isfinite(self.binWidth) or self.binWidth < 0:
            raise InputError(
                f"ExtractionConfig.binWidth is {self.binWidth}; give a finite bin width > 0 in image units (about 0.1 "
                "for z-scored images, 25 for raw MR or CT), or 0 to keep the preset's."
            )
        if self.resampledPixelSpacing is not None and (
            len(self.resampledPixelSpacing) != 3 or min(self.resampledPixelSpacing) <= 0
        ):
            raise InputError(
                f"ExtractionConfig.resampledPixelSpacing is {self.resampledPixelSpacing}; give three positive "
                "spacings in mm or null."
            )
        requireRange(self, "minimumRoiVoxels", 1)
        requireRange(self, "maximumBinCount", 2)
        if self.parameterFile:
            if not pathlib.Path(self.parameterFile).is_file():
                raise InputError(
                    f"ExtractionConfig.parameterFile {self.parameterFile} does not exist; give an existing YAML "
                    "parameter file, or leave it empty to use the preset."
                )
        elif self.preset not in presetNames():
            raise InputError(
                f"No radiomics preset named '{self.preset}' (ExtractionConfig.preset); choose one of: "
                f"{', '.join(presetNames())} (or give a parameterFile)."
            )

    def settings(self) -> RadiomicsSettings:
        """The validated radiomics settings: the parameter file or preset, with the overrides applied.

        :raises InputError: for an unknown preset, a missing or invalid parameter file.
        """
        if self.parameterFile:
            base = RadiomicsSettings.fromFile(self.parameterFile, self.maximumBinCount)
        else:
            base = RadiomicsSettings.fromPreset(self.preset, self.maximumBinCount)
        return base.replaced(
            featureClasses=list(self.featureClasses) or None,
            binWidth=self.binWidth or None,
            resampledPixelSpacing=self.resampledPixelSpacing,
            maximumBinCount=self.maximumBinCount,
        )

    def pyradiomicsSettings(self) -> dict:
        """The ``setting`` section that pyradiomics receives (for plain ``RadiomicsFeatureExtractor(**...)``)."""
        return self.settings().setting
