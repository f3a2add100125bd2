"""IBSI-conformant image preprocessing done before pyradiomics.

pyradiomics resamples on a grid anchored at the mask's bounding box and keeps
interpolated intensities as they come; the IBSI 1 reference manual (chapter
"Image processing" and "Reference data sets") centres the new grid on the old
one, rounds calibrated intensities to integers after interpolation, interpolates
the mask with a continuous interpolator and keeps voxels whose partial volume
reaches a threshold, then re-segments by an intensity range and by μ ± kσ.

The mask given to :func:`preprocess` holds 0 outside and 1 on the label of
interest; the returned mask is UInt8 with the same meaning on the new grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

INTERPOLATORS = {
    "nearest": sitk.sitkNearestNeighbor,
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline,
}


@dataclass
class RadiomicsPreprocessing(StageConfig):
    """Preprocessing of an image and its mask before pyradiomics; the defaults do nothing.

    :ivar resampledSpacingMm: new voxel spacing (x, y, z) in mm, or ``None`` for no
        resampling; a ``null`` entry keeps the original spacing along that axis
        (``[2, 2, null]`` resamples in-plane only, as IBSI's 2D configurations do).
    :ivar imageInterpolator: ``nearest``, ``linear`` (bi/trilinear) or ``bspline``
        (cubic B-spline, IBSI's "tricubic spline").
    :ivar maskInterpolator: interpolator of the mask, read as a partial-volume fraction.
    :ivar alignGridCentres: centre the new grid on the original grid (IBSI); when
        false, the first voxel keeps its position (SimpleITK's default).
    :ivar roundIntensities: round intensities to the nearest integer, after
        interpolation when resampling (IBSI, for calibrated units such as HU).
    :ivar maskPartialVolumeThreshold: an interpolated mask voxel is inside when its
        value is at least this fraction.
    :ivar resegmentationRange: ``[low, high]`` intensity range kept in the mask
        (inclusive); either bound may be ``null`` (unbounded).
    :ivar outlierSigma: drop mask voxels outside mean ± this many standard
        deviations (computed after range re-segmentation), or ``None``.
    :ivar fixedBinOrigin: first edge of pyradiomics' fixed-width bins (``binWidth``);
        IBSI puts it at the lower bound of the re-segmentation range. ``None`` keeps
        pyradiomics' origin (the largest multiple of ``binWidth`` not above the ROI
        minimum). It changes no image: it applies during pyradiomics' discretisation
        (see :mod:`VirtualBiopsy.extract.binOrigin`).
    """

    resampledSpacingMm: list[float | None] | None = None
    imageInterpolator: str = "linear"
    maskInterpolator: str = "linear"
    alignGridCentres: bool = True
    roundIntensities: bool = False
    maskPartialVolumeThreshold: float = 0.5
    resegmentationRange: list[float | None] | None = None
    outlierSigma: float | None = None
    fixedBinOrigin: float | None = None

    def validate(self) -> None:
        name = type(self).__name__
        spacing = self.resampledSpacingMm
        if spacing is not None and (
            len(spacing) != 3
            or all(value is None for value in spacing)
            or any(value is not None and not value > 0 for value in spacing)
        ):
            raise InputError(
                f"{name}.resampledSpacingMm is {spacing}; give three spacings in mm (x, y, z), each positive "
                "or null to keep that axis, or null for no resampling."
            )
        requireChoice(self, "imageInterpolator", INTERPOLATORS)
        requireChoice(self, "maskInterpolator", INTERPOLATORS)
        if not 0.0 < self.maskPartialVolumeThreshold <= 1.0:
            raise InputError(
                f"{name}.maskPartialVolumeThreshold is {self.maskPartialVolumeThreshold}; it must lie in (0, 1] (IBSI uses 0.5)."
            )
        bounds = self.resegmentationRange
        if bounds is not None and (
            len(bounds) != 2
            or (bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1])
            or all(value is None for value in bounds)
        ):
            raise InputError(
                f"{name}.resegmentationRange is {bounds}; give [low, high] with low <= high "
                "(one bound may be null), e.g. [-1000, 400] for HU, or null for none."
            )
        if self.outlierSigma is not None:
            requireRange(self, "outlierSigma", 1e-9)

    def isNoOp(self) -> bool:
        """Whether :func:`preprocess` would return its inputs unchanged."""
        return (
            self.resampledSpacingMm is None
            and not self.roundIntensities
            and self.resegmentationRange is None
            and self.outlierSigma is None
        )


def preprocess(
    image: sitk.Image, mask: sitk.Image, settings: RadiomicsPreprocessing
) -> tuple[sitk.Image, sitk.Image, dict[str, Any]]:
    """Resample, round and re-segment ``image`` and ``mask`` as ``settings`` say.

    :param image: a 3D scalar image.
    :param mask: a 3D mask on the image's grid, 1 on the region of interest and 0 elsewhere.
    :returns: ``(image, mask, record)``: the image (Float32 once processed), the mask
        (UInt8, 1 inside) and a JSON-able record of every step with voxel counts.
        With default settings the inputs are returned untouched and the record says so.
    :raises InputError: for a non-binary or empty mask, or a re-segmentation that empties it.
    :raises GeometryError: when image and mask are not 3D on one grid.
    """
    if settings.isNoOp():
        return image, mask, {"applied": False, "steps": [], "settings": settings.toDict()}
    _checkInputs(image, mask)
    steps: list[dict[str, Any]] = []
    image = sitk.Cast(image, sitk.sitkFloat32)
    inside = sitk.Cast(mask, sitk.sitkUInt8)
    if settings.resampledSpacingMm is not None:
        image, inside, step = _resample(image, inside, settings)
        steps.append(step)
    if settings.roundIntensities:
        image = _roundImage(image)
        steps.append({"step": "roundIntensities"})
    values = sitk.GetArrayFromImage(image)
    keep = sitk.GetArrayFromImage(inside) > 0
    if settings.resegmentationRange is not None:
        low, high = settings.resegmentationRange
        before = int(keep.sum())
        keep &= (values >= (-np.inf if low is None else low)) & (values <= (np.inf if high is None else high))
        steps.append({"step": "resegmentationRange", "range": [low, high], "voxelsRemoved": before - int(keep.sum())})
        _requireNotEmpty(keep, f"re-segmentation to {settings.resegmentationRange}", "widen resegmentationRange")
    if settings.outlierSigma is not None:
        roi = values[keep].astype(np.float64)
        mean, sd = float(roi.mean()), float(roi.std())
        low, high = mean - settings.outlierSigma * sd, mean + settings.outlierSigma * sd
        before = int(keep.sum())
        keep &= (values >= low) & (values <= high)
        steps.append({"step": "outlierFiltering", "range": [low, high], "voxelsRemoved": before - int(keep.sum())})
        _requireNotEmpty(keep, f"outlier filtering at {settings.outlierSigma} sigma", "raise outlierSigma")
    outMask = sitk.GetImageFromArray(keep.astype(np.uint8))
    outMask.CopyInformation(image)
    record = {"applied": True, "steps": steps, "settings": settings.toDict(), "maskVoxels": int(keep.sum())}
    return image, outMask, record


def resampledGrid(image: sitk.Image, spacing: list[float | None], alignCentres: bool = True) -> dict[str, tuple]:
    """The grid IBSI resamples ``image`` onto: size ``ceil(n·s/s')`` per axis, centred on the original grid.

    :returns: ``{"size", "spacing", "origin", "direction"}`` of the new grid.
    """
    oldSpacing = np.array(image.GetSpacing())
    oldSize = np.array(image.GetSize())
    newSpacing = np.array([old if new is None else new for old, new in zip(oldSpacing, spacing)], dtype=float)
    extent = oldSize * oldSpacing / newSpacing
    newSize = np.array([max(1, math.ceil(value - 1e-6)) for value in extent])
    direction = np.array(image.GetDirection()).reshape(3, 3)
    origin = np.array(image.GetOrigin())
    if alignCentres:
        centre = origin + direction @ (oldSpacing * (oldSize - 1) / 2)
        origin = centre - direction @ (newSpacing * (newSize - 1) / 2)
    return {
        "size": tuple(int(v) for v in newSize),
        "spacing": tuple(float(v) for v in newSpacing),
        "origin": tuple(float(v) for v in origin),
        "direction": tuple(float(v) for v in direction.ravel()),
    }


def _resample(
    image: sitk.Image, mask: sitk.Image, settings: RadiomicsPreprocessing
) -> tuple[sitk.Image, sitk.Image, dict[str, Any]]:
    assert settings.resampledSpacingMm is not None, "called only when resampling is asked for"
    grid = resampledGrid(image, settings.resampledSpacingMm, settings.alignGridCentres)
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize(grid["size"])
    resampler.SetOutputSpacing(grid["spacing"])
    resampler.SetOutputOrigin(grid["origin"])
    resampler.SetOutputDirection(grid["direction"])
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    resampler.SetUseNearestNeighborExtrapolator(True)
    resampler.SetInterpolator(INTERPOLATORS[settings.imageInterpolator])
    newImage = resampler.Execute(image)
    resampler.SetInterpolator(INTERPOLATORS[settings.maskInterpolator])
    fraction = resampler.Execute(sitk.Cast(mask, sitk.sitkFloat32))
    # IBSI: a fraction computed as 0.4999… must not drop a voxel that holds exactly 0.5
    inside = sitk.GetArrayViewFromImage(fraction) >= settings.maskPartialVolumeThreshold - 1e-6
    _requireNotEmpty(inside, f"resampling to {list(grid['spacing'])} mm", "use a finer resampledSpacingMm")
    newMask = sitk.GetImageFromArray(inside.astype(np.uint8))
    newMask.CopyInformation(newImage)
    step = {
        "step": "resample",
        "fromSize": list(image.GetSize()),
        "fromSpacing": list(image.GetSpacing()),
        "toSize": list(grid["size"]),
        "toSpacing": list(grid["spacing"]),
        "toOrigin": list(grid["origin"]),
        "imageInterpolator": settings.imageInterpolator,
        "maskInterpolator": settings.maskInterpolator,
        "maskPartialVolumeThreshold": settings.maskPartialVolumeThreshold,
        "maskVoxels": int(inside.sum()),
    }
    return newImage, newMask, step


def _roundImage(image: sitk.Image) -> sitk.Image:
    rounded = sitk.GetImageFromArray(np.round(sitk.GetArrayViewFromImage(image)).astype(np.float32))
    rounded.CopyInformation(image)
    return rounded


def _checkInputs(image: sitk.Image, mask: sitk.Image) -> None:
    for name, item in (("image", image), ("mask", mask)):
        if item.GetDimension() != 3 or item.GetNumberOfComponentsPerPixel() != 1:
            raise GeometryError(
                f"The {name} is {item.GetDimension()}D with {item.GetNumberOfComponentsPerPixel()} components per voxel; "
                "preprocessing needs a 3D scalar image and mask."
            )
    differences = [
        f"{what} {getter(image)} vs {getter(mask)}"
        for what, getter in (
            ("size", sitk.Image.GetSize),
            ("spacing", sitk.Image.GetSpacing),
            ("origin", sitk.Image.GetOrigin),
            ("direction", sitk.Image.GetDirection),
        )
        if not np.allclose(getter(image), getter(mask), atol=1e-4)
    ]
    if differences:
        raise GeometryError(
            f"The mask does not lie on the image grid: {'; '.join(differences)}. "
            "Use the mask made for this image or resample it onto the image (nearest neighbour)."
        )
    labels = np.unique(sitk.GetArrayViewFromImage(mask))
    if not set(labels.tolist()) <= {0, 1}:
        raise InputError(
            f"The mask holds values {labels[:10].tolist()}; preprocessing needs 0 outside and 1 on the region. "
            "Select the label of interest first (mask == label)."
        )
    _requireNotEmpty(labels == 1, "the input mask", "segment the region of interest first")


def _requireNotEmpty(inside: np.ndarray, what: str, fix: str) -> None:
    if not np.any(inside):
        raise InputError(f"The mask is empty after {what}; {fix}.")
