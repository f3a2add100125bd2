"""The foreground (head) mask of an MR volume."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.imageGeometry import nonFiniteVoxels, requireScalar3D

#: Fraction of voxels that must be exactly zero for zero to mean "background"
#: (the convention of masked-normalized data such as BraTS and nnU-Net's).
ZERO_BACKGROUND_FRACTION = 0.05


def foregroundMask(image: sitk.Image) -> sitk.Image:
    """Return the head as a UInt8 0/1 mask on ``image``'s grid.

    Images whose background is exactly zero (at least 5% of voxels) keep their
    non-zero voxels; other images are split by Otsu's threshold. The largest
    connected component is kept and its enclosed holes are filled.

    :raises InputError: for NaN or infinite voxels where Otsu's threshold is needed (its histogram cannot hold
        them; with a zero background they are foreground, left to the step that reads the intensities), or when
        no foreground is found (a constant image).
    :raises GeometryError: for an image that is not 3D scalar.
    """
    requireScalar3D(image, "image")
    voxels = sitk.GetArrayViewFromImage(image)
    if np.count_nonzero(voxels == 0) >= ZERO_BACKGROUND_FRACTION * voxels.size:
        candidate = sitk.Cast(image != 0, sitk.sitkUInt8)
    else:
        nonFinite = nonFiniteVoxels(image)
        if nonFinite is not None:
            raise InputError(
                f"The image has {nonFinite.describe()}, so its foreground (head) cannot be told from the "
                "background (Otsu's threshold needs finite intensities). Replace them first (e.g. numpy.nan_to_num "
                "on the array), or fix the step that produced them."
            )
        if float(voxels.min()) == float(voxels.max()):
            raise InputError(
                f"The image is constant (every voxel is {float(voxels.min())}); there is no head to find. "
                "Check that the right volume was selected."
            )
        candidate = sitk.OtsuThreshold(image, 0, 1)
    components = sitk.RelabelComponent(sitk.ConnectedComponent(candidate), sortByObjectSize=True)
    largest = sitk.Cast(components == 1, sitk.sitkUInt8)
    if not np.any(sitk.GetArrayViewFromImage(largest)):
        raise InputError(
            f"No foreground voxels were found in the image (intensities {float(voxels.min()):g} to "
            f"{float(voxels.max()):g}); check that the right volume was selected."
        )
    return sitk.BinaryFillhole(largest, fullyConnected=False, foregroundValue=1)
