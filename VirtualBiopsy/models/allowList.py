"""The classes and names an untrusted model's configuration may make a library import and call.

nnU-Net resolves the class names in a model's ``plans.json`` (the network class, its ``conv_op``, ``norm_op``,
``dropout_op``, ``nonlin`` and whatever ``_kw_requires_import`` lists) with ``pydoc.locate`` and calls them while
it builds the network, and looks up preprocessors, normalizations, resampling functions, label managers and
trainers by name. MONAI builds networks from names and keyword arguments, and MONAI bundles hold ``_target_``
class paths and ``$`` Python expressions. A model folder shared between colleagues could so run any code.

Before a library sees an untrusted model, every such name is checked here against the classes real models use;
anything else is refused with an :class:`UnsafeModelError` naming the file, the field and the value. Only a model
imported with ``--trust`` (its hash pinned in the manifest) skips these checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from VirtualBiopsy.errors import ModelError

_TORCH_LAYERS = {
    "conv": ("conv", ("Conv1d", "Conv2d", "Conv3d")),
    "norm": ("batchnorm", ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")),
    "instancenorm": ("instancenorm", ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")),
    "groupnorm": ("normalization", ("GroupNorm", "LayerNorm")),
    "dropout": ("dropout", ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")),
    "nonlin": (
        "activation",
        ("ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "Hardswish"),
    ),
}


def _torchPaths(*kinds: str) -> frozenset[str]:
    """``torch.nn.X`` and ``torch.nn.modules.<module>.X`` for the layers of the given kinds."""
    paths = set()
    for kind in kinds:
        module, names = _TORCH_LAYERS[kind]
        paths |= {f"torch.nn.{name}" for name in names} | {f"torch.nn.modules.{module}.{name}" for name in names}
    return frozenset(paths)


_RESIDUAL_BLOCKS = frozenset(
    f"dynamic_network_architectures.building_blocks.residual.{name}" for name in ("BasicBlockD", "BottleneckD")
)

#: For each nnU-Net architecture keyword that nnU-Net imports by name, the class paths it may hold.
NNUNET_IMPORTED_KEYWORDS: dict[str, frozenset[str]] = {
    "conv_op": _torchPaths("conv"),
    "norm_op": _torchPaths("norm", "instancenorm", "groupnorm"),
    "dropout_op": _torchPaths("dropout"),
    "nonlin": _torchPaths("nonlin"),
    "block": _RESIDUAL_BLOCKS,
}

#: nnU-Net network classes (``architecture.network_class_name``; ``UNet_class_name`` in old plans).
NNUNET_NETWORKS = frozenset(
    {
        "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
        "dynamic_network_architectures.architectures.unet.ResidualUNet",
        "dynamic_network_architectures.architectures.residual_unet.ResidualEncoderUNet",
        "dynamic_network_architectures.architectures.primus.Primus",
        "PlainConvUNet",
        "ResidualEncoderUNet",
    }
)

#: Names nnU-Net looks up inside its own package, per plans field.
NNUNET_NAMED_FIELDS: dict[str, frozenset[str]] = {
    "preprocessor_name": frozenset({"DefaultPreprocessor"}),
    "normalization_schemes": frozenset(
        {
            "ZScoreNormalization",
            "CTNormalization",
            "NoNormalization",
            "RescaleTo01Normalization",
            "RGBTo01Normalization",
        }
    ),
    "resampling_fn_data": frozenset(
        {
            "resample_data_or_seg_to_shape",
            "resample_data_or_seg_to_spacing",
            "resample_torch_fornnunet",
            "resample_torch_simple",
            "no_resampling_hack",
        }
    ),
    "label_manager": frozenset({"LabelManager"}),
    "image_reader_writer": frozenset(
        {"SimpleITKIO", "SimpleITKIOWithReorient", "NibabelIO", "NibabelIOWithReorient", "Tiff3DIO", "NaturalImage2DIO"}
    ),
}
NNUNET_NAMED_FIELDS["resampling_fn_seg"] = NNUNET_NAMED_FIELDS["resampling_fn_data"]
NNUNET_NAMED_FIELDS["resampling_fn_probabilities"] = NNUNET_NAMED_FIELDS["resampling_fn_data"]

#: Networks of ``monai.networks.nets`` a MONAI model (network folder or bundle) may name.
MONAI_NETWORKS = frozenset(
    {
        "UNet",
        "BasicUNet",
        "BasicUNetPlusPlus",
        "AttentionUnet",
        "SegResNet",
        "SegResNetDS",
        "SegResNetVAE",
        "DynUNet",
        "UNETR",
        "SwinUNETR",
        "VNet",
        "HighResNet",
        "FlexibleUNet",
        "DenseNet",
        "DenseNet121",
        "DenseNet169",
        "DenseNet201",
        "DenseNet264",
        "ResNet",
        "SEResNet50",
        "Classifier",
        "Regressor",
    }
)
MONAI_NETS_PREFIX = "monai.networks.nets."

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: What MONAI's config parser treats as code or a reference when a string starts with it.
_EXPRESSION_PREFIXES = ("$", "@", "%")
#: Keys MONAI's config parser instantiates or evaluates.
_PARSER_KEYS = ("_target_", "_requires_", "_disabled_", "_desc_", "_mode_")
_TRUST_HINT = (
    "If you checked where the model came from, import it as trusted: virtual-biopsy models import PATH "
    "--trust (its files' hashes are pinned), then use it by id."
)


class UnsafeModelError(ModelError):
    """A model's configuration names a class, function or expression outside the allow-list."""


