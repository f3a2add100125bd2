"""A small PNG of a Grad-CAM map over its image, on the slice that holds most of the map."""

from __future__ import annotations

import io

import numpy as np

from VirtualBiopsy.errors import InputError


def thumbnailSlice(camMap: np.ndarray) -> int:
    """The index along the first (k) axis of the slice with the largest sum of the map.

    :raises InputError: for a map that is not 3D, not finite, or zero everywhere.
    """
    values = np.asarray(camMap, dtype=float)
    if values.ndim != 3:
        raise InputError(f"A Grad-CAM map must be a 3D array (k, j, i); got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise InputError("The Grad-CAM map holds non-finite values; compute it again.")
    sums = np.clip(values, 0.0, None).sum(axis=(1, 2))
    if not np.any(sums > 0):
        raise InputError(
            "The Grad-CAM map is zero everywhere, so there is nothing to show; it is undefined "
            "for this patient (see the map's reason)."
        )
    return int(np.argmax(sums))


def gradCamThumbnail(
    image: np.ndarray,
    camMap: np.ndarray,
    size: int = 192,
    colourMap: str = "inferno",
    opacity: float = 0.5,
    aspect: float = 1.0,
) -> bytes:
    """PNG bytes of ``camMap`` (values in [0, 1]) over ``image`` on the slice :func:`thumbnailSlice` picks.

    Both arrays are ``(k, j, i)`` on the same grid (a map node and its source volume).

    :param aspect: row spacing over column spacing of the slice.
    :raises InputError: for arrays of different shapes or an empty map.
    """
    picture, values = np.asarray(image, dtype=np.float32), np.asarray(camMap, dtype=np.float32)
    if picture.shape != values.shape:
        raise InputError(
            f"The image {picture.shape} and the Grad-CAM map {values.shape} are not on the same grid; "
            "pass the volume the map was computed on."
        )
    if not 16 <= size <= 1024:
        raise InputError(f"Thumbnail size {size} is outside 16–1024 pixels.")
    index = thumbnailSlice(values)
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    plane = picture[index]
    low, high = np.percentile(plane, [1, 99]) if np.ptp(plane) > 0 else (float(plane.min()), float(plane.min()) + 1)
    figure = Figure(figsize=(size / 100, size / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(plane, cmap="gray", vmin=low, vmax=high, origin="lower", aspect=aspect)
    axes.imshow(
        np.ma.masked_less_equal(values[index], 0.0),
        cmap=colourMap,
        vmin=0.0,
        vmax=1.0,
        alpha=opacity,
        origin="lower",
        aspect=aspect,
    )
    axes.set_axis_off()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
