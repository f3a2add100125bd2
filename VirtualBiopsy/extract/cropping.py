"""Crop image and mask around the ROI before pyradiomics filters them.

pyradiomics filters the whole image, then keeps the ROI's bounding box. Cropping
first is much faster (lung1, LoG + wavelet: 20 s → 2 s) and leaves the features
unchanged when the margin around the ROI covers the filters' reach:

- **LoG** (``LaplacianRecursiveGaussianImageFilter``, a recursive IIR filter whose
  response decays like exp(-1.7 d/σ)): 12 σ per axis, in voxels of that axis.
  Measured on brain1 and lung1: at 4 σ LoG features change by up to 15 %, at 8 σ
  by up to 6e-6, at 12 σ by at most 4e-8 (float32 round-off of the filter output).
- **Wavelet** (pywt's stationary transform, periodic): exact when the margin covers
  the filter's support over all levels, ``(L - 1)(2^n - 1)`` voxels for a filter of
  length ``L`` and ``n = start_level + level``; the crop is also extended to a
  multiple of ``2^n`` voxels per axis, which pywt needs beyond level 1. An axis on
  which the margin reaches the image border is not cropped (the transform wraps
  around: the ROI's neighbours across the border must stay the same).
- **Original**: the ROI's bounding box (one voxel of margin, for safety).

Nothing is cropped (``cropMargin`` returns ``None``) when the result could change:
pyradiomics' own resampling (``resampledPixelSpacing``: its grid and B-spline
coefficients use the whole image), intensity normalization (whole-image mean and
SD), and image types whose values use whole-image statistics or were not proven
(Square, SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import SimpleITK as sitk

#: LoG margin, in σ.
LOG_MARGIN_SIGMAS = 12.0

#: Image types whose values inside the ROI a margin can keep unchanged.
CROPPABLE_IMAGE_TYPES = {"Original", "LoG", "Wavelet"}

#: Smallest size pyradiomics' LoG accepts per axis.
_LOG_MINIMUM_SIZE = 4


def cropMargin(
    imageTypes: dict[str, dict], setting: dict[str, Any], spacing: tuple[float, ...]
) -> tuple[int, ...] | None:
    """Margin (voxels per axis, x y z) that keeps every filtered value inside the ROI unchanged.

    :param imageTypes: pyradiomics' enabled image types with their custom settings.
    :param setting: pyradiomics' ``setting`` section (defaults for the image types).
    :param spacing: the image spacing in mm (x, y, z).
    :returns: the margin, or ``None`` when the extraction must not be cropped.
    """
    if setting.get("resampledPixelSpacing") or setting.get("normalize") or setting.get("preCrop"):
        return None
    if any(name not in CROPPABLE_IMAGE_TYPES for name in imageTypes):
        return None
    margin = np.ones(len(spacing), dtype=int)
    for name, custom in imageTypes.items():
        options = {**setting, **(custom or {})}
        if name == "LoG":
            for sigma in options.get("sigma", []) or []:
                margin = np.maximum(margin, [math.ceil(LOG_MARGIN_SIGMAS * sigma / s) for s in spacing])
        elif name == "Wavelet":
            margin = np.maximum(margin, waveletSupport(options))
    return tuple(int(value) for value in margin)


def waveletSupport(options: dict[str, Any]) -> int:
    """Voxels on each side that pyradiomics' wavelet decompositions of a voxel depend on."""
    import pywt

    wavelet = pywt.Wavelet(options.get("wavelet", "coif1"))
    levels = int(options.get("start_level", 0)) + int(options.get("level", 1))
    return (wavelet.dec_len - 1) * (2**levels - 1)


def waveletBlock(imageTypes: dict[str, dict], setting: dict[str, Any]) -> int:
    """Crop sizes must be multiples of this (``2^n`` of the deepest wavelet level; 1 without wavelet)."""
    options = {**setting, **(imageTypes.get("Wavelet") or {})}
    if "Wavelet" not in imageTypes:
        return 1
    return 2 ** (int(options.get("start_level", 0)) + int(options.get("level", 1)))


def cropBox(
    roi: np.ndarray, margin: tuple[int, ...], block: int = 1, periodic: bool = False
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The crop box (index and size, x y z) around ``roi`` (boolean array, KJI) with ``margin``.

    The box stays inside the image; each axis is at least 4 voxels (pyradiomics' LoG
    minimum) and a multiple of ``block`` when the image allows it, else the whole axis.

    :param periodic: a filter wraps around the image (pywt's wavelet): where the margin
        reaches an image border, keep the whole axis, so the wrapped neighbours stay the same.
    """
    shape = roi.shape[::-1]
    coordinates = np.argwhere(roi)[:, ::-1]
    low, high = coordinates.min(axis=0), coordinates.max(axis=0) + 1
    index, size = [], []
    for axis, length in enumerate(shape):
        start = int(low[axis]) - margin[axis]
        stop = int(high[axis]) + margin[axis]
        if periodic and (start < 0 or stop > length):
            index.append(0)
            size.append(length)
            continue
        start, stop = max(start, 0), min(stop, length)
        wanted = max(stop - start, min(_LOG_MINIMUM_SIZE, length))
        wanted = -(-wanted // block) * block
        if wanted >= length:
            start, stop = 0, length
        else:
            grow = wanted - (stop - start)
            start = max(start - grow // 2, 0)
            stop = start + wanted
            if stop > length:
                stop, start = length, length - wanted
        index.append(start)
        size.append(stop - start)
    return tuple(index), tuple(size)


def crop(image: sitk.Image, index: tuple[int, ...], size: tuple[int, ...]) -> sitk.Image:
    """The region ``index``, ``size`` of ``image`` (geometry kept: same physical positions)."""
    if tuple(size) == tuple(image.GetSize()):
        return image
    return sitk.RegionOfInterest(image, [int(v) for v in size], [int(v) for v in index])