def refuse(where: str, field: str, value: Any, allowed: str, hint: str = _TRUST_HINT) -> UnsafeModelError:
    """The error for ``field`` of ``where`` holding ``value``; ``allowed`` says what may stand there.

    :param hint: the fix offered (default: import the model as trusted).
    """
    return UnsafeModelError(
        f"{where}: field '{field}' holds {value!r}, which an untrusted model may not name "
        f"(allowed: {allowed}); the model was not loaded and nothing of it ran. {hint}"
    )


def checkNnunetPlans(plans: Any, where: str) -> None:
    """Check every name nnU-Net resolves from a ``plans.json`` document.

    :param where: the file, for messages.
    :raises UnsafeModelError: naming the first field outside the allow-list.
    :raises ModelError: for a document that is not an nnU-Net plan.
    """
    if not isinstance(plans, Mapping) or not isinstance(plans.get("configurations"), Mapping):
        raise ModelError(f"{where} is not an nnU-Net plans file (no 'configurations'); restore it from the model.")
    _checkName(plans, "label_manager", where)
    _checkName(plans, "image_reader_writer", where)
    for name, configuration in plans["configurations"].items():
        if not isinstance(configuration, Mapping):
            raise ModelError(f"{where}: configuration '{name}' is not a mapping; restore the file.")
        prefix = f"configurations.{name}"
        for field in NNUNET_NAMED_FIELDS:
            if field not in ("label_manager", "image_reader_writer"):
                _checkName(configuration, field, where, prefix)
        legacy = configuration.get("UNet_class_name")
        if legacy is not None and legacy not in NNUNET_NETWORKS:
            raise refuse(where, f"{prefix}.UNet_class_name", legacy, "PlainConvUNet, ResidualEncoderUNet")
        if "architecture" in configuration:
            _checkArchitecture(configuration["architecture"], where, f"{prefix}.architecture")


def checkNnunetDataset(dataset: Any, where: str) -> None:
    """Check the one name nnU-Net resolves from a ``dataset.json``: ``overwrite_image_reader_writer``.

    :param where: the file, for messages.
    :raises UnsafeModelError: for a reader/writer outside the allow-list.
    :raises ModelError: for a document that is not a mapping.
    """
    if not isinstance(dataset, Mapping):
        raise ModelError(f"{where} is not an nnU-Net dataset.json (not a mapping); restore it from the model.")
    field, allowed = "overwrite_image_reader_writer", NNUNET_NAMED_FIELDS["image_reader_writer"]
    if field in dataset and dataset[field] not in allowed:
        raise refuse(where, field, dataset[field], ", ".join(sorted(allowed)))


