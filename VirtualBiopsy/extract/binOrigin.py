"""Fixed-bin-size discretisation from a chosen origin, as IBSI defines it.

pyradiomics 3.0.1 starts fixed-width bins at the largest multiple of
``binWidth`` not above the ROI minimum; IBSI starts them at the lower bound of
the re-segmentation range (``⌊(x − origin) / w⌋ + 1``). Every grey-level index
then differs by a constant, which changes the features that use the absolute
index (joint average, grey-level emphases, busyness, …). pyradiomics has no
setting for the origin, so :func:`fixedBinOrigin` replaces its bin-edge function
for the duration of one extraction, in the calling thread (or task) only;
everywhere else pyradiomics bins as it always does. The same replacement enforces
:func:`~VirtualBiopsy.extract.binCount.binCountLimit` before any edge is allocated.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator

import numpy as np

from VirtualBiopsy.errors import InputError, requirePackage
from VirtualBiopsy.extract import binCount

_ORIGIN: contextvars.ContextVar[float | None] = contextvars.ContextVar("fixedBinOrigin", default=None)
_INSTALL_LOCK = threading.Lock()


def fixedBinEdges(values: np.ndarray, binWidth: float, origin: float) -> np.ndarray:
    """Edges of fixed-width bins starting at ``origin``, covering every value.

    Bins are half-open ``[edge, edge + binWidth)`` like pyradiomics' (so a value on
    an edge goes to the upper bin, and the maximum gets a bin of its own when it
    lies on an edge).

    :raises InputError: when a value lies below ``origin`` or ``binWidth`` is not positive.
    """
    if not binWidth > 0:
        raise InputError(f"binWidth is {binWidth}; fixed-width bins need a positive bin width.")
    values = np.asarray(values, dtype=np.float64)
    minimum, maximum = float(values.min()), float(values.max())
    if minimum < origin:
        raise InputError(
            f"The ROI holds intensity {minimum:g}, below the fixed bin origin {origin:g}. Re-segment the ROI so "
            "that nothing lies below the origin (resegmentRange's lower bound, as IBSI does), or lower fixedBinOrigin."
        )
    count = int(np.floor((maximum - origin) / binWidth)) + 2
    return origin + binWidth * np.arange(count, dtype=np.float64)


@contextlib.contextmanager
def fixedBinOrigin(origin: float | None) -> Iterator[None]:
    """Within the block, pyradiomics' fixed-width bins start at ``origin`` (``None``: pyradiomics' own).

    Fixed bin count (``binCount``) is not affected.
    """
    if origin is None:
        yield
        return
    installBinEdgeHook()
    token = _ORIGIN.set(float(origin))
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def installBinEdgeHook() -> None:
    """Replace pyradiomics' ``getBinEdges`` (once per process) by one that applies the active bin origin and
    bin-count limit of the calling context, and is pyradiomics' own elsewhere."""
    imageoperations = requirePackage("radiomics.imageoperations", "pyradiomics")
    with _INSTALL_LOCK:
        if getattr(imageoperations.getBinEdges, "_virtualBiopsyHook", False):
            return
        pyradiomicsBinEdges = imageoperations.getBinEdges

        def getBinEdges(parameterValues, **kwargs):
            origin = _ORIGIN.get()
            binCount.checkBinEdges(parameterValues, kwargs, origin if kwargs.get("binCount") is None else None)
            if origin is None or kwargs.get("binCount") is not None:
                return pyradiomicsBinEdges(parameterValues, **kwargs)
            return fixedBinEdges(parameterValues, kwargs.get("binWidth", 25), origin)

        setattr(getBinEdges, "_virtualBiopsyHook", True)  # read back with getattr above
        getBinEdges.__doc__ = pyradiomicsBinEdges.__doc__
        imageoperations.getBinEdges = getBinEdges
