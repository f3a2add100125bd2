"""Static reading of the Slicer module files (``*Module/*.py``) for the guard tests.

The module files import ``slicer.ScriptedLoadableModule``, ``qt`` and
``slicer.parameterNodeWrapper``, which exist only inside 3D Slicer, so the tests
read them with :mod:`ast` instead of importing them.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pathlib
import re

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
WIDGET_HELPERS = REPOSITORY / "VirtualBiopsyWidgets"


@dataclasses.dataclass
class ParameterField:
    """One annotated attribute of a ``@parameterNodeWrapper`` class.

    :ivar typeText: the type without ``Annotated[...]`` extras, normalized by :func:`normalizeType`.
    :ivar extras: names of the ``Annotated`` extras (``Choice``, ``WithinRange``, ...).
    :ivar default: the default expression, or ``None``.
    """

    name: str
    typeText: str
    extras: list[str]
    default: ast.expr | None


@dataclasses.dataclass
class ModuleSource:
    """A scripted module: its ``.py`` file, ``.ui`` file and parsed syntax tree."""

    name: str
    pyPath: pathlib.Path
    uiPath: pathlib.Path
    tree: ast.Module

    @property
    def folder(self) -> pathlib.Path:
        return self.pyPath.parent


def moduleSources() -> list[ModuleSource]:
    """Every ``<Folder>Module/<Name>.py`` with a ``Resources/UI/<Name>.ui`` beside it."""
    sources = []
    for uiPath in sorted(REPOSITORY.glob("*Module/Resources/UI/*.ui")):
        pyPath = uiPath.parents[2] / f"{uiPath.stem}.py"
        tree = ast.parse(pyPath.read_text(encoding="utf-8"), str(pyPath)) if pyPath.is_file() else None
        sources.append(ModuleSource(uiPath.stem, pyPath, uiPath, tree))
    return sources


def normalizeType(text: str) -> str:
    """Spell a type annotation one way: no spaces, no ``typing.``, ``Optional[X]`` as ``X|None``."""
    text = re.sub(r"\s+", "", text).replace("typing.", "")
    text = re.sub(r"\bList\[", "list[", text)
    text = re.sub(r"\bDict\[", "dict[", text)
    match = re.fullmatch(r"Optional\[(.*)\]", text)
    return f"{match.group(1)}|None" if match else text


def dataclassFieldType(field: dataclasses.Field) -> str:
    """The normalized type of a dataclass field (a string under postponed annotations)."""
    fieldType = field.type
    if not isinstance(fieldType, str):
        fieldType = getattr(fieldType, "__name__", None) if isinstance(fieldType, type) else str(fieldType)
    return normalizeType(fieldType)


def _decoratorName(decorator: ast.expr) -> str | None:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)


def _isParameterNodeWrapper(decorator: ast.expr) -> bool:
    return _decoratorName(decorator) == "parameterNodeWrapper"


def parameterNodeClass(tree: ast.Module) -> ast.ClassDef | None:
    """The module's ``@parameterNodeWrapper`` class, or ``None``."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(_isParameterNodeWrapper(d) for d in node.decorator_list):
            return node
    return None


def parameterPackClasses(tree: ast.Module) -> dict[str, ast.ClassDef]:
    """The module's ``@parameterPack`` classes by class name."""
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and any(_decoratorName(d) == "parameterPack" for d in node.decorator_list)
    }


def parameterScopes(tree: ast.Module) -> dict[str, dict[str, ParameterField]]:
    """Where a module's config fields can live: ``""`` for the parameter node's own fields (a flat node),
    and the name of each field whose type is one of the module's ``@parameterPack`` classes, for that
    pack's fields (a node made of one pack per panel section)."""
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return {}
    packs = parameterPackClasses(tree)
    scopes: dict[str, dict[str, ParameterField]] = {"": {}}
    for name, field in parameterFields(classNode).items():
        if field.typeText in packs:
            scopes[name] = parameterFields(packs[field.typeText])
        else:
            scopes[""][name] = field
    return scopes


