"""Up-front memory check: refuse an input too large for the memory available, before any work starts.

The estimate covers sliding-window inference with softmax, as MONAI's
``sliding_window_inference`` and nnU-Net's predictor do it, on a volume of ``N``
voxels with patches of ``P`` voxels (``b`` bytes per value):

- the image, ``inputChannels`` values per voxel, twice (the input and its padded, normalised copy);
- three class volumes, ``classes`` values per voxel each: the logit accumulator, its
  resampled copy (or a fold-ensemble sum) and the softmax probabilities;
- the per-voxel count (or Gaussian weight) map, one value per voxel;
- the label map from argmax: 8 bytes (int64) plus 1 (uint8) per voxel;
- one batch of windows through the network: ``batchSize * P * networkValuesPerPatchVoxel`` values,
  plus the network's weights (``modelBytes``).

``networkValuesPerPatchVoxel`` defaults to 384. Measured here (CPU, one thread,
inference mode, peak resident memory): MONAI's UNet with 16 or 32 base channels
holds about 45–55 values per window voxel at its peak, nnU-Net's default
PlainConvUNet (32 base features, 5 stages) about 210–230; the default leaves
nnU-Net's network a margin of about 1.7 times.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from VirtualBiopsy.errors import InputError, requirePackage

GIB = float(1 << 30)


def estimateInferenceBytes(
    shape: Sequence[int],
    inputChannels: int,
    classes: int,
    dtypeBytes: int = 4,
    patchSize: Sequence[int] | None = None,
    batchSize: int = 1,
    networkValuesPerPatchVoxel: float = 384.0,
    modelBytes: int = 0,
) -> int:
    """A conservative estimate of the peak memory, in bytes, of sliding-window softmax inference.

    :param shape: voxels along each axis of the volume the network sees (after resampling).
    :param inputChannels: image channels (sequences) the network takes.
    :param classes: output channels (background included).
    :param dtypeBytes: bytes per value (4 for float32, 2 for float16).
    :param patchSize: the sliding window; ``None`` when the whole volume goes through at once.
    :param batchSize: windows per network call.
    :param networkValuesPerPatchVoxel: values the network holds per window voxel at its peak (see the module).
    :param modelBytes: size of the network's weights.
    :raises InputError: for a non-positive size or count.
    """
    shape = _positiveSizes(shape, "shape")
    patch = shape if patchSize is None else _positiveSizes(patchSize, "patchSize")
    if len(patch) != len(shape):
        raise InputError(
            f"patchSize {tuple(patch)} has {len(patch)} axes but shape {tuple(shape)} has {len(shape)}; "
            "give one window size per image axis."
        )
    for name, value in (
        ("inputChannels", inputChannels),
        ("classes", classes),
        ("dtypeBytes", dtypeBytes),
        ("batchSize", batchSize),
    ):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}.")
    if not math.isfinite(networkValuesPerPatchVoxel) or networkValuesPerPatchVoxel < 0 or modelBytes < 0:
        raise InputError(
            f"networkValuesPerPatchVoxel ({networkValuesPerPatchVoxel!r}) and modelBytes "
            f"({modelBytes!r}) must be finite and not negative."
        )
    voxels = math.prod(max(size, window) for size, window in zip(shape, patch))  # padded up to one window
    windowVoxels = math.prod(patch)
    volumeValues = voxels * (2 * inputChannels + 3 * classes + 1)
    networkValues = batchSize * windowVoxels * (inputChannels + classes + networkValuesPerPatchVoxel)
    return int(math.ceil(dtypeBytes * (volumeValues + networkValues) + 9 * voxels + modelBytes))


def availableMemoryBytes(device: str = "cpu") -> int:
    """Memory free for new work on ``device``: the system's available memory for ``"cpu"``,
    the GPU's free memory for ``"cuda"`` or ``"cuda:N"``."""
    if device.startswith("cuda"):
        torch = requirePackage("torch")
        index = int(device.partition(":")[2] or 0)
        free, _ = torch.cuda.mem_get_info(index)
        return int(free)
    psutil = requirePackage("psutil")
    return int(psutil.virtual_memory().available)


def requireMemory(estimatedBytes: int, what: str, availableBytes: int | None = None) -> None:
    """Refuse work whose memory estimate exceeds what is available.

    :param estimatedBytes: e.g. from :func:`estimateInferenceBytes`.
    :param what: the work, for the message (e.g. ``"Segmenting a 512×512×300 image with model demo"``).
    :param availableBytes: the memory free for it; the system's available memory by default.
    :raises InputError: with the estimate and the available memory in GiB and how to need less.
    """
    if availableBytes is None:
        availableBytes = availableMemoryBytes("cpu")
    if estimatedBytes < 0 or availableBytes < 0:
        raise InputError(f"Memory sizes must not be negative (estimate {estimatedBytes}, available {availableBytes}).")
    if estimatedBytes > availableBytes:
        raise InputError(
            f"{what} needs an estimated {estimatedBytes / GIB:.2f} GiB of memory but only "
            f"{availableBytes / GIB:.2f} GiB is available. Crop the image to the region around the tumour, "
            "resample it to a coarser spacing, use a smaller batch or window size, or free memory "
            "(close other programs) and try again."
        )


def _positiveSizes(sizes: Sequence[int], name: str) -> list[int]:
    values = list(sizes)
    if not values or any(not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1 for v in values):
        raise InputError(f"{name} must be a non-empty sequence of positive integers, got {tuple(values)!r}.")
    return [int(v) for v in values]
