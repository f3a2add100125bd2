"""A MONAI bundle's ``configs/inference.json``, read as data for the ``monai-bundle`` backend: the supported
sections checked into a :class:`BundlePlan` (see :mod:`~VirtualBiopsy.segment.backends.monaiBundleBackend` for what is
used, skipped and refused). Nothing of it is evaluated or imported."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.modelFiles import ModelFiles

CONFIG = "configs/inference.json"
WEIGHTS = "models/model.pt"
_NO_OPS = ("LoadImage", "EnsureChannelFirst", "EnsureType", "ToTensor")
_PRE_SUPPORTED = (*_NO_OPS, "NormalizeIntensity")
_POST_SKIPPED = ("Invert", "Lambda", "SaveImage", "EnsureType", "ToTensor")
_POST_SUPPORTED = ("Activations", "AsDiscrete", *_POST_SKIPPED)


@dataclass(frozen=True)
class BundlePlan:
    """What a bundle's inference config asks for, checked.

    :ivar network: class name in ``monai.networks.nets``; ``networkArgs``: its plain keyword arguments.
    :ivar roiSize: sliding-window size ``(x, y, z)``; ``swBatchSize``, ``overlap``, ``mode``: as MONAI's.
    :ivar normalize: whether to z-score (``NormalizeIntensity``), with ``nonzero`` and ``channelWise``.
    :ivar threshold: sigmoid threshold of every channel.
    """

    network: str
    networkArgs: dict[str, Any]
    roiSize: tuple[int, ...]
    swBatchSize: int
    overlap: float
    mode: str
    normalize: bool
    nonzero: bool
    channelWise: bool
    threshold: float

    @property
    def outChannels(self) -> int:
        """The network's ``out_channels`` (0 when not given)."""
        value = self.networkArgs.get("out_channels")
        return value if isinstance(value, int) else 0


def readBundlePlan(files: ModelFiles) -> BundlePlan:
    """The checked plan of the bundle at ``files.root`` (its ``configs/inference.json``, hash checked).

    :raises UnsafeModelError: for a ``network_def`` outside the allow-list or with non-plain arguments.
    :raises ModelError: for a missing or malformed config, an unsupported transform or inferer, or no sigmoid.
    """
    from VirtualBiopsy.models.monaiBundle import bundleNetwork

    path = files.root / CONFIG
    if not path.is_file():
        raise ModelError(f"MONAI bundle {files.root} has no {CONFIG}; this backend reads only a JSON inference config.")
    config = files.readJson(path)
    where = str(path)
    if not isinstance(config, dict):
        raise ModelError(f"{where} must hold a mapping; restore the bundle's file.")
    try:
        network, arguments = bundleNetwork(config, where)
    except InputError as error:
        raise ModelError(str(error)) from error
    normalize, nonzero, channelWise = _preprocessing(config.get("preprocessing"), where)
    roiSize, swBatchSize, overlap, mode = _inferer(config.get("inferer"), where)
    return BundlePlan(
        network, arguments, roiSize, swBatchSize, overlap, mode, normalize, nonzero, channelWise,
        _threshold(config.get("postprocessing"), where),
    )  # fmt: skip


