"""MONAI Model Zoo bundles, read as data and never run.

A bundle folder holds ``configs/metadata.json``, ``configs/inference.json`` (or ``.yaml``/``.yml``),
``models/model.pt`` (a state dict) and maybe ``models/model.ts`` (not used). MONAI's ``ConfigParser`` evaluates
``$`` strings as Python and imports ``_target_`` class paths, so a shared bundle could run any code. Virtual Biopsy
never hands a bundle config to it: the files are read as plain JSON or with ``yaml.safe_load`` (at most 1 MiB
each), and only these fields are used:

- ``network_def``: its ``_target_`` must name an allow-listed network of ``monai.networks.nets`` and its other
  keys must be plain values (:func:`~VirtualBiopsy.models.allowList.checkMonaiNetwork`,
  :func:`~VirtualBiopsy.models.allowList.checkPlainValues`); anything else is refused with an
  :class:`~VirtualBiopsy.models.allowList.UnsafeModelError` naming the file, the field and the value;
- ``inferer.roi_size`` and the ``pixdim`` of a ``Spacingd``/``Spacing`` transform in ``preprocessing``, when they
  are literal lists of numbers (otherwise they are not used);
- ``postprocessing``, only looked at for a sigmoid activation (overlapping regions), which the softmax MONAI
  backend cannot run: such bundles are refused;
- the metadata's ``network_data_format`` (input channels, output labels), ``version``, ``description``, ….

Every other section (``imports`` and its ``$import`` lines, ``network``, ``preprocessing``, ``postprocessing``,
``handlers``, ``initialize``, ``run`` …) is never evaluated or imported. The bundle becomes a ``monai-network``
model: the MONAI backend builds the named class with the checked arguments, loads ``models/model.pt`` weights-only
and applies its own preprocessing (per-channel z-score over non-zero voxels), not the bundle's.

Trust does not change any of this: a bundle imported with ``--trust`` is read the same way. A trusted model may
fully unpickle its checkpoints, but a ``_target_`` outside the allow-list could only be built by evaluating the
bundle's code, so it is refused for trusted bundles too.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import stat
from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.allowList import checkMonaiNetwork, checkPlainValues, refuse
from VirtualBiopsy.models.modelLayout import ModelLayout
from VirtualBiopsy.models.modelMetadata import parseInputs, parseLabels

logger = logging.getLogger(__name__)

METADATA = "configs/metadata.json"
#: The inference configs looked for, in this order; the first present is read.
INFERENCE_CONFIGS = ("configs/inference.json", "configs/inference.yaml", "configs/inference.yml")
WEIGHTS = "models/model.pt"
MAX_CONFIG_BYTES = 1 << 20
_MAX_NODES = 100_000  # YAML aliases can make a small file a huge tree
_MAX_DEPTH = 64
_BUNDLE_HINT = (
    "MONAI bundles are read as data whether trusted or not (--trust does not change this): use a bundle "
    "whose network_def names a network of monai.networks.nets with literal arguments."
)


def isMonaiBundle(path: pathlib.Path) -> bool:
    """Whether ``path`` is a folder with ``configs/metadata.json`` and ``configs/inference.json|yaml|yml``
    (checked without following links; links are refused when the bundle is read)."""
    path = pathlib.Path(path)
    return (
        stat.S_ISDIR(_mode(path))
        and stat.S_ISDIR(_mode(path / "configs"))
        and _mode(path / METADATA) != 0
        and any(_mode(path / name) for name in INFERENCE_CONFIGS)
    )


def bundleLayout(path: pathlib.Path) -> ModelLayout:
    """The :class:`~VirtualBiopsy.models.modelLayout.ModelLayout` (backend ``monai-network``) of a
    MONAI bundle folder, read without evaluating any of it.

    :raises UnsafeModelError: for a ``network_def`` outside the allow-list (trusted or not).
    :raises InputError: for a missing, linked, oversized or malformed file, a sigmoid (multi-label) bundle, or
        metadata that do not name the input channels and output labels.
    """
    root = pathlib.Path(path)
    configName = next((name for name in INFERENCE_CONFIGS if _mode(root / name)), None)
    if configName is None or not _mode(root / METADATA):
        raise InputError(
            f"{root} is not a MONAI bundle: it needs {METADATA} and one of "
            f"{', '.join(INFERENCE_CONFIGS)}; copy the whole bundle folder."
        )
    configPath = root / configName
    config = readBundleConfig(configPath)
    network, networkArgs = bundleNetwork(config, str(configPath))
    _refuseSigmoid(config.get("postprocessing"), configPath)
    if not stat.S_ISREG(_mode(root / WEIGHTS)):
        raise InputError(
            f"MONAI bundle {root} has no {WEIGHTS} (a plain file with the network's state dict, "
            "torch.save); download the bundle with its weights and copy the whole folder."
        )
    metadataPath = root / METADATA
    metadata = readBundleConfig(metadataPath)
    formats = metadata.get("network_data_format")
    image = _section(formats, "inputs", "image")
    channels = image.get("channel_def")
    if channels is None and isinstance(image.get("num_channels"), int) and image["num_channels"] > 0:
        channels = [f"channel{index}" for index in range(image["num_channels"])]
    key = "network_data_format.inputs.image.channel_def"
    if channels is None:
        raise InputError(
            f"{metadataPath}: '{key}' (or 'num_channels') is missing; name the input channels, e.g. "
            '"channel_def": {"0": "T1c", "1": "FLAIR"}.'
        )
    inputs = parseInputs(channels, metadataPath, key)
    labels = _section(formats, "outputs", "pred").get("channel_def")
    if labels is None:
        raise InputError(
            f"{metadataPath}: 'network_data_format.outputs.pred.channel_def' is missing; name the "
            'output channels, e.g. {"0": "background", "1": "tumour"}.'
        )
    labels = parseLabels(labels, metadataPath)
    _requireChannelCounts(networkArgs, len(inputs), max(label.value for label in labels), configPath)
    options = {
        "network": network,
        "networkArgs": networkArgs,
        "weights": WEIGHTS,
        "metadata": METADATA,
        **_literalOptions(config, configPath),
    }
    logger.info(
        "MONAI bundle %s: only network_def, inferer.roi_size and Spacing pixdim of %s are used; its "
        "pre- and postprocessing are not run (Virtual Biopsy z-scores each channel over non-zero voxels "
        "and takes the argmax of a softmax).",
        root,
        configName,
    )
    return ModelLayout(
        backend="monai-network",
        root=root,
        files=(configName, METADATA, WEIGHTS),
        inputs=inputs,
        labels=labels,
        version=str(metadata.get("version") or "unversioned"),
        licence=str(metadata.get("license") or metadata.get("licence") or ""),
        source=str(metadata.get("source") or metadata.get("authors") or ""),
        description=str(metadata.get("description") or metadata.get("name") or ""),
        options=options,
    )


def bundleNetwork(config: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """The class name in ``monai.networks.nets`` and the keyword arguments of a bundle's ``network_def``.

    :param where: the config file, for messages.
    :raises UnsafeModelError: for a ``network_def`` that is an expression, a ``_target_`` outside the
        allow-list, or an argument that is an expression, a reference or an object built from a class path.
    :raises InputError: for a missing ``network_def`` or arguments that are not plain JSON values.
    """
    definition = config.get("network_def")
    if isinstance(definition, str):
        raise refuse(
            where,
            "network_def",
            definition,
            "a mapping with '_target_' naming a network of monai.networks.nets and its literal arguments",
            _BUNDLE_HINT,
        )
    if not isinstance(definition, Mapping):
        raise InputError(
            f"{where} has no 'network_def' mapping (it holds {definition!r}); Virtual Biopsy builds a "
            'bundle\'s network from it, e.g. "network_def": {"_target_": "SegResNet", "in_channels": 4}.'
        )
    name = checkMonaiNetwork(definition.get("_target_"), None, where, "network_def._target_", _BUNDLE_HINT)
    arguments = {key: value for key, value in definition.items() if key != "_target_"}
    checkPlainValues(arguments, where, "network_def", _BUNDLE_HINT)
    try:
        json.dumps(arguments, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"{where}: the arguments of network_def ({arguments!r}) are not plain JSON values "
            f"({error}); use numbers, strings, lists and mappings."
        ) from error
    return name, arguments


def readBundleConfig(path: pathlib.Path) -> dict[str, Any]:
    """The mapping in a bundle's JSON or YAML file (``yaml.safe_load``: no Python tags), without following links.

    :raises InputError: for a link or special file, a file over 1 MiB, invalid JSON/YAML, a YAML tag that would
        build a Python object, or a document too large or deep once loaded.
    """
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            raise InputError(f"{path} is a symbolic link or not a regular file; a bundle must be plain files.")
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise InputError(f"{path} cannot be read ({error.strerror}); copy the whole bundle again.") from error
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(
            f"{path} is larger than {MAX_CONFIG_BYTES} bytes, too large for a bundle config; a real "
            "bundle's configs are a few kilobytes. Give the bundle's own files."
        )
    try:
        text = data.decode("utf-8")
        document = json.loads(text) if path.suffix == ".json" else _safeYaml(text, path)
    except InputError:
        raise
    except (ValueError, RecursionError) as error:
        raise InputError(
            f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'} "
            f"({str(error).splitlines()[0] if str(error) else type(error).__name__}); fix the file."
        ) from error
    if not isinstance(document, dict):
        raise InputError(f"{path} must hold a mapping, not a {type(document).__name__}.")
    _requireSmall(document, path)
    return document


def _safeYaml(text: str, path: pathlib.Path) -> Any:
    from VirtualBiopsy.errors import requirePackage
    from VirtualBiopsy.settings import loadYaml

    requirePackage("yaml", "PyYAML")
    return loadYaml(text, str(path), _BUNDLE_HINT, maxBytes=MAX_CONFIG_BYTES)


def _refuseSigmoid(postprocessing: Any, where: pathlib.Path) -> None:
    """:raises InputError: when ``postprocessing`` applies a sigmoid (or a threshold) to the network's output."""
    for path, transform in _mappings(postprocessing, "postprocessing"):
        name = _targetName(transform)
        keys = (
            ("sigmoid",)
            if name in ("Activations", "Activationsd")
            else ("threshold", "threshold_values", "logit_thresh")
            if name in ("AsDiscrete", "AsDiscreted") and not transform.get("argmax")
            else ()
        )
        field = next((key for key in keys if transform.get(key) not in (None, False)), None)
        if field is not None:
            raise InputError(
                f"{where}: field '{path}.{field}' holds {transform[field]!r} ({name}): the bundle predicts "
                "overlapping regions with one sigmoid per channel, which Virtual Biopsy's MONAI backend (a softmax "
                "over classes, one label per voxel) would label wrongly; the bundle was not imported. Use a bundle "
                "with softmax/argmax output."
            )


