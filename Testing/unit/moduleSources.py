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


# --- Parameter packs: a parameter node made of one ``@parameterPack`` per panel section -----------------------
# A module's parameter node may be flat (config fields and nodes as its own fields) or made of packs; the
# functions below read both, so that the guard tests hold for either shape.


def _isParameterPack(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return name == "parameterPack"


def moduleTrees(tree: ast.Module) -> list[ast.Module]:
    """The module file's tree, then the trees of the helper files it imports by name."""
    return [tree] + [ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in helperFiles(tree)]


def parameterPackClasses(tree: ast.Module) -> dict[str, tuple[ast.ClassDef, ast.Module]]:
    """``{class name: (class, the tree that defines it)}`` of the ``@parameterPack`` classes in the module file
    and its helper files."""
    packs = {}
    for moduleTree in moduleTrees(tree):
        for node in moduleTree.body:
            if isinstance(node, ast.ClassDef) and any(_isParameterPack(d) for d in node.decorator_list):
                packs[node.name] = (node, moduleTree)
    return packs


def parameterPacks(tree: ast.Module) -> dict[str, tuple[ast.ClassDef, ast.Module]]:
    """``{parameter-node field: (pack class, its tree)}`` for the node's fields whose type is a parameter pack."""
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return {}
    packs = parameterPackClasses(tree)
    return {
        name: packs[field.typeText] for name, field in parameterFields(classNode).items() if field.typeText in packs
    }


def bindableParameters(tree: ast.Module) -> dict[str, ParameterField]:
    """Every name a ``.ui`` ``SlicerParameterName`` can bind: the node's own fields that are not packs, and
    ``<pack field>.<member>`` for each member of each pack (as Slicer's ``parameterPack`` resolves dotted names)."""
    classNode = parameterNodeClass(tree)
    if classNode is None:
        return {}
    packs = parameterPacks(tree)
    names = {}
    for name, field in parameterFields(classNode).items():
        if name in packs:
            for member, memberField in parameterFields(packs[name][0]).items():
                names[f"{name}.{member}"] = memberField
        else:
            names[name] = field
    return names


def configBindings(tree: ast.Module) -> list[tuple[type, str | None]]:
    """``(config class, pack field or None)`` of each ``configFromParameterNode(Config, parameterNode[.<pack>])``
    in the module file: ``None`` when the config is read from the flat node itself."""
    imports = importedNames(tree)
    bindings = []
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
            pack = source.attr if isinstance(source, ast.Attribute) else None
            if (configClass, pack) not in bindings:
                bindings.append((configClass, pack))
    return bindings


def moduleLevelDefaults(tree: ast.Module) -> dict[str, str]:
    """:func:`defaultsInstances` of the module file and of its helper files."""
    instances = {}
    for moduleTree in moduleTrees(tree):
        instances |= defaultsInstances(moduleTree)
    return instances