def parameterNames(tree: ast.Module) -> dict[str, ParameterField]:
    """Every value field of the parameter node by the name a ``.ui`` ``SlicerParameterName`` binds it with:
    ``name`` on the node itself, ``pack.name`` inside a ``@parameterPack`` field (``a.b.name`` for nested
    packs), as Slicer's ``parameterNodeWrapper`` resolves dotted names (``splitPossiblyDottedName``:
    the first part names the node's field, the rest a member of that pack)."""
    packs = parameterPackClasses(tree)

    def expand(classNode: ast.ClassDef, prefix: str, seen: frozenset) -> dict[str, ParameterField]:
        names = {}
        for name, field in parameterFields(classNode).items():
            if field.typeText in packs and field.typeText not in seen:
                names.update(expand(packs[field.typeText], f"{prefix}{name}.", seen | {field.typeText}))
            else:
                names[prefix + name] = dataclasses.replace(field, name=prefix + name)
        return names

    classNode = parameterNodeClass(tree)
    return expand(classNode, "", frozenset()) if classNode is not None else {}


def parameterFields(classNode: ast.ClassDef) -> dict[str, ParameterField]:
    """The annotated attributes of a parameter node class, in order."""
    fields = {}
    for statement in classNode.body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        annotation, extras = statement.annotation, []
        if isinstance(annotation, ast.Subscript) and getattr(annotation.value, "id", None) == "Annotated":
            elements = annotation.slice.elts
            annotation = elements[0]
            for extra in elements[1:]:
                call = extra.func if isinstance(extra, ast.Call) else extra
                extras.append(call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "?"))
        name = statement.target.id
        fields[name] = ParameterField(name, normalizeType(ast.unparse(annotation)), extras, statement.value)
    return fields


def uiReferences(tree: ast.AST) -> set[str]:
    """Names used as ``self.ui.<name>`` in a syntax tree."""
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "ui"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "self"
        ):
            names.add(node.attr)
    return names


def helperFiles(tree: ast.Module) -> list[pathlib.Path]:
    """The ``VirtualBiopsyWidgets`` files a module imports by name (``from VirtualBiopsyWidgets.x import ...``
    or ``from VirtualBiopsyWidgets import x``): its own section glue."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("VirtualBiopsyWidgets."):
                names.add(node.module.split(".", 1)[1])
            elif node.module == "VirtualBiopsyWidgets":
                names |= {alias.name for alias in node.names}
    return [WIDGET_HELPERS / f"{name}.py" for name in sorted(names) if (WIDGET_HELPERS / f"{name}.py").is_file()]


def moduleUiReferences(tree: ast.Module) -> set[str]:
    """``self.ui.<name>`` used by a module file and by the helper files it imports by name."""
    names = uiReferences(tree)
    for path in helperFiles(tree):
        names |= uiReferences(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return names


def sharedUiReferences() -> set[str]:
    """``self.ui.<name>`` used by the shared widget helpers (the base class): every ``.ui`` needs them.

    Helper files that a module imports by name are that module's own and left out.
    """
    ownHelpers = {path for source in moduleSources() if source.tree is not None for path in helperFiles(source.tree)}
    names = set()
    for path in sorted(WIDGET_HELPERS.glob("*.py")):
        if path not in ownHelpers:
            names |= uiReferences(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return names


def importedNames(tree: ast.Module) -> dict[str, str]:
    """``{local name: "package.module"}`` for the ``from X import Y`` statements at module level."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
    return names


def configClassesUsed(tree: ast.Module) -> list[type]:
    """The config dataclasses the module builds with ``configFromParameterNode(Config, ...)``,
    imported from where the module imports them.
    """
    imports = importedNames(tree)
    classes = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "configFromParameterNode"
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            name = node.args[0].id
            configClass = getattr(importlib.import_module(imports[name]), name)
            if configClass not in classes:
                classes.append(configClass)
    return classes


def configUses(tree: ast.Module) -> list[tuple[type, str | None]]:
    """``(Config, scope)`` for each ``configFromParameterNode(Config, X)`` call of the module: scope ``""``
    when ``X`` is a name (the whole parameter node), the attribute when ``X`` is ``<node>.<pack>``
    (``parameterNode.segmentation`` gives ``"segmentation"``), ``None`` for anything else."""
    imports = importedNames(tree)
    uses = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "configFromParameterNode"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
        ):
            name = node.args[0].id
            configClass = getattr(importlib.import_module(imports[name]), name)
            source = node.args[1]
            if isinstance(source, ast.Name):
                scope = ""
            elif isinstance(source, ast.Attribute) and isinstance(source.value, ast.Name):
                scope = source.attr
            else:
                scope = None
            if (configClass, scope) not in uses:
                uses.append((configClass, scope))
    return uses


def defaultsInstances(tree: ast.Module) -> dict[str, str]:
    """``{NAME: ConfigClassName}`` for module-level ``NAME = ConfigClass()`` assignments."""
    instances = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and not node.value.args
            and not node.value.keywords
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    instances[target.id] = node.value.func.id
    return instances
