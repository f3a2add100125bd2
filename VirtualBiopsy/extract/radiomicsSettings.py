"""Radiomics settings: a shipped preset or a pyradiomics parameter file, validated
against pyradiomics' own schema.

A preset (``resources/presets/radiomics/<name>.yaml``) has this form::

    description: one line
    preprocessing: {...}   # optional: RadiomicsPreprocessing fields, applied before pyradiomics
    pyradiomics:           # a pyradiomics parameter file body
      imageType: {...}
      featureClass: {...}
      setting: {...}

A plain pyradiomics parameter file (top-level ``imageType``, ``featureClass``,
``setting``, ``voxelSetting``) is accepted as well.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import json
import logging
import pathlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.extract.binCount import DEFAULT_MAXIMUM_BIN_COUNT, requireBinSettings
from VirtualBiopsy.settings import readYamlFile

#: Folder of the shipped radiomics presets.
PRESET_FOLDER = pathlib.Path(__file__).resolve().parents[1] / "resources" / "presets" / "radiomics"

#: Top-level keys of a pyradiomics parameter file.
PYRADIOMICS_SECTIONS = ("imageType", "featureClass", "setting", "voxelSetting")

#: Top-level keys of our preset format.
PRESET_KEYS = ("description", "preprocessing", "pyradiomics")


def presetNames() -> list[str]:
    """Names of the shipped radiomics presets, sorted."""
    return sorted(path.stem for path in PRESET_FOLDER.glob("*.yaml"))


class RadiomicsSettings:
    """Validated settings of one radiomics extraction.

    :ivar name: the preset name, the file stem, or ``"custom"``.
    :ivar description: one line about the settings.
    :ivar pyradiomics: the pyradiomics parameter dictionary (``imageType``, ``featureClass``, ``setting``, ...).
    :ivar preprocessing: the parsed ``RadiomicsPreprocessing`` (or its raw dictionary when that
        module is not available), or ``None``.
    :ivar maximumBinCount: the most grey levels one image may be binned into (see
        :mod:`~VirtualBiopsy.extract.binCount`); a safety limit, not a feature setting, so it is neither in
        :meth:`toDict` nor in :meth:`sha256` (it changes which inputs are refused, never a value).
    """

    def __init__(
        self,
        pyradiomics: dict[str, Any],
        name: str = "custom",
        description: str = "",
        preprocessing: Any = None,
        maximumBinCount: int = DEFAULT_MAXIMUM_BIN_COUNT,
    ) -> None:
        self.pyradiomics = validatePyradiomics(pyradiomics, name)
        requireBinSettings(self.pyradiomics, name, maximumBinCount)
        self.maximumBinCount = int(maximumBinCount)
        self.name = name
        self.description = description
        self.preprocessing = preprocessing
        if getattr(preprocessing, "fixedBinOrigin", None) is not None and "binCount" in self.setting:
            raise InputError(
                f"Radiomics settings '{name}' set preprocessing.fixedBinOrigin, which only applies to fixed-width "
                "bins, together with binCount; use binWidth, or remove fixedBinOrigin."
            )

    @classmethod
    def fromDict(
        cls, document: dict[str, Any] | None, name: str = "custom", maximumBinCount: int = DEFAULT_MAXIMUM_BIN_COUNT
    ) -> "RadiomicsSettings":
        """Build from our preset format or a plain pyradiomics parameter dictionary.

        :param maximumBinCount: see :attr:`maximumBinCount`.
        :raises InputError: naming the bad key or value and the fix.
        """
        document = copy.deepcopy(document) if document is not None else {}
        if not isinstance(document, dict):
            raise InputError(
                f"Radiomics settings '{name}' must be a mapping (imageType/featureClass/setting, or "
                f"description/preprocessing/pyradiomics), got {type(document).__name__}."
            )
        if "pyradiomics" in document or "preprocessing" in document or "description" in document:
            unknown = [key for key in document if key not in PRESET_KEYS]
            if unknown:
                raise InputError(
                    f"Radiomics preset '{name}' has unknown key(s) {unknown}{_closest(unknown[0], PRESET_KEYS)}; "
                    f"a preset has only: {', '.join(PRESET_KEYS)}."
                )
            preprocessing = _parsePreprocessing(document.get("preprocessing"), name)
            description = str(document.get("description") or "")
            return cls(document.get("pyradiomics") or {}, name, description, preprocessing, maximumBinCount)
        return cls(document, name, maximumBinCount=maximumBinCount)

    @classmethod
    def fromFile(
        cls, path: str | pathlib.Path, maximumBinCount: int = DEFAULT_MAXIMUM_BIN_COUNT
    ) -> "RadiomicsSettings":
        """Load a preset-format or pyradiomics parameter file (YAML or JSON)."""
        path = pathlib.Path(path)
        document = readYamlFile(path, "Radiomics parameter file")
        return cls.fromDict(document, name=path.stem, maximumBinCount=maximumBinCount)

    @classmethod
    def fromPreset(cls, name: str, maximumBinCount: int = DEFAULT_MAXIMUM_BIN_COUNT) -> "RadiomicsSettings":
        """Load a shipped preset by name (see :func:`presetNames`)."""
        path = PRESET_FOLDER / f"{name}.yaml"
        if not name or not path.is_file():
            raise InputError(
                f"No radiomics preset named '{name}'{_closest(name, presetNames())}; "
                f"shipped presets: {', '.join(presetNames())}."
            )
        return cls.fromFile(path, maximumBinCount)

    def toDict(self) -> dict[str, Any]:
        """The settings in preset format (plain values, ready for YAML or JSON)."""
        preprocessing = self.preprocessing
        if preprocessing is not None and hasattr(preprocessing, "toDict"):
            preprocessing = preprocessing.toDict()
        document: dict[str, Any] = {"description": self.description, "pyradiomics": copy.deepcopy(self.pyradiomics)}
        if preprocessing is not None:
            document["preprocessing"] = preprocessing
        return document

    def sha256(self) -> str:
        """A stable hash of the settings (canonical JSON, sorted keys), e.g. for caching."""
        canonical = json.dumps(
            {key: value for key, value in self.toDict().items() if key != "description"},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def imageTypes(self) -> dict[str, dict]:
        """Enabled image types (pyradiomics' default: ``Original`` only)."""
        return dict(self.pyradiomics.get("imageType") or {"Original": {}})

    @property
    def setting(self) -> dict[str, Any]:
        """The ``setting`` section (a copy)."""
        return dict(self.pyradiomics.get("setting") or {})

    def featureClasses(self) -> list[str]:
        """Enabled feature classes (pyradiomics enables all but ``shape2D`` when none is listed)."""
        classes = self.pyradiomics.get("featureClass")
        if classes:
            return list(classes)
        return ["shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]

    def replaced(
        self,
        featureClasses: list[str] | None = None,
        binWidth: float | None = None,
        resampledPixelSpacing: list[float] | None = None,
        maximumBinCount: int | None = None,
    ) -> "RadiomicsSettings":
        """A validated copy with the feature classes (all features of each), the bin width
        (replaces any ``binCount``), the resampling spacing or the bin-count limit changed; ``None`` keeps the value.
        """
        pyradiomics = copy.deepcopy(self.pyradiomics)
        setting = pyradiomics.setdefault("setting", {})
        if featureClasses is not None:
            pyradiomics["featureClass"] = {name: None for name in featureClasses}
        if binWidth is not None:
            setting.pop("binCount", None)
            setting["binWidth"] = float(binWidth)
        if resampledPixelSpacing is not None:
            setting["resampledPixelSpacing"] = [float(value) for value in resampledPixelSpacing]
        limit = self.maximumBinCount if maximumBinCount is None else maximumBinCount
        return RadiomicsSettings(pyradiomics, self.name, self.description, self.preprocessing, limit)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RadiomicsSettings) and self.toDict() == other.toDict() and self.name == other.name

    def __repr__(self) -> str:
        return f"RadiomicsSettings(name={self.name!r}, sha256={self.sha256()[:12]}...)"


def validatePyradiomics(parameters: dict[str, Any], name: str = "custom") -> dict[str, Any]:
    """Validate a pyradiomics parameter dictionary with pyradiomics' schema (as
    ``RadiomicsFeatureExtractor`` does) and return a copy.

    :raises InputError: naming the offending key, its value and the fix.
    """
    if not isinstance(parameters, dict):
        raise InputError(
            f"The pyradiomics parameters of '{name}' must be a mapping with {', '.join(PYRADIOMICS_SECTIONS)}, "
            f"got {type(parameters).__name__}."
        )
    unknown = [key for key in parameters if key not in PYRADIOMICS_SECTIONS]
    if unknown:
        raise InputError(
            f"The pyradiomics parameters of '{name}' have an unknown section '{unknown[0]}'"
            f"{_closest(unknown[0], PYRADIOMICS_SECTIONS)}; sections are: {', '.join(PYRADIOMICS_SECTIONS)}."
        )
    radiomics = requirePackage("radiomics", "pyradiomics")
    pykwalifyCore = requirePackage("pykwalify.core", "pykwalify")
    schemaFile, schemaFunctions = radiomics.getParameterValidationFiles()
    data = copy.deepcopy(parameters)
    try:
        with _quietPykwalify():
            core = pykwalifyCore.Core(source_data=data, schema_files=[schemaFile], extensions=[schemaFunctions])
            core.validate(raise_exception=True)
    except Exception as error:  # pykwalify raises SchemaError; pyradiomics' checks raise ValueError/TypeError
        raise InputError(_schemaMessage(name, error)) from error
    return copy.deepcopy(parameters)


def _schemaMessage(name: str, error: Exception) -> str:
    text = str(getattr(error, "msg", None) or error).replace("Schema validation failed:", "").strip(" \n-")
    match = re.search(r"Key '([^']+)' was not defined\. Path: '([^']*)'", text)
    if match:
        key, path = match.groups()
        known = _schemaKeys(path)
        hint = _closest(key, known)
        return (
            f"pyradiomics parameters '{name}': unknown key '{key}' under '{path or '/'}'{hint}. "
            f"Fix the key (pyradiomics' names are case-sensitive; known here: {', '.join(known)})."
        )
    match = re.search(r"Path: '([^']*)'", text)
    where = f" at '{match.group(1)}'" if match else ""
    return (
        f"pyradiomics parameters '{name}' are invalid{where}: {(text.splitlines()[0] if text else str(error)).rstrip('.')}. "
        "Fix that value (see pyradiomics' 'Customizing the extraction' documentation)."
    )


def _schemaKeys(path: str) -> list[str]:
    """Keys the schema allows under ``path`` (``''`` → sections, ``/setting`` → settings)."""
    if path in ("", "/"):
        return list(PYRADIOMICS_SECTIONS)
    import yaml

    radiomics = requirePackage("radiomics", "pyradiomics")
    schema = yaml.safe_load(pathlib.Path(radiomics.getParameterValidationFiles()[0]).read_text(encoding="utf-8"))
    section = path.strip("/").split("/")[0]
    mapping = schema["mapping"].get(section, {}).get("mapping", {})
    if section == "imageType":
        mapping = schema["mapping"]["setting"]["mapping"]
    return sorted(mapping)


def _closest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@contextlib.contextmanager
def _quietPykwalify() -> Iterator[None]:
    """pykwalify logs every failure at ERROR; the InputError carries the message instead."""
    logger = logging.getLogger("pykwalify")
    previous = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pykwalify loads pyradiomics' checks with load_module
            yield
    finally:
        logger.setLevel(previous)


def _parsePreprocessing(values: Any, name: str) -> Any:
    """``RadiomicsPreprocessing.fromDict(values)`` when that module exists, else the validated mapping."""
    if values is None:
        return None
    if not isinstance(values, dict):
        raise InputError(f"Radiomics preset '{name}': 'preprocessing' must be a mapping, got {values!r}.")
    try:
        from VirtualBiopsy.extract.preprocessing import RadiomicsPreprocessing
    except ImportError:  # the IBSI preprocessing stage is optional (built separately)
        return dict(values)
    return RadiomicsPreprocessing.fromDict(values)
