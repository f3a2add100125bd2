"""Base class of the stage configurations: dataclasses that load from and save to
plain dictionaries and YAML, checking every key and type on the way in.

A stage config names its fields as Slicer and pyradiomics do (camelCase, e.g.
``binWidth``) so that the same name flows through the dataclass, the module's
parameter node, the ``.ui`` file and the YAML presets.
"""

from __future__ import annotations

import dataclasses
import difflib
import pathlib
import typing
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from VirtualBiopsy.errors import InputError

ConfigT = TypeVar("ConfigT", bound="StageConfig")


class StageConfig:
    """Mixin for ``@dataclass`` stage configurations.

    Subclasses may override :meth:`validate` to check ranges and choices; it runs
    after every :meth:`fromDict`.
    """

    if TYPE_CHECKING:
        # Every subclass is a dataclass: declare what ``@dataclass`` adds, so type checkers accept
        # ``dataclasses.fields()`` of a config.
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def fromDict(cls: type[ConfigT], values: dict[str, Any] | None) -> ConfigT:
        """Build a config from a dictionary, rejecting unknown keys and wrong types.

        :param values: field values; missing fields keep their defaults.
        :raises InputError: for an unknown key (with the closest known one) or a value of the wrong type.
        """
        values = dict(values or {})
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise InputError(f"{cls.__name__} has no setting '{key}'.{hint} Known settings: {', '.join(names)}.")
        converted = {key: _coerce(cls.__name__, key, value, hints[key]) for key, value in values.items()}
        config = cls(**converted)
        config.validate()
        return config

    def toDict(self) -> dict[str, Any]:
        """Return the settings as a plain dictionary (lists for sequences), ready for YAML or JSON."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def validate(self) -> None:
        """Check ranges and choices; raise :class:`InputError` naming the bad value."""

    def replace(self: ConfigT, **changes: Any) -> ConfigT:
        """Return a validated copy with some settings changed."""
        return type(self).fromDict({**self.toDict(), **changes})


def readYamlFile(path: str | pathlib.Path, what: str) -> dict[str, Any]:
    """Read a YAML (or JSON) file whose top level is a mapping; an empty file gives ``{}``.

    :param what: what the file is, for messages (e.g. ``"Pipeline settings file"``).
    :raises InputError: when the file is missing, not valid YAML, or not a mapping.
    """
    import yaml

    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}. Give the path of an existing YAML file.")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(f"{what} {path} is not valid YAML: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InputError(f"{what} {path} must hold a mapping of names to settings, not a {type(document).__name__}.")
    return document


def requireChoice(config: object, name: str, choices: typing.Iterable[str]) -> None:
    """Raise :class:`InputError` unless setting ``name`` of ``config`` is one of ``choices``."""
    value = getattr(config, name)
    choices = list(choices)
    if value not in choices:
        raise InputError(f"{type(config).__name__}.{name} is '{value}'; choose one of: {', '.join(choices)}.")


def requireRange(config: object, name: str, low: float | None = None, high: float | None = None) -> None:
    """Raise :class:`InputError` unless ``low <= value <= high`` for setting ``name``."""
    value = getattr(config, name)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise InputError(f"{type(config).__name__}.{name} is {value}; it must lie in {bounds}.")


def _coerce(owner: str, key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in arguments:
            return None
        members = [a for a in arguments if a is not type(None)]
        if len(members) == 1:
            return _coerce(owner, key, value, members[0])
        # ``int | str`` (a fold number or "all"): the first member that takes the value.
        for member in members:
            try:
                return _coerce(owner, key, value, member)
            except InputError:
                continue
        names = " or ".join(getattr(member, "__name__", str(member)) for member in members)
        raise InputError(f"{owner}.{key} must be of type {names}, got {value!r}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{owner}.{key} must be a list, got {value!r}.")
        itemHint = arguments[0] if arguments else Any
        items = [_coerce(owner, key, item, itemHint) for item in value]
        return items if origin is list else tuple(items)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and not (isinstance(value, hint) and not (hint is int and isinstance(value, bool))):
        raise InputError(f"{owner}.{key} must be of type {hint.__name__}, got {value!r}.")
    if hint is float and not isinstance(value, float):
        raise InputError(f"{owner}.{key} must be a number, got {value!r}.")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
