"""What an inference backend returns: a label map and class probabilities on the input grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk


@dataclass
class BackendResult:
    """The prediction of one case, on the grid of the first input image.

    :ivar labelMap: integer label map (the model's label values, 0 = background).
    :ivar probabilities: class probabilities, shape ``(classes, z, y, x)`` (SimpleITK array order),
        class ``c`` being label value ``labelValues[c]``.
    :ivar labelValues: the label value of each probability channel.
    :ivar memberProbabilities: per-fold (or per-member) probabilities of the same shape, when asked for.
    :ivar provenance: what ran: backend, device, folds, test-time augmentation, versions.
    """

    labelMap: sitk.Image
    probabilities: np.ndarray
    labelValues: tuple[int, ...]
    memberProbabilities: list[np.ndarray] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
