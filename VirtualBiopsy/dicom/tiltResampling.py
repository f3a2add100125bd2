"""A gantry-tilted (sheared) slice stack resampled onto an orthogonal grid that covers it.

The slices of a tilted acquisition lie in parallel planes, but each slice is shifted
sideways (within its plane) by the same amount ``t`` per slice: voxel ``(i, j, k)`` is at
``p0 + i·dx·row + j·dy·column + k·(s·normal + t)``. A volume's grid cannot hold that shear, so
the stack is resampled (linear interpolation, 0 outside the stack, float32) onto the grid
with directions (row, column, normal), the same spacings, and an extent that covers every
slice.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def resampleTiltedStack(stack: sitk.Image, positions: np.ndarray) -> sitk.Image:
    """Resample ``stack`` (slices with their own grid, origin at slice 0, no shear) onto an orthogonal grid.

    :param stack: the slices as an image whose direction is (row, column, normal), origin the first
        slice's position and third spacing the distance between slices along the normal.
    :param positions: the ``ImagePositionPatient`` of each slice, in the stack's slice order (N×3, mm).
    :returns: a float32 image on the orthogonal grid covering the whole stack.
    """
    direction = np.asarray(stack.GetDirection(), dtype=float).reshape(3, 3)
    row, column, normal = direction[:, 0], direction[:, 1], direction[:, 2]
    dx, dy, dz = stack.GetSpacing()
    origin = np.asarray(positions[0], dtype=float)
    count = len(positions)
    step = (np.asarray(positions[-1], dtype=float) - origin) / (count - 1)
    sideways = step - float(step @ normal) * normal
    columns, rows = stack.GetSize()[0], stack.GetSize()[1]
    corners = np.asarray(
        [
            origin + a * (columns - 1) * dx * row + b * (rows - 1) * dy * column + k * (dz * normal + sideways)
            for a in (0, 1)
            for b in (0, 1)
            for k in (0, count - 1)
        ]
    )
    local = (corners - origin) @ direction  # coordinates along row, column, normal
    low, high = local.min(axis=0), local.max(axis=0)
    spacing = np.asarray([dx, dy, dz])
    size = [int(np.floor((high[axis] - low[axis]) / spacing[axis] + 1e-6)) + 1 for axis in range(3)]
    reference = sitk.Image(size, sitk.sitkFloat32)
    reference.SetSpacing(tuple(float(value) for value in spacing))
    reference.SetDirection(stack.GetDirection())
    reference.SetOrigin(tuple(float(value) for value in origin + direction @ low))
    # A point x of the output is the point x - ((x - p0)·normal / dz)·t of the unsheared stack.
    unshear = sitk.AffineTransform(3)
    unshear.SetMatrix(tuple(float(value) for value in (np.eye(3) - np.outer(sideways, normal) / dz).ravel()))
    unshear.SetCenter(tuple(float(value) for value in origin))
    return sitk.Resample(sitk.Cast(stack, sitk.sitkFloat32), reference, unshear, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
