"""Grey-level bin counts, known before pyradiomics computes anything.

pyradiomics discretises each image it computes features on into grey levels (bins). Its texture matrices
grow with the square of their number (GLCM: ``Ng × Ng × 13`` per ROI) and its GLCM correlation (MCC) takes
the eigenvalues of an ``Ng × Ng`` matrix per angle, so its time grows with the cube: ``binWidth: 1`` on CT
(4,000 levels) ran past 120 s at 2.5 GB, and ``binWidth: 1e-9`` asked numpy for 29 TiB of bin edges.
Measured here (pyradiomics 3.0.1, 2 CPU threads, a 20×20×20-voxel ROI with every level present, the 107
original features): 256 levels 4.3 s, 512 levels 33 s, 1,024 levels 191 s (0.3 s at pyradiomics'
recommended 30–130 levels). Hence :data:`DEFAULT_MAXIMUM_BIN_COUNT`.

Three checks, all before the expensive work:

- :func:`requireBinSettings`: at settings validation, ``binWidth`` finite and > 0, ``binCount`` a whole
  number in ``[1, maximumBinCount]`` (in ``setting`` and in every image type's own settings);
- :func:`requireBinCountOfRoi`: before pyradiomics runs, the levels ``binWidth`` makes over the ROI's
  intensity range of the original image, after pyradiomics' normalisation and re-segmentation;
- :func:`binCountLimit`: while pyradiomics runs, its bin-edge function (see
  :mod:`~VirtualBiopsy.extract.binOrigin`) refuses, before allocating anything, an image (original or
  filtered: LoG, wavelet, ...) whose range makes more levels than the limit.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError

#: Default largest number of grey levels (bins) of one image in one extraction (see the module's measurements:
#: at 512 levels a small ROI takes about 30 s, and the time grows with the cube of the count).
DEFAULT_MAXIMUM_BIN_COUNT = 512

#: A ``binCount`` suggested in messages (IBSI's configurations use 16-64).
SUGGESTED_BIN_COUNT = 64

_LIMIT: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("maximumBinCount", default=None)


def fixedWidthBinCount(minimum: float, maximum: float, binWidth: float, origin: float | None = None) -> int:
    """The number of grey levels that fixed-width bins of ``binWidth`` make over ``[minimum, maximum]``: the
    highest bin index pyradiomics gives (``Ng``), from bins aligned on multiples of ``binWidth`` or, with
    ``origin``, starting there. Computed as pyradiomics computes its edges (``low + k·binWidth``), without
    allocating any."""
    low = minimum - (minimum % binWidth) if origin is None else origin
    levels = math.floor((maximum - low) / binWidth)
    if levels < 10**7:  # numpy.arange's arithmetic, exactly: edge k is low + k·((low + w) − low)
        step = (low + binWidth) - low if origin is None else binWidth
        while low + (levels + 1) * step <= maximum:
            levels += 1
        while levels > 0 and low + levels * step > maximum:
            levels -= 1
    return max(1, int(levels) + 1)


def requiredBinWidth(minimum: float, maximum: float, limit: int, origin: float | None = None) -> float:
    """The smallest round bin width (two significant digits) that makes at most ``limit`` levels."""
    span = maximum - (minimum if origin is None else origin)
    width = span / max(1, limit - 2) if span > 0 else 1.0
    exponent = math.floor(math.log10(width)) - 1
    width = math.ceil(width / 10**exponent) * 10**exponent
    while fixedWidthBinCount(minimum, maximum, width, origin) > limit:
        width += 10**exponent
    return float(f"{width:.12g}")


def requireBinSettings(parameters: Mapping[str, Any], name: str, maximumBinCount: int) -> None:
    """Refuse a ``binWidth`` that is not a finite number > 0 and a ``binCount`` that is not a whole number in
    ``[1, maximumBinCount]``, in ``setting`` and in each image type's settings.

    :raises InputError: naming where, the value and the fix.
    """
    places: list[tuple[str, Mapping]] = [("setting", parameters.get("setting") or {})]
    places += [
        (f"imageType/{imageType}", custom)
        for imageType, custom in (parameters.get("imageType") or {}).items()
        if isinstance(custom, Mapping)
    ]
    for where, values in places:
        if "binWidth" in values:
            width = values["binWidth"]
            if isinstance(width, bool) or not isinstance(width, numbers.Real) or not math.isfinite(width) or width <= 0:
                raise InputError(
                    f"Radiomics settings '{name}': {where}/binWidth is {width!r}; give a finite bin width > 0 in "
                    f"image units (25 for raw MR or CT, about 0.1 for z-scored images), or binCount: "
                    f"{SUGGESTED_BIN_COUNT} for a fixed number of grey levels."
                )
        if "binCount" in values:
            count = values["binCount"]
            if (
                isinstance(count, bool)
                or not isinstance(count, numbers.Integral)
                or not 1 <= int(count) <= maximumBinCount
            ):
                raise InputError(
                    f"Radiomics settings '{name}': {where}/binCount is {count!r}; give a whole number of grey levels "
                    f"from 1 to {maximumBinCount} (maximumBinCount; IBSI uses 16-64, e.g. binCount: "
                    f"{SUGGESTED_BIN_COUNT}). Raise maximumBinCount (--max-bins) only if you need more: pyradiomics' "
                    "time grows with the cube of the count."
                )


def roiRangeForBinning(image: sitk.Image, roi: np.ndarray, setting: Mapping[str, Any]) -> tuple[float, float] | None:
    """The ROI's intensity range as pyradiomics bins the original image: after its ``normalize`` (with
    ``normalizeScale``, ``removeOutliers``) and its ``resegmentRange`` (absolute, relative or sigma mode);
    ``None`` when re-segmentation leaves nothing (pyradiomics then refuses the ROI itself).

    :param roi: boolean KJI array of the ROI.
    """
    everything = sitk.GetArrayViewFromImage(image)
    values = everything[roi].astype(np.float64)
    if setting.get("normalize"):
        whole = everything.astype(np.float64)
        deviation = float(whole.std(ddof=1)) if whole.size > 1 else 0.0
        values = (values - float(whole.mean())) / (deviation or 1.0)
        outliers = setting.get("removeOutliers")
        if outliers is not None:
            values = np.clip(values, -float(outliers), float(outliers))
        values = values * float(setting.get("normalizeScale", 1))
    bounds = setting.get("resegmentRange")
    if bounds:
        mode = setting.get("resegmentMode", "absolute")
        thresholds = sorted(float(value) for value in bounds)
        if mode == "relative":
            thresholds = [float(values.max()) * value for value in thresholds]
        elif mode == "sigma":
            thresholds = [float(values.mean()) + float(values.std()) * value for value in thresholds]
        keep = values >= thresholds[0]
        if len(thresholds) == 2:
            keep &= values <= thresholds[1]
        values = values[keep]
    if not values.size:
        return None
    return float(values.min()), float(values.max())


def requireBinCountOfRoi(
    image: sitk.Image,
    roi: np.ndarray,
    settings: Any,
    maximumBinCount: int,
    what: str,
    origin: float | None = None,
) -> int | None:
    """Refuse, before pyradiomics runs, fixed-width bins that would make more than ``maximumBinCount`` grey
    levels over the ROI of the original image.

    :param settings: the :class:`~VirtualBiopsy.extract.radiomicsSettings.RadiomicsSettings`.
    :param roi: boolean KJI array of the ROI on ``image``.
    :param origin: the fixed bin origin (``preprocessing.fixedBinOrigin``), if any.
    :returns: the number of levels, or ``None`` when the original image is not binned with a bin width.
    :raises InputError: with the ROI's range, the count and the bin width or count that fits.
    """
    if "Original" not in settings.imageTypes:
        return None
    setting = {**settings.setting, **(settings.imageTypes.get("Original") or {})}
    if setting.get("binCount") is not None:
        return int(setting["binCount"])
    binWidth = float(setting.get("binWidth", 25))
    bounds = roiRangeForBinning(image, roi, setting)
    if bounds is None:
        return None
    levels = fixedWidthBinCount(*bounds, binWidth, origin)
    if levels > maximumBinCount:
        raise InputError(_tooManyLevels(what, bounds, binWidth, levels, maximumBinCount, settings.name, origin))
    return levels


@contextlib.contextmanager
def binCountLimit(maximumBinCount: int | None, settingsName: str = "custom") -> Iterator[None]:
    """Within the block, pyradiomics refuses to bin an image into more than ``maximumBinCount`` levels
    (:class:`InputError` from :func:`checkBinEdges`, raised before any edge is allocated)."""
    if maximumBinCount is None:
        yield
        return
    from VirtualBiopsy.extract.binOrigin import installBinEdgeHook

    installBinEdgeHook()
    token = _LIMIT.set((int(maximumBinCount), settingsName))
    try:
        yield
    finally:
        _LIMIT.reset(token)


def checkBinEdges(values: np.ndarray, settings: Mapping[str, Any], origin: float | None) -> None:
    """pyradiomics' bin-edge hook: raise :class:`InputError` if binning ``values`` (the ROI's voxels of the
    image being binned) with ``settings`` would make more levels than the active :func:`binCountLimit`."""
    active = _LIMIT.get()
    if active is None:
        return
    limit, settingsName = active
    binCount = settings.get("binCount")
    if binCount is not None:
        if int(binCount) > limit:
            raise InputError(
                f"Radiomics settings '{settingsName}': binCount {binCount} is above maximumBinCount {limit}; "
                f"use binCount: {SUGGESTED_BIN_COUNT} or raise maximumBinCount (--max-bins)."
            )
        return
    values = np.asarray(values)
    if not values.size:
        return
    binWidth = float(settings.get("binWidth", 25))
    bounds = (float(values.min()), float(values.max()))
    levels = fixedWidthBinCount(*bounds, binWidth, origin)
    if levels > limit:
        what = "a filtered image (or the resampled original) of the ROI"
        raise InputError(_tooManyLevels(what, bounds, binWidth, levels, limit, settingsName, origin))


def _tooManyLevels(
    what: str,
    bounds: tuple[float, float],
    binWidth: float,
    levels: int,
    limit: int,
    settingsName: str,
    origin: float | None,
) -> str:
    low, high = bounds
    span = high - (low if origin is None else origin)
    fromOrigin = f" from the bin origin {origin:g}" if origin is not None else ""
    return (
        f"Radiomics settings '{settingsName}': in {what}, intensities span {low:g} to {high:g} (a range of "
        f"{span:g}{fromOrigin}), which binWidth {binWidth:g} cuts into {levels:,} grey levels, above the limit of "
        f"{limit} (maximumBinCount): pyradiomics would take minutes to hours and gigabytes. Use binWidth ≥ "
        f"{requiredBinWidth(low, high, limit, origin):g} for this ROI's range of {span:g}, or binCount: "
        f"{SUGGESTED_BIN_COUNT}; raise maximumBinCount (--max-bins) only if you need that many levels."
    )
