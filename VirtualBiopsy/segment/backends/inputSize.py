"""The smallest image a segmentation model takes, checked before the model is loaded.

A one-slice image given to the demo nnU-Net model (3D, 3 mm) crashed inside nnU-Net's preprocessing
(resampled to zero slices: "zero-size array to reduction operation") and was reported as a bug in the task.
A 3D model needs a volume: along every axis its patch spans (more than one voxel), the image must have
at least :data:`MINIMUM_VOXELS` voxels, and, when the model resamples to its own spacing, cover at least
half a voxel of that spacing (so that resampling keeps at least one). A 2D model (patch of one slice)
takes a single slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError

#: Fewest voxels along an axis that a 3D model's patch spans.
MINIMUM_VOXELS = 2

_AXES = ("i (x)", "j (y)", "k (slices)")


def requireModelInputSize(
    image: sitk.Image, modelId: str, patch: Sequence[int], targetSpacing: Sequence[float | None] | None = None
) -> None:
    """Raise :class:`InputError` if ``image`` is too small for the model.

    :param patch: the model's patch (sliding window) in voxels, ``(x, y, z)``; 1 along an axis it does not span.
    :param targetSpacing: the spacing ``(x, y, z)`` in mm the model resamples to (``None`` per axis, or for all,
        when it does not resample).
    :raises InputError: naming the image's size and spacing, the axis, and the minimum the model needs.
    """
    size, spacing = image.GetSize(), image.GetSpacing()
    target = list(targetSpacing) if targetSpacing is not None else [None] * len(size)
    for axis, (count, step, window, working) in enumerate(zip(size, spacing, patch, target)):
        if window <= 1:
            continue
        needs = [f"{MINIMUM_VOXELS} voxels"]
        minimumMm = 0.5 * working if working else 0.0
        if minimumMm:
            needs.append(f"{minimumMm:g} mm (half a voxel of its {working:g} mm working spacing)")
        if count >= MINIMUM_VOXELS and count * step >= minimumMm:
            continue
        shown = "×".join(str(value) for value in size)
        spacingShown = "×".join(f"{value:g}" for value in spacing)
        patchShown = "×".join(str(value) for value in patch)
        raise InputError(
            f"The image is {shown} voxels of {spacingShown} mm: {count} voxel(s), {count * step:g} mm along axis "
            f"{_AXES[axis]}, too few for model '{modelId}', a 3D model (patch {patchShown} voxels) that needs at "
            f"least {' and '.join(needs)} along each axis it spans. Give the whole volume (every slice), not a single "
            "slice or a thin crop; a one-slice image needs a 2D model."
        )
