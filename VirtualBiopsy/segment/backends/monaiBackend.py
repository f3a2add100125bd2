"""MONAI networks: a TorchScript file, or a network of ``monai.networks.nets`` plus a state dict.

Voxels go to the network in MONAI's layout, ``(batch, channel, x, y, z)`` (the SimpleITK
array transposed, as MONAI's ITK reader gives it), so ``roiSize`` and ``spacing`` are
``(x, y, z)``. Per the model's options the channels are resampled to ``spacing`` (linear),
z-scored (MONAI's ``NormalizeIntensity``), run through ``sliding_window_inference`` (averaged
over mirrored copies when test-time augmentation is on and ``mirrorAxes`` are given), turned
into probabilities by a softmax over channels and resampled back onto the input grid.
Channel ``c`` of the output is label value ``c``.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import ModelError, requirePackage
from VirtualBiopsy.models.allowList import checkMonaiNetwork
from VirtualBiopsy.models.checkpoints import loadCheckpoint as loadCheckpointFile
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.backends.result import BackendResult
from VirtualBiopsy.segment.backends.torchSupport import torchDevice

logger = logging.getLogger(__name__)

NORMALIZATIONS = ("zscoreNonzero", "zscore", "none")
#: Options of a model entry that are not MONAI settings (the model's metadata file, its orientation).
_OTHER_OPTIONS = {"metadata", "orientation"}
_NETS_PREFIX = "monai.networks.nets."


@dataclass(frozen=True)
class MonaiSettings:
    """The MONAI options of a model entry (``ModelEntry.options``).

    :ivar network: class name in ``monai.networks.nets`` (``UNet`` or ``monai.networks.nets.UNet``; network
        definitions only).
    :ivar networkArgs: its keyword arguments.
    :ivar weights: state-dict file inside a model folder (when the entry's path is a folder).
    :ivar roiSize: sliding-window size ``(x, y, z)`` in voxels.
    :ivar spacing: voxel size ``(x, y, z)`` in mm the network expects; ``None``: the input's own.
    :ivar normalization: ``zscoreNonzero`` (per channel, over non-zero voxels), ``zscore`` or ``none``.
    :ivar overlap: sliding-window overlap (0 ≤ overlap < 1).
    :ivar swBatchSize: windows per forward pass.
    :ivar mirrorAxes: spatial axes (0 = x) flipped for test-time augmentation; empty: none.
    """

    network: str = ""
    networkArgs: dict[str, Any] | None = None
    weights: str = ""
    roiSize: tuple[int, int, int] = (96, 96, 96)
    spacing: tuple[float, float, float] | None = None
    normalization: str = "zscoreNonzero"
    overlap: float = 0.25
    swBatchSize: int = 1
    mirrorAxes: tuple[int, ...] = ()

    @classmethod
    def fromOptions(cls, options: dict[str, Any]) -> MonaiSettings:
        """Read and check the options; :class:`ModelError` names a bad one."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known - _OTHER_OPTIONS)
        if unknown:
            logger.warning("MONAI model options %s are not used (known: %s).", unknown, ", ".join(sorted(known)))
        values = {key: options[key] for key in known if key in options}
        try:
            if "roiSize" in values:
                values["roiSize"] = tuple(int(v) for v in values["roiSize"])
            if values.get("spacing") is not None:
                values["spacing"] = tuple(float(v) for v in values["spacing"])
            if "mirrorAxes" in values:
                values["mirrorAxes"] = tuple(int(v) for v in values["mirrorAxes"])
            settings = cls(**values)
        except (TypeError, ValueError) as error:
            raise ModelError(f"MONAI model options {options} are malformed ({error}).") from error
        if len(settings.roiSize) != 3 or min(settings.roiSize) < 1:
            raise ModelError(f"roiSize {settings.roiSize} must be three positive voxel counts (x, y, z).")
        if settings.spacing is not None and (len(settings.spacing) != 3 or min(settings.spacing) <= 0):
            raise ModelError(f"spacing {settings.spacing} must be three positive sizes in mm (x, y, z).")
        if settings.normalization not in NORMALIZATIONS:
            raise ModelError(f"normalization '{settings.normalization}' is unknown; choose one of {NORMALIZATIONS}.")
        if not 0 <= settings.overlap < 1 or settings.swBatchSize < 1 or not set(settings.mirrorAxes) <= {0, 1, 2}:
            raise ModelError(
                f"overlap {settings.overlap} must lie in [0, 1), swBatchSize {settings.swBatchSize} be "
                f"≥ 1 and mirrorAxes {settings.mirrorAxes} within 0, 1, 2."
            )
        return settings


def loadMonaiNetwork(
    backend: str,
    modelPath: pathlib.Path,
    settings: MonaiSettings,
    expectedSha256: str | None,
    loadCheckpoint: Callable[[pathlib.Path], Any] = loadCheckpointFile,
    trusted: bool = False,
):
    """The network of a ``monai-torchscript`` file (hash checked first) or a ``monai-network`` definition.

    :param trusted: whether the model was imported with ``--trust``; otherwise the network must be one of
        :data:`~VirtualBiopsy.models.allowList.MONAI_NETWORKS` with plain arguments.
    :raises ModelError: for a hash mismatch, a missing or unknown network, or weights that do not fit it.
    :raises UnsafeModelError: for an untrusted model naming another network or an expression in its arguments.
    """
    torch = requirePackage("torch")
    modelPath = pathlib.Path(modelPath)
    if backend == "monai-torchscript":
        import hashlib

        if not modelPath.is_file() or modelPath.is_symlink():
            raise ModelError(f"TorchScript file {modelPath} was not found (or is a link); check the model's path.")
        data = modelPath.read_bytes()  # hashed and loaded from the same bytes
        actual = hashlib.sha256(data).hexdigest()
        if not expectedSha256 or actual != expectedSha256:
            raise ModelError(
                f"TorchScript file {modelPath} has SHA-256 {actual} but the model entry records "
                f"{expectedSha256 or 'none'}; it is not loaded. Re-import the model if the file is trusted."
            )
        return torch.jit.load(io.BytesIO(data), map_location="cpu")
    if backend != "monai-network":
        raise ModelError(f"Backend '{backend}' is not a MONAI backend (monai-torchscript, monai-network).")
    if not trusted:
        checkMonaiNetwork(settings.network, settings.networkArgs, f"the model options of {modelPath}")
    nets = requirePackage("monai.networks.nets", "monai")
    name = settings.network[len(_NETS_PREFIX) :] if settings.network.startswith(_NETS_PREFIX) else settings.network
    networkClass = getattr(nets, name, None) if name and "." not in name else None
    if not (isinstance(networkClass, type) and issubclass(networkClass, torch.nn.Module)):
        raise ModelError(
            f"Network '{settings.network}' is not in monai.networks.nets; set the entry's 'network' "
            "option to a class name such as UNet, SegResNet or SwinUNETR."
        )
    try:
        network = networkClass(**(settings.networkArgs or {}))
    except (TypeError, ValueError) as error:
        raise ModelError(f"{settings.network}(**{settings.networkArgs}) failed: {error}. Fix 'networkArgs'.") from error
    weightsPath = modelPath / settings.weights if modelPath.is_dir() else modelPath
    state = loadCheckpoint(weightsPath)
    if isinstance(state, dict) and set(state) & {"state_dict", "model"} and len(state) <= 4:
        state = state.get("state_dict", state.get("model"))
    try:
        network.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ModelError(
            f"The weights in {weightsPath} do not fit {settings.network}(**{settings.networkArgs}): "
            f"{str(error).splitlines()[0]}."
        ) from error
    return network


def predictMonai(
    images: Sequence[sitk.Image],
    network,
    settings: MonaiSettings,
    device: str = "auto",
    testTimeAugmentation: bool = True,
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
) -> BackendResult:
    """Segment one case (channels in the model's order, on one grid) with a loaded MONAI network.

    :raises CancelledError: when ``cancel`` is set (checked before each window batch).
    """
    torch = requirePackage("torch")
    inferers = requirePackage("monai.inferers", "monai")
    transforms = requirePackage("monai.transforms", "monai")
    reference = images[0]
    working = [_resampled(image, settings.spacing) for image in images] if settings.spacing else list(images)
    voxels = np.stack([sitk.GetArrayFromImage(image).astype(np.float32).transpose(2, 1, 0) for image in working])
    tensor = torch.from_numpy(voxels)
    if settings.normalization != "none":
        tensor = transforms.NormalizeIntensity(nonzero=settings.normalization == "zscoreNonzero", channel_wise=True)(
            tensor
        )
    tensor = (tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor)[None]
    target = torchDevice(device)
    network = network.to(target).eval()
    mirrors: list[tuple[int, ...]] = [()]
    if testTimeAugmentation and settings.mirrorAxes:
        axes = [a + 2 for a in settings.mirrorAxes]
        mirrors += [c for n in range(1, len(axes) + 1) for c in itertools.combinations(axes, n)]
    total = _windowCount(tensor.shape[2:], settings) * len(mirrors)
    done = {"count": 0}

    def predictor(window):
        if cancel is not None:
            cancel.raiseIfCancelled()
        done["count"] += 1
        progress(0.1 + 0.8 * min(1.0, done["count"] / max(total, 1)), f"Sliding window {done['count']}/{total}")
        return network(window)

    probabilities = None
    with torch.inference_mode():
        for flip in mirrors:
            source = torch.flip(tensor, flip) if flip else tensor
            logits = inferers.sliding_window_inference(
                source.to(target), settings.roiSize, settings.swBatchSize, predictor, overlap=settings.overlap
            )
            logits = (logits.as_tensor() if hasattr(logits, "as_tensor") else logits).float()
            softmax = torch.softmax(torch.flip(logits, flip) if flip else logits, dim=1).cpu()
            probabilities = softmax if probabilities is None else probabilities + softmax
    assert probabilities is not None, "there is at least one mirror: the identity"
    probabilities = (probabilities / len(mirrors))[0].numpy().transpose(0, 3, 2, 1)
    if settings.spacing:
        probabilities = _backOnGrid(probabilities, working[0], reference)
    labels = np.argmax(probabilities, axis=0).astype(np.uint8 if probabilities.shape[0] <= 256 else np.uint16)
    labelMap = sitk.GetImageFromArray(labels)
    labelMap.CopyInformation(reference)
    provenance = {
        "device": str(target),
        "testTimeAugmentation": len(mirrors) > 1,
        "mirrorAxes": list(settings.mirrorAxes) if len(mirrors) > 1 else [],
        "roiSize": list(settings.roiSize),
        "spacing": list(settings.spacing) if settings.spacing else None,
        "normalization": settings.normalization,
        "overlap": settings.overlap,
        "monaiVersion": _monaiVersion(),
        "torchVersion": torch.__version__,
    }
    progress(1.0, "MONAI inference done")
    return BackendResult(
        labelMap,
        np.ascontiguousarray(probabilities, dtype=np.float32),
        tuple(range(probabilities.shape[0])),
        None,
        provenance,
    )


def monaiWorkingGrid(settings: MonaiSettings, image: sitk.Image) -> tuple[list[int], list[int]]:
    """The voxel shape ``(x, y, z)`` the network sees after resampling, and the window (for the memory check)."""
    size = list(image.GetSize())
    if settings.spacing:
        size = [max(1, int(round(n * s / t))) for n, s, t in zip(size, image.GetSpacing(), settings.spacing)]
    return size, list(settings.roiSize)


def _resampled(image: sitk.Image, spacing: tuple[float, float, float]) -> sitk.Image:
    """``image`` resampled (linear) to ``spacing`` on a grid of the same origin and direction covering its extent.

    Zero voxels stay exactly zero (the non-zero mask is resampled nearest-neighbour), so the non-zero
    z-score sees the same background as on the input grid.
    """
    size = [max(1, int(round(n * s / t))) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing)]
    grid = (size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), spacing, image.GetDirection())
    resampled = sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), *grid, 0.0, sitk.sitkFloat32)
    nonZero = sitk.Resample(
        sitk.Cast(image != 0, sitk.sitkFloat32),
        size,
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        *grid[3:],
        0.0,
        sitk.sitkFloat32,
    )
    return resampled * nonZero


def _backOnGrid(probabilities: np.ndarray, working: sitk.Image, reference: sitk.Image) -> np.ndarray:
    channels = []
    for index, channel in enumerate(probabilities):
        image = sitk.GetImageFromArray(np.ascontiguousarray(channel))
        image.CopyInformation(working)
        outside = 1.0 if index == 0 else 0.0
        channels.append(
            sitk.GetArrayFromImage(
                sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, outside, sitk.sitkFloat32)
            )
        )
    return np.stack(channels)


def _windowCount(shape: Sequence[int], settings: MonaiSettings) -> int:
    """Forward passes of ``sliding_window_inference`` (its scan interval formula), for progress only."""
    count = 1
    for size, roi in zip(shape, settings.roiSize):
        roi = min(roi, size)
        interval = max(1, int(roi * (1 - settings.overlap)))
        count *= 1 if size <= roi else math.ceil((size - roi) / interval) + 1
    return math.ceil(count / settings.swBatchSize)


def _monaiVersion() -> str:
    import monai

    return monai.__version__