def checkNnunetTrainerName(name: Any, where: str) -> str:
    """``name`` if it can only name a class (a plain identifier); nnU-Net's trainers are then looked up in the
    installed nnU-Net alone and must subclass ``nnUNetTrainer`` (see the nnU-Net backend).

    :raises UnsafeModelError: otherwise.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise refuse(where, "trainer_name", name, "the name of a trainer class of the installed nnU-Net")
    return name


def checkMonaiNetwork(network: Any, arguments: Any, where: str, field: str = "network", hint: str = _TRUST_HINT) -> str:
    """The class name in ``monai.networks.nets`` of an allowed ``network`` (``UNet`` or
    ``monai.networks.nets.UNet``) whose ``arguments`` are plain values.

    :param hint: the fix a refusal offers (see :func:`refuse`).
    :raises UnsafeModelError: for another network or an argument MONAI's config parser would evaluate.
    """
    name = (
        network[len(MONAI_NETS_PREFIX) :]
        if isinstance(network, str) and network.startswith(MONAI_NETS_PREFIX)
        else network
    )
    if name not in MONAI_NETWORKS:
        raise refuse(where, field, network, ", ".join(sorted(MONAI_NETWORKS)) + " (of monai.networks.nets)", hint)
    if arguments is not None and not isinstance(arguments, Mapping):
        raise ModelError(f"{where}: the arguments of {network} must be a mapping, not {type(arguments).__name__}.")
    checkPlainValues(arguments or {}, where, f"{field} arguments", hint)
    return str(name)


def checkPlainValues(value: Any, where: str, field: str, hint: str = _TRUST_HINT) -> None:
    """Refuse anything in ``value`` that MONAI's config parser would import, evaluate or resolve: ``_target_``
    (and its companion keys), and strings starting with ``$`` (a Python expression), ``@`` or ``%`` (references).

    :param hint: the fix a refusal offers (see :func:`refuse`).
    :raises UnsafeModelError: naming the first such entry.
    """
    for path, item in _walk(value, field):
        if isinstance(item, str) and item.startswith(_EXPRESSION_PREFIXES):
            raise refuse(
                where, path, item, "plain numbers, strings, lists and mappings; no expressions or references", hint
            )
        if isinstance(item, Mapping):
            for key in _PARSER_KEYS:
                if key in item:
                    raise refuse(
                        where, f"{path}.{key}", item[key], "plain values; no objects built from class paths", hint
                    )


def _checkArchitecture(architecture: Any, where: str, prefix: str) -> None:
    if not isinstance(architecture, Mapping):
        raise ModelError(f"{where}: '{prefix}' is not a mapping; restore the file.")
    network = architecture.get("network_class_name")
    if network not in NNUNET_NETWORKS:
        raise refuse(where, f"{prefix}.network_class_name", network, ", ".join(sorted(NNUNET_NETWORKS)))
    keywords = architecture.get("arch_kwargs") or {}
    if not isinstance(keywords, Mapping):
        raise ModelError(f"{where}: '{prefix}.arch_kwargs' is not a mapping; restore the file.")
    imported = architecture.get("_kw_requires_import") or []
    if not isinstance(imported, (list, tuple)):
        raise ModelError(f"{where}: '{prefix}._kw_requires_import' is not a list; restore the file.")
    for key in imported:
        if key not in NNUNET_IMPORTED_KEYWORDS:
            raise refuse(where, f"{prefix}._kw_requires_import", key, ", ".join(NNUNET_IMPORTED_KEYWORDS))
    for key, allowed in NNUNET_IMPORTED_KEYWORDS.items():  # listed or not: a custom trainer may locate them
        value = keywords.get(key)
        if value is not None and value not in allowed:
            raise refuse(where, f"{prefix}.arch_kwargs.{key}", value, _shortList(allowed))
    for key, value in keywords.items():
        if key not in NNUNET_IMPORTED_KEYWORDS:
            _checkNoClassPaths(value, where, f"{prefix}.arch_kwargs.{key}")


def _checkNoClassPaths(value: Any, where: str, field: str) -> None:
    """Plain arguments (numbers, sizes, kwargs of the allowed layers): no dotted names that look importable."""
    for path, item in _walk(value, field):
        if isinstance(item, str) and "." in item and all(_IDENTIFIER.fullmatch(part) for part in item.split(".")):
            raise refuse(where, path, item, "numbers, sizes and flags; no class or function paths")


def _checkName(section: Mapping, field: str, where: str, prefix: str = "") -> None:
    if field not in section:
        return
    values = section[field]
    allowed = NNUNET_NAMED_FIELDS[field]
    for index, value in enumerate(values if isinstance(values, list) else [values]):
        if value not in allowed:
            path = ".".join(part for part in (prefix, field) if part)
            raise refuse(
                where, f"{path}[{index}]" if isinstance(values, list) else path, value, ", ".join(sorted(allowed))
            )


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _shortList(allowed: frozenset[str]) -> str:
    short = sorted({name.rsplit(".", 1)[-1] for name in allowed})
    return (
        "the torch.nn layers " + ", ".join(short)
        if all(n.startswith("torch.") for n in allowed)
        else ", ".join(sorted(allowed))
    )