def _transforms(section: Any, where: str, field: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(field path, transform name, arguments)`` of a ``Compose`` (or list) of transforms; none when absent."""
    if section is None:
        return []
    if isinstance(section, Mapping) and _name(section) == "Compose":
        section, field = section.get("transforms"), f"{field}.transforms"
    if not isinstance(section, list) or not all(isinstance(item, Mapping) for item in section):
        raise ModelError(f"{where}: field '{field}' is not a list of transforms ({section!r}); restore the bundle.")
    return [(f"{field}[{index}]", _name(item), item) for index, item in enumerate(section)]


def _preprocessing(section: Any, where: str) -> tuple[bool, bool, bool]:
    normalize, nonzero, channelWise = False, False, False
    for path, name, transform in _transforms(section, where, "preprocessing"):
        if _base(name) not in _PRE_SUPPORTED:
            raise _unsupported(where, path, name, "preprocessing", _PRE_SUPPORTED)
        if _base(name) == "NormalizeIntensity":
            for key in ("subtrahend", "divisor"):
                if transform.get(key) is not None:
                    raise ModelError(f"{where}: field '{path}.{key}' ({name}) is not supported; only z-scores are.")
            normalize = True
            nonzero = _flag(transform, "nonzero", False, where, path)
            channelWise = _flag(transform, "channel_wise", False, where, path)
    return normalize, nonzero, channelWise


def _inferer(section: Any, where: str) -> tuple[tuple[int, ...], int, float, str]:
    if not isinstance(section, Mapping) or _name(section) != "SlidingWindowInferer":
        raise ModelError(
            f"{where}: field 'inferer' is {section!r}; the monai-bundle backend runs a SlidingWindowInferer only."
        )
    roi, batch = section.get("roi_size"), section.get("sw_batch_size", 1)
    overlap, mode = section.get("overlap", 0.25), section.get("mode", "constant")
    if not (isinstance(roi, list) and len(roi) == 3 and all(_count(v) for v in roi)):
        raise ModelError(f"{where}: field 'inferer.roi_size' is {roi!r}, not three positive voxel counts.")
    if not _count(batch) or not _number(overlap) or not 0 <= overlap < 1 or mode not in ("constant", "gaussian"):
        raise ModelError(
            f"{where}: inferer sw_batch_size {batch!r}, overlap {overlap!r} or mode {mode!r} is not supported "
            "(a positive count, a number in [0, 1), 'constant' or 'gaussian')."
        )
    return tuple(roi), batch, float(overlap), mode


def _threshold(section: Any, where: str) -> float:
    sigmoid, threshold = False, None
    for path, name, transform in _transforms(section, where, "postprocessing"):
        base = _base(name)
        if base not in _POST_SUPPORTED:
            raise _unsupported(where, path, name, "postprocessing", _POST_SUPPORTED)
        if base == "Activations":
            if transform.get("softmax") or transform.get("other") is not None:
                raise ModelError(f"{where}: field '{path}' ({name}) is not a sigmoid; this backend runs sigmoids only.")
            sigmoid = sigmoid or _flag(transform, "sigmoid", False, where, path)
        elif base == "AsDiscrete":
            value = transform.get("threshold")
            if transform.get("argmax") or not _number(value) or not 0 < value < 1:
                raise ModelError(
                    f"{where}: field '{path}' ({name}) must threshold the sigmoids with a number in (0, 1) "
                    f"(threshold {value!r}, argmax {transform.get('argmax')!r})."
                )
            threshold = float(value)
    if not sigmoid or threshold is None:
        raise ModelError(
            f"{where}: postprocessing has no Activations(sigmoid=true) and AsDiscrete(threshold=…); the monai-bundle "
            "backend runs bundles with one sigmoid per channel. Import a softmax bundle as a monai-network model."
        )
    return threshold


def _unsupported(where: str, path: str, name: str, section: str, supported: Sequence[str]) -> ModelError:
    return ModelError(
        f"{where}: {section} transform '{name or '?'}' (field '{path}') is not supported by the monai-bundle backend "
        f"(supported: {', '.join(f'{n}(d)' for n in supported)}); nothing was run. Use a bundle without it, or "
        "export the network with its own preprocessing as a monai-network model."
    )


def _flag(transform: Mapping[str, Any], key: str, default: bool, where: str, path: str) -> bool:
    value = transform.get(key, default)
    if not isinstance(value, bool):
        raise ModelError(f"{where}: field '{path}.{key}' is {value!r}; it must be true or false.")
    return value


def _name(transform: Mapping[str, Any]) -> str:
    target = transform.get("_target_")
    return target.rsplit(".", 1)[-1] if isinstance(target, str) and not target.startswith(("$", "@", "%")) else ""


def _base(name: str) -> str:
    """A transform's name without the dictionary suffix (``NormalizeIntensityd`` → ``NormalizeIntensity``)."""
    return name[:-1] if name.endswith(("d", "D")) and name[:-1] in (*_PRE_SUPPORTED, *_POST_SUPPORTED) else name


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
