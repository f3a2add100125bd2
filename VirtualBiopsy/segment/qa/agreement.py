"""Agreement map of a prediction against a reference: where both agree, and the false positives and negatives."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.segment.qa.masks import maskArray, requireSameGrid

#: Labels of the agreement map (0: outside both masks).
AGREEMENT, FALSE_POSITIVE, FALSE_NEGATIVE = 1, 2, 3

#: Display name of each label.
AGREEMENT_NAMES = {AGREEMENT: "Agreement", FALSE_POSITIVE: "False positive", FALSE_NEGATIVE: "False negative"}

#: Display colour (RGB in [0, 1]) of each label: green, orange-red, blue (distinct for colour-blind readers too).
AGREEMENT_COLORS = {
    AGREEMENT: (0.20, 0.70, 0.30),
    FALSE_POSITIVE: (0.90, 0.35, 0.05),
    FALSE_NEGATIVE: (0.15, 0.45, 0.95),
}


def agreementMap(reference: sitk.Image, prediction: sitk.Image) -> sitk.Image:
    """Labelmap (UInt8) on the reference grid: 1 inside both masks, 2 only in the prediction
    (false positive), 3 only in the reference (false negative), 0 elsewhere.

    :raises GeometryError: if the masks are not on one grid.
    """
    truth = maskArray(reference, "reference mask")
    predicted = maskArray(prediction, "prediction mask")
    requireSameGrid(reference, prediction, "reference mask", "prediction mask")
    labels = np.zeros(truth.shape, np.uint8)
    labels[truth & predicted] = AGREEMENT
    labels[predicted & ~truth] = FALSE_POSITIVE
    labels[truth & ~predicted] = FALSE_NEGATIVE
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(reference)
    return image
