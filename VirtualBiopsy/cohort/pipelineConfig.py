"""The settings of every stage of one pipeline run, loaded from one YAML file."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.cohort.analysisConfig import (
    CoxAnalysisConfig,
    DeepLearningConfig,
    ExplanationConfig,
)
from VirtualBiopsy.cohort.config import CohortConfig
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.settings import StageConfig, readYamlFile

PRESETS = pathlib.Path(__file__).resolve().parents[1] / "resources" / "presets"

_SECTIONS: dict[str, type[StageConfig]] = {
    "cohort": CohortConfig,
    "harmonization": HarmonizationConfig,
    "segmentation": SegmentationConfig,
    "extraction": ExtractionConfig,
    "outcome": OutcomeConfig,
    "cox": CoxAnalysisConfig,
    "classification": ClassificationConfig,
    "explanation": ExplanationConfig,
    "deepLearning": DeepLearningConfig,
}


@dataclass
class PipelineConfig:
    """One config per stage, the cohort's and the cohort analyses'; a YAML file has one section each (all optional)."""

    cohort: CohortConfig = field(default_factory=CohortConfig)
    harmonization: HarmonizationConfig = field(default_factory=HarmonizationConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    extraction: ExtractionConfig = field(default_factory=ExtractionConfig)
    outcome: OutcomeConfig = field(default_factory=OutcomeConfig)
    cox: CoxAnalysisConfig = field(default_factory=CoxAnalysisConfig)
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)
    explanation: ExplanationConfig = field(default_factory=ExplanationConfig)
    deepLearning: DeepLearningConfig = field(default_factory=DeepLearningConfig)

    @classmethod
    def fromDict(cls, document: dict | None) -> "PipelineConfig":
        """Build from ``{section: settings}``; unknown sections are an error."""
        document = document or {}
        unknown = [key for key in document if key not in _SECTIONS]
        if unknown:
            raise InputError(f"Unknown pipeline section(s) {unknown}; known: {', '.join(_SECTIONS)}.")
        sections: dict[str, Any] = {key: _SECTIONS[key].fromDict(values) for key, values in document.items()}
        config = cls(**sections)
        config.extraction.settings()  # the radiomics preset or parameter file is valid before any case runs
        explained = config.explanation.model
        if (
            "explanation" in config.cohort.analyses
            and explained != "best"
            and explained not in config.classification.models
        ):
            raise InputError(
                f"explanation.model is '{explained}' but classification.models is "
                f"{config.classification.models}; explain one of those, or 'best'."
            )
        return config

    @classmethod
    def fromYaml(cls, path: str | pathlib.Path) -> "PipelineConfig":
        """Load a pipeline YAML file (see ``resources/presets/``)."""
        return cls.fromDict(readYamlFile(path, "Pipeline settings file"))

    @classmethod
    def preset(cls, name: str) -> "PipelineConfig":
        """Load a shipped preset by name, e.g. ``"demo"``."""
        path = PRESETS / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
            raise InputError(f"No preset named '{name}'; shipped presets: {', '.join(known)}.")
        return cls.fromYaml(path)

    def toDict(self) -> dict:
        """``{section: settings}`` as plain values."""
        return {key: getattr(self, key).toDict() for key in _SECTIONS}
