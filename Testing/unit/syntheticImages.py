"""Small synthetic head images with known anatomy for algorithm tests."""

import numpy as np
import SimpleITK as sitk


def headWithLesion(size: int = 64, seed: int = 0, spacing=(2.0, 2.0, 2.0), zeroBackground: bool = False):
    """A noisy ellipsoidal head with a bright scalp shell and a ring-enhancing lesion.

    :returns: (image, lesionMask, headMask) as SimpleITK images on one grid.
    """
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:size, :size, :size].astype(float)
    centre = (size - 1) / 2
    radius = np.sqrt(
        ((x - centre) / (0.42 * size)) ** 2 + ((y - centre) / (0.45 * size)) ** 2 + ((z - centre) / (0.40 * size)) ** 2
    )
    head = radius <= 1.0
    scalp = head & (radius > 0.9)
    lesionDistance = np.sqrt((x - centre - 6) ** 2 + (y - centre + 4) ** 2 + (z - centre) ** 2)
    lesion = lesionDistance <= 7
    core = lesionDistance <= 4
    voxels = np.where(head, 100.0, 0.0 if zeroBackground else 5.0)
    voxels[scalp] = 300.0
    voxels[lesion] = 400.0
    voxels[core] = 60.0
    voxels += rng.normal(0, 8, voxels.shape) * (head | (not zeroBackground))
    image = sitk.GetImageFromArray(voxels.astype(np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin((-10.0, 20.0, 5.0))
    masks = []
    for mask in (lesion, head):
        maskImage = sitk.GetImageFromArray(mask.astype(np.uint8))
        maskImage.CopyInformation(image)
        masks.append(maskImage)
    return image, masks[0], masks[1]
