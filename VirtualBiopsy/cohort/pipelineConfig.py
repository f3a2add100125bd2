"""The settings of a whole pipeline run, loaded from one YAML file with four sections.

``harmonize``, ``segment``, ``extract`` and ``analyses`` (see :mod:`~VirtualBiopsy.cohort.pipelineSections`);
a user's file gives only what differs from the defaults (``virtual-biopsy run --print-config``) or from the
preset it names with ``preset: NAME``.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.cohort.pipelineSections import AnalysesSection, ExtractSection, HarmonizeSection, SegmentSection
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import readYamlFile

PRESETS = pathlib.Path(__file__).resolve().parents[1] / "resources" / "presets" / "pipelines"

_SECTIONS = ("harmonize", "segment", "extract", "analyses")


@dataclass
class PipelineConfig:
    """One section per stage and one for the cohort analyses."""

    harmonize: HarmonizeSection = field(default_factory=HarmonizeSection)
    segment: SegmentSection = field(default_factory=SegmentSection)
    extract: ExtractSection = field(default_factory=ExtractSection)
    analyses: AnalysesSection = field(default_factory=AnalysesSection)

    @classmethod
    def fromDict(cls, document: dict | None, base: PipelineConfig | None = None) -> PipelineConfig:
        """Build from ``{section: settings}`` over ``base`` (default: the defaults); ``preset: NAME`` picks the base.

        :raises InputError: naming the key's path, for an unknown section or key or an invalid value.
        """
        document = dict(document or {})
        if "preset" in document:
            if base is not None:
                raise InputError("preset: a settings file that names a preset cannot be applied over another one.")
            base = cls.preset(str(document.pop("preset")))
        unknown = [key for key in document if key not in _SECTIONS]
        if unknown:
            raise InputError(
                f"{unknown[0]}: unknown section; a pipeline settings file has the sections "
                f"{', '.join(_SECTIONS)} (and optionally preset)."
            )
        baseDict = (base or cls()).toDict()
        merged: dict[str, Any] = {}
        for name in _SECTIONS:
            merged[name] = _overlay(baseDict[name], document.get(name))
        return cls(
            harmonize=HarmonizeSection.fromDict(merged["harmonize"]),
            segment=SegmentSection.fromDict(merged["segment"]),
            extract=ExtractSection.fromDict(merged["extract"]),
            analyses=AnalysesSection.fromDict(merged["analyses"]),
        )

    @classmethod
    def fromYaml(cls, path: str | pathlib.Path, base: PipelineConfig | None = None) -> PipelineConfig:
        """Load a pipeline YAML file; errors name the file and the key's path in it."""
        document = readYamlFile(path, "Pipeline settings file")
        try:
            return cls.fromDict(document, base)
        except InputError as error:
            raise InputError(f"Pipeline settings file {path}: {error}") from error

    @classmethod
    def preset(cls, name: str) -> PipelineConfig:
        """A shipped preset by name: ``demo``, ``brain-mr`` or ``ct``."""
        names = presetNames()
        if name not in names:  # a name, never a path: '../x' or '/tmp/x' must not pick a file
            raise InputError(f"No pipeline preset named '{name}'; shipped presets: {', '.join(names)}.")
        return cls.fromYaml(PRESETS / f"{name}.yaml")

    def toDict(self) -> dict[str, Any]:
        """``{section: settings}`` as plain values: the complete settings."""
        return {name: getattr(self, name).toDict() for name in _SECTIONS}

    def toYaml(self) -> str:
        """The complete settings as YAML, sections in pipeline order."""
        import yaml

        return yaml.safe_dump(self.toDict(), sort_keys=False, default_flow_style=False, width=100)

    def neededSequences(self) -> list[str]:
        """The sequences the enabled stages read, segmentation sequence first."""
        needed = [self.segment.sequence] if self.segment.enabled else []
        if self.extract.enabled:
            needed += self.extract.sequences
        if self.segment.usesModel and self.segment.settings.method == "model":
            needed += modelSequences(self.segment.settings.modelId)
        return list(dict.fromkeys(needed))


def presetNames() -> list[str]:
    """The names of the shipped pipeline presets."""
    return sorted(path.stem for path in PRESETS.glob("*.yaml"))


def modelSequences(modelId: str) -> list[str]:
    """The sequences a registered model takes as input (empty when the id is unknown: the segment stage says so)."""
    from VirtualBiopsy.models.registry import ModelRegistry

    try:
        entry = ModelRegistry().lookup(modelId)
    except Exception:  # noqa: BLE001 - an unknown model is reported by the segment stage, with the fix
        return []
    return [channel.sequence for channel in entry.inputs]


def _overlay(base: Any, changes: Any) -> Any:
    """``base`` with ``changes`` laid over it, mapping by mapping (lists and values replace)."""
    if isinstance(base, dict) and isinstance(changes, dict):
        merged = dict(base)
        for key, value in changes.items():
            merged[key] = _overlay(base[key], value) if key in base else value
        return merged
    return base if changes is None and isinstance(base, dict) else changes