def _literalOptions(config: Mapping[str, Any], where: pathlib.Path) -> dict[str, Any]:
    """``roiSize`` and ``spacing`` from the config, when they are literal lists of three positive numbers."""
    options: dict[str, Any] = {}
    inferer = config.get("inferer")
    roiSize = inferer.get("roi_size") if isinstance(inferer, Mapping) else None
    if _threeNumbers(roiSize, integers=True):
        options["roiSize"] = list(roiSize)
    else:
        logger.info("%s: inferer.roi_size (%r) is not a literal list of three voxel counts; not used.", where, roiSize)
    pixdims = [
        (path, transform.get("pixdim"))
        for path, transform in _mappings(config.get("preprocessing"), "preprocessing")
        if _targetName(transform) in ("Spacing", "Spacingd")
    ]
    if len({repr(pixdim) for _, pixdim in pixdims}) == 1 and _threeNumbers(pixdims[0][1], integers=False):
        options["spacing"] = [float(value) for value in pixdims[0][1]]
    elif pixdims:
        logger.info("%s: Spacing pixdim %s is not one literal list of three sizes; not used.", where, pixdims)
    return options


def _requireChannelCounts(arguments: Mapping[str, Any], inputs: int, largestLabel: int, where: pathlib.Path) -> None:
    """:raises InputError: when literal ``in_channels``/``out_channels`` contradict the metadata."""
    given, produced = arguments.get("in_channels"), arguments.get("out_channels")
    if (isinstance(given, int) and given != inputs) or (isinstance(produced, int) and produced <= largestLabel):
        raise InputError(
            f"{where}: network_def has in_channels {given} and out_channels {produced} but the metadata "
            f"name {inputs} input channel(s) and labels up to {largestLabel}; fix one of them."
        )


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any, int]]:
    """Every value inside a literal ``value`` (depth first) with its field path and depth; strings are not looked
    into."""
    stack = [(path, value, 0)]
    while stack:
        path, item, depth = stack.pop()
        yield path, item, depth
        children = (
            [(f"{path}.{key}", child) for key, child in item.items()]
            if isinstance(item, Mapping)
            else [(f"{path}[{index}]", child) for index, child in enumerate(item)]
            if isinstance(item, list)
            else []
        )
        stack += [(childPath, child, depth + 1) for childPath, child in reversed(children)]


