"""Overlap between a segmentation and its ground truth."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError


def diceCoefficient(segmentation: sitk.Image, reference: sitk.Image) -> float:
    """Dice coefficient 2|A∩B| / (|A|+|B|) of two masks on one grid (non-zero = inside).

    Two empty masks agree perfectly (1.0).
    """
    if segmentation.GetSize() != reference.GetSize():
        raise GeometryError(
            f"Masks of sizes {segmentation.GetSize()} and {reference.GetSize()} cannot be compared; "
            "resample one onto the other's grid."
        )
    a = sitk.GetArrayViewFromImage(segmentation) != 0
    b = sitk.GetArrayViewFromImage(reference) != 0
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total
