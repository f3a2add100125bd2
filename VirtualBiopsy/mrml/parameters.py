"""Stage configs ⇄ scripted-module parameter nodes, in the format of Slicer's parameter node wrapper.

A headless run saves its settings where the module's GUI looks for them: the
parameter node of module ``moduleName`` (singleton tag and ``ModuleName``
attribute = ``moduleName``), one parameter per config field, written the way
the wrapper's serializers (Slicer 5.4 and newer) write the field's type:

- ``str``: the text; ``int``/``float``: ``str(value)``; ``bool``: ``"True"``/``"False"``;
  ``pathlib.Path``: its text; ``Enum``: the member's name;
- ``list[T]``: ``<name>.len`` and ``<name>.<i>`` per item;
- ``tuple[T1, T2, …]``: ``<name>.<i>`` per item;
- ``T | None`` (any union): ``<name>.<k>`` written as member ``k`` of the union,
  ``None`` as ``"True"``.

So a GUI parameter node wrapper class that declares the same fields with the
same types reads the values written here, and the other way round.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import pathlib
import types
import typing
from typing import Any, TypeVar

import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig

logger = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=StageConfig)


def saveStageConfig(
    scene: "slicer.vtkMRMLScene", moduleName: str, config: StageConfig, *, pack: str | None = None
) -> "slicer.vtkMRMLScriptedModuleNode":
    """Write every field of ``config`` to the parameter node of ``moduleName`` (created if absent).

    :param pack: the parameter pack of the module's parameter node that mirrors the config (its fields are
        then written as ``<pack>.<field>``, as the wrapper's pack serializer names them); ``None`` for a
        flat parameter node.

    :returns: the parameter node.
    :raises InputError: for a field whose type the parameter node wrapper cannot store.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise InputError(f"saveStageConfig needs a StageConfig dataclass instance, got {type(config).__name__}.")
    node = _parameterNode(scene, moduleName) or _newParameterNode(scene, moduleName)
    hints = typing.get_type_hints(type(config))
    wasModifying = node.StartModify()
    try:
        for field in dataclasses.fields(config):
            name = _packed(pack, field.name)
            _remove(node, name, hints[field.name])
            _write(node, name, getattr(config, field.name), hints[field.name])
    finally:
        node.EndModify(wasModifying)
    return node


def loadStageConfig(
    scene: "slicer.vtkMRMLScene", moduleName: str, configClass: type[ConfigT], *, pack: str | None = None
) -> ConfigT | None:
    """Read a config from the parameter node of ``moduleName``.

    Fields missing from the node keep their defaults; the result is validated.

    :param pack: the parameter pack that holds the config's fields (see :func:`saveStageConfig`), or ``None``.

    :returns: the config, or ``None`` if the scene has no parameter node for the module.
    :raises InputError: for a parameter value that does not parse as its field's type, or fails validation.
    """
    node = _parameterNode(scene, moduleName)
    if node is None:
        return None
    hints = typing.get_type_hints(configClass)
    values = {}
    for field in dataclasses.fields(configClass):
        hint, name = hints[field.name], _packed(pack, field.name)
        if _isIn(node, name, hint):
            try:
                values[field.name] = _read(node, name, hint)
            except (ValueError, KeyError) as error:
                raise InputError(
                    f"Parameter '{name}' of module {moduleName}'s parameter node cannot be read as {hint}: {error}. "
                    "Fix or delete the parameter (it then takes its default)."
                ) from error
    return configClass.fromDict(values)


def _packed(pack: str | None, name: str) -> str:
    return f"{pack}.{name}" if pack else name


def _parameterNode(scene: "slicer.vtkMRMLScene", moduleName: str) -> "slicer.vtkMRMLScriptedModuleNode | None":
    node = scene.GetSingletonNode(moduleName, "vtkMRMLScriptedModuleNode")
    if node is not None:
        return node
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLScriptedModuleNode")):
        candidate = scene.GetNthNodeByClass(index, "vtkMRMLScriptedModuleNode")
        if candidate.GetAttribute("ModuleName") == moduleName:
            return candidate
    return None


def _newParameterNode(scene: "slicer.vtkMRMLScene", moduleName: str) -> "slicer.vtkMRMLScriptedModuleNode":
    """A parameter node like the one a scripted module's logic creates."""
    node = slicer.vtkMRMLScriptedModuleNode()
    node.SetSingletonTag(moduleName)
    node.SetAttribute("ModuleName", moduleName)
    node.SetName(scene.GenerateUniqueName(moduleName))
    return scene.AddNode(node)


