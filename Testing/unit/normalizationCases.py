"""Virtual-cohort images (64³) for the normalization tests, generated once per test session."""

from __future__ import annotations

import functools

import numpy as np
import SimpleITK as sitk

#: Cohort seed of every normalization test.
SEED = 0


@functools.lru_cache(maxsize=None)
def cohortCase(index: int):
    """Virtual patient ``index`` (64³) and its head mask: ``(case, headMask)``."""
    from VirtualBiopsy.data.virtualCohort import generateCase
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    case = generateCase(index, SEED, size=64)
    return case, foregroundMask(case.images["T1c"])


def arrays(image: sitk.Image, mask: sitk.Image | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The voxels (float64) and the mask (bool) as numpy arrays in k, j, i order."""
    voxels = sitk.GetArrayFromImage(image).astype(np.float64)
    return voxels, None if mask is None else sitk.GetArrayFromImage(mask) != 0


def writeImage(image: sitk.Image, path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)
