"""Classical automatic tumour segmentation: threshold inside the head, then the largest island.

A stand-in for AI segmentation: simple, deterministic and fast, good enough for
the whole tumour on FLAIR or the enhancing tumour on T1c.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.zscore import zScoreNormalize


def segmentBrightLesion(
    image: sitk.Image,
    threshold: float = 2.0,
    headMarginMm: float = 10.0,
    closingRadiusMm: float = 2.0,
    fillHoles: bool = True,
    minimumSizeMm3: float = 100.0,
) -> sitk.Image:
    """Segment the largest bright lesion of a volume (FLAIR, T1c).

    The image is z-scored inside its head mask (a no-op on harmonized input),
    thresholded at ``threshold``, restricted to voxels deeper than
    ``headMarginMm`` inside the head, closed, hole-filled and reduced to its
    largest connected island.

    :returns: UInt8 0/1 mask on the image grid.
    :raises InputError: when no island of at least ``minimumSizeMm3`` is found.
    """
    head = foregroundMask(image)
    normalized = zScoreNormalize(image, head)
    spacing = np.array(image.GetSpacing())
    if headMarginMm > 0:
        depth = sitk.SignedMaurerDistanceMap(head, insideIsPositive=True, squaredDistance=False, useImageSpacing=True)
        inner = sitk.Cast(depth > headMarginMm, sitk.sitkUInt8)
    else:
        inner = head
    candidate = sitk.Cast(normalized > threshold, sitk.sitkUInt8) * inner
    if closingRadiusMm > 0:
        radius = [max(1, int(round(closingRadiusMm / s))) for s in spacing]
        candidate = sitk.BinaryMorphologicalClosing(candidate, radius, sitk.sitkBall, 1)
    if fillHoles:
        candidate = sitk.BinaryFillhole(candidate, fullyConnected=False, foregroundValue=1)
    islands = sitk.RelabelComponent(sitk.ConnectedComponent(candidate), sortByObjectSize=True)
    largest = sitk.Cast(islands == 1, sitk.sitkUInt8)
    volumeMm3 = float(np.count_nonzero(sitk.GetArrayViewFromImage(largest))) * float(np.prod(spacing))
    if volumeMm3 < minimumSizeMm3:
        raise InputError(
            f"No lesion of at least {minimumSizeMm3} mm³ was found above a threshold of {threshold} "
            f"(largest island: {volumeMm3:.1f} mm³). Lower 'threshold' or 'minimumSizeMm3', or check that the "
            "input is a volume where the lesion is bright (FLAIR, contrast-enhanced T1)."
        )
    return largest
