"""The four sections of a pipeline settings file: ``harmonize``, ``segment``, ``extract`` and ``analyses``.

Each section has ``enabled`` and a few keys of its own; its other keys are those of the stage configs it holds
(:class:`~VirtualBiopsy.harmonize.config.HarmonizationConfig`, :class:`~VirtualBiopsy.segment.config.SegmentationConfig`,
…), written flat in the section as in the module panels and the stage commands. Errors name the key's path
in the file (``harmonize.perSequence.T2.normalization``) and the allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.cohort.analysisConfig import CoxAnalysisConfig, DeepLearningConfig, ExplanationConfig
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.segment.config import SegmentationConfig
from VirtualBiopsy.settings import StageConfig, requireRange

#: Where a run's tumour masks come from.
SEGMENT_SOURCES = ("model", "manifest", "both")
#: The cohort analyses, in the order they run.
ANALYSES = ("combat", "signature", "clusters", "cox", "classification", "explanation", "deepLearning")


def sectionError(path: str, error: InputError) -> InputError:
    """``error`` with the key's path in the settings file in front (``segment.threshold: …``)."""
    named = re.match(r"\w+Config\.(\w+)", str(error))
    where = f"{path}.{named.group(1)}" if named else path
    return InputError(f"{where}: {error}")


def splitSection(
    path: str, values: Any, ownKeys: tuple[str, ...], members: dict[str, type[StageConfig]]
) -> tuple[dict[str, Any], dict[str, StageConfig]]:
    """Split a section's mapping into its own keys and one stage config per member (built and validated).

    :raises InputError: for a section that is not a mapping, an unknown key (with the closest known one) or an
        invalid value, naming the key's path.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: must be a mapping of settings, not {values!r}.")
    known = {name: member for member, config in members.items() for name in _fieldNames(config)}
    own: dict[str, Any] = {}
    perMember: dict[str, dict[str, Any]] = {member: {} for member in members}
    for key, value in values.items():
        if key in ownKeys:
            own[key] = value
        elif key in known:
            perMember[known[key]][key] = value
        else:
            names = [*ownKeys, *known]
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise InputError(f"{path}.{key}: unknown setting.{hint} Known settings: {', '.join(names)}.")
    built = {}
    for member, config in members.items():
        try:
            built[member] = config.fromDict(perMember[member])
        except InputError as error:
            raise sectionError(path, error) from error
    return own, built


def requireBool(path: str, key: str, value: Any) -> bool:
    """``value`` if it is ``true`` or ``false``, else an :class:`InputError` naming ``path.key``."""
    if not isinstance(value, bool):
        raise InputError(f"{path}.{key}: must be true or false, got {value!r}.")
    return value


def requireNames(path: str, key: str, value: Any) -> list[str]:
    """``value`` if it is a non-empty list of distinct names, else an :class:`InputError` naming ``path.key``."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{path}.{key}: give a list of names, e.g. [T1c, FLAIR]; got {value!r}.")
    if len(set(value)) != len(value):
        raise InputError(f"{path}.{key}: {value} lists a name twice; list each once.")
    return list(value)


def _fieldNames(config: type[StageConfig]) -> list[str]:
    return [f.name for f in dataclasses.fields(config)]


def _flat(*configs: StageConfig) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for config in configs:
        merged.update(config.toDict())
    return merged


