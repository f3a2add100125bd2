"""Surface voxels of a mask and the distances between two surfaces, in millimetres.

A surface voxel is an inside voxel with at least one of its six face neighbours
outside the mask; outside the image counts as outside, so a mask that touches
the border has a surface there.  This is the boundary MONAI's ``get_mask_edges``
and the Nikolov et al. (2018) surface-distance code count when they work on
voxels rather than surface elements.  Distances are exact Euclidean distances
between voxel centres, scaled by the spacing (so anisotropic grids are measured
in mm); the direction matrix, a rotation or reflection, changes none of them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

#: Face (6-) connectivity in 3D.
_FACES = ndimage.generate_binary_structure(3, 1)


def surfaceVoxels(mask: np.ndarray) -> np.ndarray:
    """Boolean array of the surface voxels of a boolean mask (empty mask: no surface)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros_like(mask)
    interior = ndimage.binary_erosion(mask, structure=_FACES, border_value=0)
    return mask & ~interior


def surfaceDistances(surfaceA: np.ndarray, surfaceB: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from every voxel of ``surfaceA`` to the nearest voxel of ``surfaceB``, and back.

    :param surfaceA: boolean surface of the first mask, array order (k, j, i).
    :param surfaceB: boolean surface of the second mask, same shape.
    :param spacing: voxel spacing (mm) in the same array order.
    :returns: ``(distancesAtoB, distancesBtoA)``, one entry per surface voxel, in C order.
        When one surface is empty, the distances from the other are ``inf`` (nothing to reach);
        an empty surface has no distances.
    """
    pointsA = np.argwhere(surfaceA) * np.asarray(spacing, dtype=float)
    pointsB = np.argwhere(surfaceB) * np.asarray(spacing, dtype=float)
    return _nearest(pointsA, pointsB), _nearest(pointsB, pointsA)


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    if len(points) == 0:
        return np.zeros(0)
    if len(targets) == 0:
        return np.full(len(points), np.inf)
    distances, _ = cKDTree(targets).query(points, k=1)
    return np.asarray(distances, dtype=float)
