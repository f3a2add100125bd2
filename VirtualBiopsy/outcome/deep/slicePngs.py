"""PNG slices of an image with a Grad-CAM map overlaid, through the tumour centre along the image's three axes."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.files import stagedOutputFolder

#: Slice name → NumPy axis of the ``(k, j, i)`` array it is taken across.
PLANES = {"axial": 0, "coronal": 1, "sagittal": 2}


def writeOverlayPngs(
    image: sitk.Image,
    camMap: sitk.Image,
    centre: Sequence[float],
    outDir: str | os.PathLike,
    colourMap: str = "inferno",
    alpha: float = 0.5,
) -> list[pathlib.Path]:
    """Write ``axial.png``, ``coronal.png`` and ``sagittal.png`` into the new folder ``outDir``.

    Slices are taken across the image's k, j and i voxel axes (the named planes for an axial acquisition) at the
    voxel nearest ``centre`` (LPS, mm); the map is drawn with ``colourMap`` where it is above zero.

    :raises InputError: when ``outDir`` exists and is not empty (nothing is written).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    voxels = sitk.GetArrayViewFromImage(image).astype(np.float32)
    values = sitk.GetArrayViewFromImage(camMap)
    index = np.clip(
        np.round(image.TransformPhysicalPointToContinuousIndex([float(v) for v in centre])).astype(int),
        0,
        np.array(image.GetSize()) - 1,
    )[::-1]
    spacing = np.array(image.GetSpacing())[::-1]
    low, high = np.percentile(voxels, [1, 99])
    written = []
    with stagedOutputFolder(outDir, "PNG folder") as staging:
        for name, axis in PLANES.items():
            picture = np.take(voxels, index[axis], axis=axis)
            overlay = np.ma.masked_less_equal(np.take(values, index[axis], axis=axis), 0.0)
            rows, columns = [spacing[a] for a in range(3) if a != axis]
            figure, axes = plt.subplots(figsize=(4, 4), dpi=100)
            axes.imshow(picture, cmap="gray", vmin=low, vmax=high, origin="lower", aspect=rows / columns)
            shown = axes.imshow(
                overlay, cmap=colourMap, vmin=0.0, vmax=1.0, alpha=alpha, origin="lower", aspect=rows / columns
            )
            figure.colorbar(shown, ax=axes, fraction=0.046, label="Grad-CAM")
            axes.set_title(f"{name} (slice {index[axis]})")
            axes.set_axis_off()
            figure.savefig(staging / f"{name}.png", bbox_inches="tight")
            plt.close(figure)
            written.append(pathlib.Path(outDir) / f"{name}.png")
    return written
