"""Where the frames of an enhanced multi-frame object (SEG, parametric map) lie on a grid.

Frames are placed by their functional groups (Plane Position, Plane Orientation, Pixel Measures; per frame or
shared), never by their order, so an object whose frames are stored in any order, or that left empty frames out,
reads back onto the right slices.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.referenceSeries import POSITION_TOLERANCE, readReferenceSeries
from VirtualBiopsy.errors import GeometryError, InputError


@dataclasses.dataclass(frozen=True)
class Frame:
    """The geometry of one frame and its per-frame functional group item."""

    position: np.ndarray
    orientation: np.ndarray
    #: (spacing between rows, spacing between columns), as DICOM's Pixel Spacing.
    pixelSpacing: tuple[float, float]
    group: Any


def frames(dataset: Any, path: pathlib.Path) -> list[Frame]:
    """The geometry of every frame of ``dataset``.

    :raises InputError: for a frame without position, orientation or pixel spacing.
    """
    shared = dataset.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in dataset else {}
    result = []
    for index, perFrame in enumerate(dataset.get("PerFrameFunctionalGroupsSequence", [])):

        def item(keyword: str) -> Any:
            for group in (perFrame, shared):
                if keyword in group:
                    return group[keyword].value[0]
            raise InputError(
                f"Frame {index + 1} of {path.name} has no {keyword}; the object cannot be placed in space. "
                "Export it again with its plane geometry."
            )

        result.append(
            Frame(
                position=np.array(item("PlanePositionSequence").ImagePositionPatient, float),
                orientation=np.array(item("PlaneOrientationSequence").ImageOrientationPatient, float),
                pixelSpacing=tuple(float(value) for value in item("PixelMeasuresSequence").PixelSpacing),  # type: ignore[arg-type]
                group=perFrame,
            )
        )
    if not result:
        raise InputError(f"{path.name} has no per-frame functional groups; it is not an enhanced multi-frame object.")
    return result


def gridOfFrames(dataset: Any, geometry: list[Frame]) -> sitk.Image:
    """The grid (UInt8 zeros, LPS) that the frames span, from the lowest to the highest along the normal."""
    orientation = geometry[0].orientation
    normal = np.cross(orientation[:3], orientation[3:])
    heights = sorted({round(float(np.dot(frame.position, normal)), 4) for frame in geometry})
    shared = dataset.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in dataset else {}
    measures = shared.get("PixelMeasuresSequence") if shared else None
    between = float(measures[0].get("SpacingBetweenSlices", 0) or 0) if measures else 0.0
    if not between:
        between = float(np.min(np.diff(heights))) if len(heights) > 1 else 1.0
    first = min(geometry, key=lambda frame: float(np.dot(frame.position, normal))).position
    slices = int(round((heights[-1] - heights[0]) / between)) + 1
    grid = sitk.Image(int(dataset.Columns), int(dataset.Rows), slices, sitk.sitkUInt8)
    grid.SetSpacing((geometry[0].pixelSpacing[1], geometry[0].pixelSpacing[0], between))
    grid.SetOrigin(tuple(float(value) for value in first))
    grid.SetDirection(tuple(float(v) for v in np.column_stack([orientation[:3], orientation[3:], normal]).ravel()))
    return grid


def sliceIndex(grid: sitk.Image, frame: Frame, number: int, path: pathlib.Path) -> int:
    """The ``k`` of the grid slice that frame ``number`` (1-based) is.

    :raises GeometryError: for a frame that is not a slice of the grid.
    """
    direction = np.array(grid.GetDirection()).reshape(3, 3)
    origin, spacing, size = np.array(grid.GetOrigin()), grid.GetSpacing(), grid.GetSize()
    offset = direction.T @ (frame.position - origin)
    k = int(round(offset[2] / spacing[2]))
    sameOrientation = np.allclose(frame.orientation, np.concatenate([direction[:, 0], direction[:, 1]]), atol=1e-4)
    samePixels = np.allclose((frame.pixelSpacing[1], frame.pixelSpacing[0]), spacing[:2], atol=1e-4)
    onSlice = (
        np.allclose(offset[:2], 0.0, atol=POSITION_TOLERANCE) and abs(offset[2] - k * spacing[2]) < POSITION_TOLERANCE
    )
    if not (sameOrientation and samePixels and onSlice and 0 <= k < size[2]):
        raise GeometryError(
            f"Frame {number} of {path.name} (position {np.round(frame.position, 4).tolist()}, orientation "
            f"{np.round(frame.orientation, 5).tolist()}) is not a slice of the reference grid (origin "
            f"{np.round(origin, 4).tolist()}, spacing {np.round(spacing, 4).tolist()}, size {list(size)}); give the "
            "series the object was made on."
        )
    return k


def referencedGrid(dataset: Any, geometry: list[Frame], path: pathlib.Path, referenceFolder: Any) -> sitk.Image:
    """The reference series' grid (after checking that both share the frame of reference), or without a reference
    folder the grid the frames span.

    :raises GeometryError: for an object on another frame of reference than the reference series.
    """
    if referenceFolder is None:
        return gridOfFrames(dataset, geometry)
    reference = readReferenceSeries(referenceFolder)
    own = str(dataset.get("FrameOfReferenceUID", ""))
    if own != reference.frameOfReferenceUid:
        raise GeometryError(
            f"{path.name} is on frame of reference {own or '(none)'} but the reference series in {reference.folder} "
            f"is on {reference.frameOfReferenceUid}; it was made on another series. Give the series it refers to."
        )
    return reference.grid