@dataclass
class HarmonizeSection:
    """Per sequence: N4 (``biasCorrection``), resampling, then intensity normalization.

    :ivar preprocessing: the N4 and resampling settings (``n4*``, ``resampling*`` keys).
    :ivar normalization: the normalization of every sequence (HarmonizationConfig keys).
    :ivar perSequence: normalization keys that differ for one sequence, e.g. ``{T2: {whiteStripeContrast: T2}}``.
    """

    enabled: bool = True
    biasCorrection: bool = False
    resampling: bool = False
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    normalization: HarmonizationConfig = field(default_factory=HarmonizationConfig)
    perSequence: dict[str, HarmonizationConfig] = field(default_factory=dict)

    @classmethod
    def fromDict(cls, values: Any, path: str = "harmonize") -> HarmonizeSection:
        own, built = splitSection(
            path,
            values,
            ("enabled", "biasCorrection", "resampling", "perSequence"),
            {"preprocessing": PreprocessingConfig, "normalization": HarmonizationConfig},
        )
        section = cls(preprocessing=built["preprocessing"], normalization=built["normalization"])  # type: ignore[arg-type]
        for key in ("enabled", "biasCorrection", "resampling"):
            if key in own:
                setattr(section, key, requireBool(path, key, own[key]))
        perSequence = own.get("perSequence") or {}
        if not isinstance(perSequence, dict):
            raise InputError(f"{path}.perSequence: give {{sequence: {{setting: value}}}}, got {perSequence!r}.")
        base = section.normalization.toDict()
        for sequence, changes in perSequence.items():
            where = f"{path}.perSequence.{sequence}"
            if not isinstance(changes, dict):
                raise InputError(f"{where}: give the normalization settings that differ, got {changes!r}.")
            _, built = splitSection(where, {**base, **changes}, (), {"normalization": HarmonizationConfig})
            section.perSequence[str(sequence)] = built["normalization"]  # type: ignore[assignment]
        return section

    def toDict(self) -> dict[str, Any]:
        base = self.normalization.toDict()
        return {
            "enabled": self.enabled,
            "biasCorrection": self.biasCorrection,
            "resampling": self.resampling,
            **_flat(self.preprocessing, self.normalization),
            "perSequence": {
                sequence: {key: value for key, value in config.toDict().items() if base.get(key) != value}
                for sequence, config in self.perSequence.items()
            },
        }

    def normalizationOf(self, sequence: str) -> HarmonizationConfig:
        """The normalization settings of ``sequence``."""
        return self.perSequence.get(sequence, self.normalization)

    def settingsOf(self, sequence: str) -> dict[str, Any]:
        """Everything that changes ``sequence``'s harmonized image (hashed into the ledger)."""
        preprocessing = self.preprocessing.toDict()
        return {
            "enabled": self.enabled,
            "biasCorrection": {k: v for k, v in preprocessing.items() if k.startswith("n4")}
            if self.biasCorrection
            else False,
            "resampling": {k: v for k, v in preprocessing.items() if k.startswith("resampling")}
            if self.resampling
            else False,
            "normalization": self.normalizationOf(sequence).toDict(),
        }


@dataclass
class SegmentSection:
    """Where each case's tumour mask comes from, on the grid of ``sequence``.

    :ivar source: ``model`` (the AI model or threshold method of ``settings``), ``manifest`` (the manifest's
        ``mask`` column), or ``both`` (the model's, with segmentation QA against the manifest's).
    :ivar sequence: the sequence segmented on; every mask is put on its (harmonized) grid.
    """

    enabled: bool = True
    source: str = "model"
    sequence: str = "FLAIR"
    settings: SegmentationConfig = field(default_factory=SegmentationConfig)

    @classmethod
    def fromDict(cls, values: Any, path: str = "segment") -> SegmentSection:
        own, built = splitSection(path, values, ("enabled", "source", "sequence"), {"settings": SegmentationConfig})
        section = cls(settings=built["settings"])  # type: ignore[arg-type]
        if "enabled" in own:
            section.enabled = requireBool(path, "enabled", own["enabled"])
        if "source" in own:
            section.source = own["source"]
            if section.source not in SEGMENT_SOURCES:
                raise InputError(f"{path}.source: is {own['source']!r}; choose one of: {', '.join(SEGMENT_SOURCES)}.")
        if "sequence" in own:
            section.sequence = requireNames(path, "sequence", [own["sequence"]])[0]
        return section

    def toDict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "source": self.source, "sequence": self.sequence, **self.settings.toDict()}

    @property
    def usesModel(self) -> bool:
        """Whether the model (or threshold method) segments the cases."""
        return self.enabled and self.source in ("model", "both")

    @property
    def usesManifestMasks(self) -> bool:
        """Whether the manifest's masks are read (as the segmentation, or as the QA reference)."""
        return self.enabled and self.source in ("manifest", "both")


