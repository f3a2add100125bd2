"""Put input voxels in the axis order a model was trained on, and results back on the input grid, exactly.

Orientation codes name the direction each array axis (x, y, z) points to, as DICOM, MONAI
(``axcodes``) and SimpleITK's ``DICOMOrient`` do: ``RAS`` = x towards Right, y towards
Anterior, z towards Superior. Only axes are permuted and flipped, so no voxel is interpolated:
a model sees the same voxels whichever way the file stores them.
"""

from __future__ import annotations

import re

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import ModelError

_CODE = re.compile(r"^(?=.*[LR])(?=.*[PA])(?=.*[IS])[LRPAIS]{3}$")


def requireOrientationCode(code: str) -> str:
    """Return ``code`` upper-cased if it names one of L/R, P/A, I/S per axis, else raise :class:`ModelError`."""
    upper = str(code).upper()
    if not _CODE.match(upper):
        raise ModelError(
            f"Orientation '{code}' is not an axis code; give three letters, one of L/R, P/A and I/S "
            "each, e.g. RAS or LPS."
        )
    return upper


def reorient(image: sitk.Image, code: str) -> sitk.Image:
    """``image`` with its axes permuted and flipped so that they point as ``code`` says (closest match)."""
    return sitk.DICOMOrient(image, requireOrientationCode(code))


def arrayBackOnGrid(voxels: np.ndarray, oriented: sitk.Image, original: sitk.Image) -> np.ndarray:
    """Voxels ``(..., z, y, x)`` on the grid of ``oriented`` moved onto the grid of ``original`` (same voxels, other order).

    :raises ModelError: if the two grids are not one permutation/flip of the other.
    """
    indexOf = np.array(
        [
            original.TransformPhysicalPointToIndex(oriented.TransformIndexToPhysicalPoint(corner))
            for corner in _corners(oriented)
        ]
    )
    size = np.array(oriented.GetSize())
    # Oriented axis a maps to original axis p[a], forward or reversed.
    base = indexOf[0]
    permutation, flips = [], []
    for axis in range(3):
        step = indexOf[axis + 1] - base
        target = int(np.argmax(np.abs(step)))
        if abs(step[target]) != size[axis] - 1 and size[axis] > 1:
            raise ModelError("The reoriented grid is not a permutation of the input grid; this is a bug.")
        permutation.append(target)
        flips.append(step[target] < 0)
    lead = voxels.ndim - 3
    # Array axes are (z, y, x): image axis a is array axis 2 - a.
    array = voxels
    for axis, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis=lead + 2 - axis)
    order = [0] * 3
    for axis, target in enumerate(permutation):
        order[2 - target] = 2 - axis
    return np.ascontiguousarray(np.transpose(array, list(range(lead)) + [lead + o for o in order]))


def imageBackOnGrid(image: sitk.Image, oriented: sitk.Image, original: sitk.Image) -> sitk.Image:
    """A scalar image on the grid of ``oriented`` moved onto the grid of ``original``."""
    result = sitk.GetImageFromArray(arrayBackOnGrid(sitk.GetArrayFromImage(image), oriented, original))
    result.CopyInformation(original)
    return result


def _corners(image: sitk.Image) -> list[tuple[int, int, int]]:
    size = image.GetSize()
    return [(0, 0, 0), (size[0] - 1, 0, 0), (0, size[1] - 1, 0), (0, 0, size[2] - 1)]