def _mappings(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    return ((path, item) for path, item, _ in _walk(value, path) if isinstance(item, Mapping))


def _requireSmall(document: Any, where: pathlib.Path) -> None:
    """:raises InputError: for more than ``_MAX_NODES`` values or nesting deeper than ``_MAX_DEPTH``."""
    for count, (_, _, depth) in enumerate(_walk(document, ""), 1):
        if count > _MAX_NODES or depth > _MAX_DEPTH:
            raise InputError(
                f"{where} holds more than {_MAX_NODES} values or nests deeper than {_MAX_DEPTH} levels "
                "(YAML aliases?); a bundle config is far smaller. Give the bundle's own files."
            )


def _section(document: Any, *keys: str) -> Mapping[str, Any]:
    for key in keys:
        document = document.get(key) if isinstance(document, Mapping) else None
    return document if isinstance(document, Mapping) else {}


def _targetName(transform: Mapping[str, Any]) -> str:
    target = transform.get("_target_")
    return target.rsplit(".", 1)[-1] if isinstance(target, str) else ""


def _threeNumbers(value: Any, integers: bool) -> TypeGuard[list[Any]]:
    kinds = (int,) if integers else (int, float)
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, kinds) and not isinstance(v, bool) and v > 0 for v in value)
    )


def _mode(path: pathlib.Path) -> int:
    """The file type and mode of ``path`` itself (a link is not followed); 0 when absent."""
    try:
        return path.lstat().st_mode
    except OSError:
        return 0