@dataclass
class ExtractSection:
    """Radiomics on each of ``sequences`` (features named ``<sequence>_<pyradiomics name>``).

    ``params`` is accepted as another name of ``parameterFile`` (a pyradiomics parameter file).
    """

    enabled: bool = True
    sequences: list[str] = field(default_factory=lambda: ["T1c", "FLAIR"])
    settings: ExtractionConfig = field(default_factory=ExtractionConfig)

    @classmethod
    def fromDict(cls, values: Any, path: str = "extract") -> ExtractSection:
        values = dict(values or {}) if isinstance(values, dict) or values is None else values
        if isinstance(values, dict) and "params" in values:
            if values.get("parameterFile"):
                raise InputError(f"{path}.params: give the parameter file once, as params or parameterFile.")
            values["parameterFile"] = values.pop("params")
        own, built = splitSection(path, values, ("enabled", "sequences"), {"settings": ExtractionConfig})
        section = cls(settings=built["settings"])  # type: ignore[arg-type]
        if "enabled" in own:
            section.enabled = requireBool(path, "enabled", own["enabled"])
        if "sequences" in own:
            section.sequences = requireNames(path, "sequences", own["sequences"])
        try:
            section.settings.settings()  # the radiomics preset or parameter file is valid before any case runs
        except InputError as error:
            raise sectionError(path, error) from error
        return section

    def toDict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "sequences": list(self.sequences), **self.settings.toDict()}


@dataclass
class SignatureConfig(StageConfig):
    """The radiomic signature the clusters are computed on (unsupervised: no outcome is used).

    :ivar varianceThreshold: drop features whose min–max scaled variance is below this.
    :ivar correlationThreshold: of two features with ``|r|`` above this, drop one (1 = no pruning).
    """

    varianceThreshold: float = 0.01
    correlationThreshold: float = 0.9

    def validate(self) -> None:
        requireRange(self, "varianceThreshold", 0.0, 1.0)
        requireRange(self, "correlationThreshold", 0.0, 1.0)


_ANALYSIS_CONFIGS: dict[str, type[StageConfig]] = {
    "combat": ComBatConfig,
    "signature": SignatureConfig,
    "clusters": OutcomeConfig,
    "cox": CoxAnalysisConfig,
    "classification": ClassificationConfig,
    "explanation": ExplanationConfig,
    "deepLearning": DeepLearningConfig,
}


@dataclass
class AnalysesSection:
    """The cohort analyses; each subsection has ``enabled`` and its config's keys.

    ComBat runs only when the cohort has more than one site; the explanation explains a compared classifier.
    """

    enabled: bool = True
    switches: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(ANALYSES, True))
    combat: ComBatConfig = field(default_factory=ComBatConfig)
    signature: SignatureConfig = field(default_factory=SignatureConfig)
    clusters: OutcomeConfig = field(default_factory=OutcomeConfig)
    cox: CoxAnalysisConfig = field(default_factory=CoxAnalysisConfig)
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)
    explanation: ExplanationConfig = field(default_factory=ExplanationConfig)
    deepLearning: DeepLearningConfig = field(default_factory=DeepLearningConfig)

    @classmethod
    def fromDict(cls, values: Any, path: str = "analyses") -> AnalysesSection:
        own, _ = splitSection(path, values, ("enabled", *ANALYSES), {})
        section = cls()
        if "enabled" in own:
            section.enabled = requireBool(path, "enabled", own["enabled"])
        for name in ANALYSES:
            where = f"{path}.{name}"
            mine, built = splitSection(where, own.get(name), ("enabled",), {"settings": _ANALYSIS_CONFIGS[name]})
            setattr(section, name, built["settings"])
            if "enabled" in mine:
                section.switches[name] = requireBool(where, "enabled", mine["enabled"])
        explained = section.explanation.model
        if section.isOn("explanation") and not section.isOn("classification"):
            raise InputError(
                f"{path}.explanation: enabled without {path}.classification; the explanation explains a compared "
                "classifier, so enable classification or disable explanation."
            )
        if section.isOn("explanation") and explained != "best" and explained not in section.classification.models:
            raise InputError(
                f"{path}.explanation.model: is '{explained}' but {path}.classification.models is "
                f"{section.classification.models}; explain one of those, or 'best'."
            )
        return section

    def toDict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            **{name: {"enabled": self.switches[name], **getattr(self, name).toDict()} for name in ANALYSES},
        }

    def isOn(self, name: str) -> bool:
        """Whether analysis ``name`` runs (the section and the analysis enabled)."""
        return self.enabled and self.switches[name]

    def active(self) -> list[str]:
        """The analyses that run, in order."""
        return [name for name in ANALYSES if self.isOn(name)]
