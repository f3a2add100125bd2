"""Z-score intensity normalization inside a mask."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError


def zScoreNormalize(image: sitk.Image, mask: sitk.Image | None = None, backgroundValue: float = 0.0) -> sitk.Image:
    """Subtract the mean and divide by the standard deviation of the voxels in ``mask``.

    :param image: a 3D scalar image.
    :param mask: 0/1 image on the same grid; ``None`` uses every voxel.
    :param backgroundValue: written outside the mask.
    :returns: a Float32 image on the same grid (the input is not modified).
    :raises InputError: when the mask is empty or the intensities in it are constant.
    :raises GeometryError: when the mask's size differs from the image's.
    """
    voxels = sitk.GetArrayViewFromImage(image)
    if mask is None:
        inside = np.ones(voxels.shape, dtype=bool)
    else:
        if mask.GetSize() != image.GetSize():
            raise GeometryError(
                f"The mask has size {mask.GetSize()} but the image has size {image.GetSize()}; "
                "resample the mask onto the image grid."
            )
        inside = sitk.GetArrayViewFromImage(mask) > 0
    values = voxels[inside].astype(np.float32, copy=False)
    if values.size == 0:
        raise InputError("The normalization mask is empty; choose a mask that covers the tissue to normalize.")
    mean = float(values.mean(dtype=np.float64))
    standardDeviation = float(values.std(dtype=np.float64))
    if not np.isfinite(standardDeviation) or standardDeviation <= 0:
        raise InputError(
            f"The intensities inside the mask are constant ({mean}) or not finite; z-score normalization "
            "needs varying values. Check the input volume and mask."
        )
    normalized = np.full(voxels.shape, backgroundValue, dtype=np.float32)
    normalized[inside] = (values - np.float32(mean)) / np.float32(standardDeviation)
    output = sitk.GetImageFromArray(normalized)
    output.CopyInformation(image)
    return output
