"""Resampling presets for MR volumes.

The output grid of ``isotropic`` and ``inPlane`` covers the physical extent of the
input (voxel edges to voxel edges) and shares its centre, as in IBSI's
"align grid centres" rule: along each changed axis the new number of voxels is
``ceil(size × spacing / newSpacing)`` and the new origin puts the centre of the
new grid on the centre of the old one. The direction is kept. Interpolation
reaches half a voxel beyond the outer voxel centres (ITK's buffer convention),
so no background is introduced at the edges.

Higher-order interpolators (``bspline``, ``lanczos``) overshoot at edges; their
output is clamped to the input's intensity range, since MR intensities outside
the acquired range (negative values, above the brightest voxel) are artefacts.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.imageInputs import requirePositiveReal, requireUsableImage
from VirtualBiopsy.imageGeometry import requireScalar3D

#: Presets: ``isotropic`` (every axis to ``spacingMm``), ``inPlane`` (the two in-plane axes to ``spacingMm``,
#: the slice axis kept) and ``reference`` (onto another image's grid).
RESAMPLING_PRESETS = ("isotropic", "inPlane", "reference")

#: Interpolators by name; the last two are clamped to the input range.
INTERPOLATORS = {
    "nearest": sitk.sitkNearestNeighbor,
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline,
    "lanczos": sitk.sitkLanczosWindowedSinc,
}
CLAMPED_INTERPOLATORS = ("bspline", "lanczos")

#: Largest output grid accepted (voxels), so that a typo in the spacing cannot exhaust the memory.
MAXIMUM_VOXELS = 1e9

#: Relative slack before rounding a voxel count up (so that 64 × 3.75 / 1.0 stays 240, not 241).
_COUNT_TOLERANCE = 1e-6


def resampleImage(
    image: sitk.Image,
    preset: str = "isotropic",
    spacingMm: float = 1.0,
    interpolator: str = "bspline",
    reference: sitk.Image | None = None,
) -> sitk.Image:
    """Resample ``image`` onto the grid a preset defines.

    :param image: a 3D scalar image.
    :param preset: one of :data:`RESAMPLING_PRESETS`.
    :param spacingMm: new spacing of the changed axes (``isotropic``, ``inPlane``).
    :param interpolator: one of :data:`INTERPOLATORS`. ``nearest`` keeps the pixel type; the others give Float32.
    :param reference: the image whose grid ``reference`` resamples onto (required there, refused elsewhere).
    :returns: the resampled image (the input is not modified).
    :raises InputError: for an unknown preset or interpolator, a bad spacing, NaN/Inf voxels or a constant image.
    :raises GeometryError: for a 2D/4D image or reference.
    """
    if preset not in RESAMPLING_PRESETS:
        raise InputError(f"Unknown resampling preset {preset!r}; choose one of {', '.join(RESAMPLING_PRESETS)}.")
    if interpolator not in INTERPOLATORS:
        raise InputError(f"Unknown interpolator {interpolator!r}; choose one of {', '.join(INTERPOLATORS)}.")
    if (preset == "reference") != (reference is not None):
        raise InputError(
            f"The reference image is {'missing' if reference is None else 'given'} for preset {preset!r}; "
            "give reference= exactly with preset='reference'."
        )
    original = image
    image = requireUsableImage(image, "image to resample")
    if preset == "reference":
        grid = requireScalar3D(reference, "reference image")
    else:
        spacingMm = requirePositiveReal(spacingMm, "spacingMm")
        grid = presetGrid(image, preset, spacingMm)
    source = original if interpolator == "nearest" else image
    resampled = sitk.Resample(source, grid, sitk.Transform(), INTERPOLATORS[interpolator], 0.0, source.GetPixelID())
    if interpolator in CLAMPED_INTERPOLATORS:
        voxels = sitk.GetArrayViewFromImage(image)
        resampled = sitk.Clamp(resampled, sitk.sitkFloat32, float(voxels.min()), float(voxels.max()))
    return resampled


def presetGrid(image: sitk.Image, preset: str, spacingMm: float) -> sitk.Image:
    """An empty (UInt8) image carrying the output grid of ``isotropic`` or ``inPlane`` for ``image``.

    The slice axis of ``inPlane`` is the index axis with the largest spacing (the last one on ties).
    """
    spacing = np.array(image.GetSpacing(), dtype=float)
    size = np.array(image.GetSize(), dtype=int)
    newSpacing = np.full(3, spacingMm)
    if preset == "inPlane":
        sliceAxis = 2 - int(np.argmax(spacing[::-1]))
        newSpacing[sliceAxis] = spacing[sliceAxis]
    newSize = np.array(
        [max(1, math.ceil(n * s / t * (1 - _COUNT_TOLERANCE))) for n, s, t in zip(size, spacing, newSpacing)]
    )
    if float(np.prod(newSize.astype(float))) > MAXIMUM_VOXELS:
        raise InputError(
            f"Resampling {tuple(size)} voxels of {tuple(spacing)} mm to {spacingMm} mm would make {tuple(newSize)} "
            f"voxels (more than {MAXIMUM_VOXELS:.0e}); choose a larger spacingMm."
        )
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    centre = np.array(image.GetOrigin()) + direction @ (spacing * (size - 1) / 2.0)
    origin = centre - direction @ (newSpacing * (newSize - 1) / 2.0)
    grid = sitk.Image([int(n) for n in newSize], sitk.sitkUInt8)
    grid.SetSpacing(tuple(float(v) for v in newSpacing))
    grid.SetOrigin(tuple(float(v) for v in origin))
    grid.SetDirection(image.GetDirection())
    return grid