def _unionMembers(hint: Any) -> tuple | None:
    if typing.get_origin(hint) is typing.Union or isinstance(hint, types.UnionType):
        return typing.get_args(hint)
    return None


def _write(node, name: str, value: Any, hint: Any) -> None:
    members = _unionMembers(hint)
    if members is not None:
        index = _memberFor(value, members, name)
        if members[index] is type(None):
            node.SetParameter(f"{name}.{index}", "True")
        else:
            _write(node, f"{name}.{index}", value, members[index])
        return
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        for index, item in enumerate(value):
            _write(node, f"{name}.{index}", item, arguments[0] if arguments else str)
        node.SetParameter(f"{name}.len", str(len(value)))
    elif origin is tuple:
        _requireFixedTuple(hint, name)
        for index, (item, itemHint) in enumerate(zip(value, arguments, strict=True)):
            _write(node, f"{name}.{index}", item, itemHint)
    elif hint is bool:
        node.SetParameter(name, "True" if value else "False")
    elif hint in (int, float, str) or hint in (pathlib.Path, pathlib.PurePath):
        node.SetParameter(name, str(value))
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        node.SetParameter(name, value.name)
    else:
        raise InputError(
            f"Setting '{name}' has type {hint}, which the parameter node wrapper cannot store. "
            "Use str, int, float, bool, pathlib.Path, an Enum, list[...], tuple[...] or a union with None."
        )


def _read(node, name: str, hint: Any) -> Any:
    members = _unionMembers(hint)
    if members is not None:
        for index, member in enumerate(members):
            if _isIn(node, f"{name}.{index}", member):
                return None if member is type(None) else _read(node, f"{name}.{index}", member)
        raise KeyError(f"no member of the union is stored under '{name}'")
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        length = int(node.GetParameter(f"{name}.len"))
        return [_read(node, f"{name}.{index}", arguments[0] if arguments else str) for index in range(length)]
    if origin is tuple:
        _requireFixedTuple(hint, name)
        return tuple(_read(node, f"{name}.{index}", itemHint) for index, itemHint in enumerate(arguments))
    text = node.GetParameter(name)
    if hint is bool:
        return text == "True"
    if hint in (int, float, str) or hint in (pathlib.Path, pathlib.PurePath):
        return hint(text)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint[text]
    raise InputError(f"Setting '{name}' has type {hint}, which the parameter node wrapper cannot store.")


def _isIn(node, name: str, hint: Any) -> bool:
    members = _unionMembers(hint)
    if members is not None:
        return any(_isIn(node, f"{name}.{index}", member) for index, member in enumerate(members))
    origin = typing.get_origin(hint)
    if origin is list:
        return node.HasParameter(f"{name}.len")
    if origin is tuple:
        return _isIn(node, f"{name}.0", typing.get_args(hint)[0])
    return node.HasParameter(name)


def _remove(node, name: str, hint: Any) -> None:
    members = _unionMembers(hint)
    if members is not None:
        for index, member in enumerate(members):
            _remove(node, f"{name}.{index}", member)
        return
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        if node.HasParameter(f"{name}.len"):
            for index in range(int(node.GetParameter(f"{name}.len") or 0)):
                _remove(node, f"{name}.{index}", arguments[0] if arguments else str)
        node.UnsetParameter(f"{name}.len")
    elif origin is tuple:
        for index, itemHint in enumerate(arguments):
            _remove(node, f"{name}.{index}", itemHint)
    else:
        node.UnsetParameter(name)


def _memberFor(value: Any, members: tuple, name: str) -> int:
    """The union member the wrapper would pick: the first whose type accepts the value."""
    for index, member in enumerate(members):
        origin = typing.get_origin(member) or member
        if member is type(None):
            if value is None:
                return index
        elif member is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return index
        elif isinstance(origin, type) and isinstance(value, origin):
            return index
    raise InputError(f"Setting '{name}' = {value!r} matches none of the types {members}.")


def _requireFixedTuple(hint: Any, name: str) -> None:
    if Ellipsis in typing.get_args(hint):
        raise InputError(f"Setting '{name}' has type {hint}; the parameter node wrapper needs a fixed-length tuple.")
