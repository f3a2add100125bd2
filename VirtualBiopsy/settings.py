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


#: The largest settings file read (a pipeline, extraction or parameter file is a few kilobytes).
MAX_YAML_BYTES = 1 << 20
#: The most values a YAML document may hold once its aliases are expanded, and its deepest nesting.
MAX_YAML_VALUES = 100_000
MAX_YAML_DEPTH = 64
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


def readYamlFile(path: str | pathlib.Path, what: str) -> dict[str, Any]:
    """Read a YAML (or JSON) file whose top level is a mapping; an empty file gives ``{}``.

    The file is read as data only (:func:`loadYaml`): no Python tags, at most :data:`MAX_YAML_BYTES`.

    :param what: what the file is, for messages (e.g. ``"Pipeline settings file"``).
    :raises InputError: when the file is missing, too large, not UTF-8, not valid YAML, holds a Python tag or an
        alias bomb, or is not a mapping.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}. Give the path of an existing YAML file.")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as error:
        raise InputError(f"{what} {path} cannot be read ({error.strerror}); check its permissions.") from error
    document = loadYaml(data, f"{what} {path}")
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InputError(f"{what} {path} must hold a mapping of names to settings, not a {type(document).__name__}.")
    return document


def loadYaml(data: bytes | str, where: str, hint: str = "", maxBytes: int = MAX_YAML_BYTES) -> Any:
    """The plain values (mappings, lists, strings, numbers, booleans, null) of one YAML document, never an object.

    The document is composed first and checked before anything is built: a tag ``yaml.safe_load`` cannot build
    (``!!python/object/apply:os.system``) is refused naming its field, and so are more than
    :data:`MAX_YAML_VALUES` values once aliases (``&a`` / ``*a``) are expanded, or nesting deeper than
    :data:`MAX_YAML_DEPTH` (a "billion laughs" bomb is a few lines).

    :param where: what and where the text is, for messages (e.g. ``"Pipeline settings file PATH"``).
    :param hint: a sentence added to a refused tag's message (the fix).
    :raises InputError: for text over ``maxBytes``, bytes that are not UTF-8, invalid YAML, a refused tag or a
        document too large or deep.
    """
    import yaml

    if len(data) > maxBytes:
        raise InputError(
            f"{where} is larger than {maxBytes} bytes; a settings file is a few kilobytes. "
            "Give the settings file itself, not a data file."
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{where} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                "save it as UTF-8 plain text."
            ) from error
    try:
        node = yaml.compose(data, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise InputError(f"{where} is not valid YAML ({' '.join(str(error).split())}); fix the file.") from error
    if node is None:
        return None
    _checkYamlNodes(yaml, node, where, hint)
    return yaml.safe_load(data)


def _checkYamlNodes(yaml: Any, root: Any, where: str, hint: str) -> None:
    """Refuse an unbuildable tag (naming its field), too many values or too deep a nesting."""
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    count = 0
    while stack:
        path, node, depth = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES or depth > MAX_YAML_DEPTH:
            raise InputError(
                f"{where} holds more than {MAX_YAML_VALUES} values once its aliases (&name, *name) are expanded, "
                f"or nests deeper than {MAX_YAML_DEPTH} levels (an alias bomb?); nothing of it was used. "
                "Write the settings out plainly, without aliases."
            )
        if node.tag not in yaml.SafeLoader.yaml_constructors and node.tag != _YAML_TAG_PREFIX + "merge":
            tag = str(node.tag)
            shown = "!!" + tag[len(_YAML_TAG_PREFIX) :] if tag.startswith(_YAML_TAG_PREFIX) else tag
            raise InputError(
                f"{where}: field '{path or '(document)'}' has the YAML tag '{shown}', which would build a Python "
                "object; the file may hold plain values only (no !!python tags) and nothing of it ran. "
                + (hint or "Remove the tag and write the plain value.")
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((f"{path}.{name}" if path else str(name), value, depth + 1))
                stack.append((path or "(document)", key, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack += [(f"{path}[{index}]", item, depth + 1) for index, item in reversed(list(enumerate(node.value)))]


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
