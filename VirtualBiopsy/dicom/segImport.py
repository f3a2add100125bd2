"""Read a DICOM SEG (binary or fractional) into one mask per segment on the referenced grid.

The frames are placed by their own geometry (Plane Position and Orientation), not by their order: with the
source series' folder the masks lie on its grid (:mod:`.referenceSeries`; a SEG on another frame of reference
is refused); without it, on the grid the SEG's frames span (from the first to the last stored frame, so a SEG
that omitted empty frames at the ends gives a shorter grid). Pixel data are decoded by pydicom.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.referenceSeries import POSITION_TOLERANCE, readReferenceSeries
from VirtualBiopsy.dicom.segExport import SEG_STORAGE
from VirtualBiopsy.errors import GeometryError, InputError, requirePackage


@dataclasses.dataclass
class ImportedSegment:
    """One segment of a DICOM SEG.

    :ivar number: its Segment Number.
    :ivar name: its Segment Label.
    :ivar algorithmType: ``AUTOMATIC``, ``SEMIAUTOMATIC`` or ``MANUAL``.
    :ivar modelId: the model id for our AI segments (the algorithm name without "Virtual Biopsy "), else the
        algorithm name or ``""``.
    :ivar modelVersion: the algorithm version or ``""``.
    :ivar category: the segmented property category (code value, scheme, meaning).
    :ivar propertyType: the segmented property type (code value, scheme, meaning).
    :ivar mask: UInt8 0/1 (binary) or Float32 probabilities (fractional), on the grid.
    """

    number: int
    name: str
    algorithmType: str
    modelId: str
    modelVersion: str
    category: tuple[str, str, str]
    propertyType: tuple[str, str, str]
    mask: sitk.Image


def readSegmentation(
    segPath: str | pathlib.Path, referenceFolder: str | pathlib.Path | None = None
) -> list[ImportedSegment]:
    """The segments of the SEG at ``segPath``, in segment-number order.

    :raises InputError: for a file that is not DICOM, not a SEG, or truncated.
    :raises GeometryError: for a SEG on another frame of reference or whose frames are not on the grid.
    """
    pydicom = requirePackage("pydicom")
    segPath = pathlib.Path(segPath)
    try:
        dataset = pydicom.dcmread(segPath)
        sopClass = str(dataset.get("SOPClassUID", ""))
        if sopClass != SEG_STORAGE:
            raise InputError(
                f"{segPath} is not a DICOM SEG (SOP class {sopClass or 'missing'}, expected {SEG_STORAGE}); "
                "give a Segmentation Storage file."
            )
        frames = dataset.pixel_array
    except InputError:
        raise
    except Exception as error:
        raise InputError(
            f"DICOM SEG {segPath} cannot be read ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt. Export it again or copy it again from its source."
        ) from error
    count = int(dataset.get("NumberOfFrames", 1))
    frames = frames.reshape(count, int(dataset.Rows), int(dataset.Columns))
    if referenceFolder is not None:
        reference = readReferenceSeries(referenceFolder)
        segFrame = str(dataset.get("FrameOfReferenceUID", ""))
        if segFrame != reference.frameOfReferenceUid:
            raise GeometryError(
                f"DICOM SEG {segPath.name} is on frame of reference {segFrame or '(none)'} but the reference series in "
                f"{reference.folder} is on {reference.frameOfReferenceUid}; the SEG was drawn on another series. "
                "Give the series the SEG refers to."
            )
        grid = reference.grid
    else:
        grid = _gridOfFrames(dataset, segPath)
    fractional = str(dataset.get("SegmentationType", "BINARY")) == "FRACTIONAL"
    scale = float(dataset.get("MaximumFractionalValue", 255)) if fractional else 1.0
    volumes = _placeFrames(dataset, frames, grid, segPath, fractional, scale)
    return [_segment(item, volumes.get(int(item.SegmentNumber)), grid, fractional) for item in dataset.SegmentSequence]


def _frameGeometry(dataset: Any, index: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float], int]:
    """(position, orientation, (spacing between rows, between columns), segment number) of frame ``index``."""
    shared = dataset.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in dataset else {}
    perFrame = dataset.PerFrameFunctionalGroupsSequence[index]

    def item(keyword: str) -> Any:
        for group in (perFrame, shared):
            if keyword in group:
                return group[keyword].value[0]
        raise InputError(f"Frame {index + 1} of the DICOM SEG has no {keyword}; the SEG cannot be placed in space.")

    position = np.array(item("PlanePositionSequence").ImagePositionPatient, float)
    orientation = np.array(item("PlaneOrientationSequence").ImageOrientationPatient, float)
    spacing = tuple(float(value) for value in item("PixelMeasuresSequence").PixelSpacing)
    number = int(item("SegmentIdentificationSequence").ReferencedSegmentNumber)
    return position, orientation, (spacing[0], spacing[1]), number


def _gridOfFrames(dataset: Any, segPath: pathlib.Path) -> sitk.Image:
    geometry = [_frameGeometry(dataset, index) for index in range(len(dataset.PerFrameFunctionalGroupsSequence))]
    orientation = geometry[0][1]
    normal = np.cross(orientation[:3], orientation[3:])
    heights = sorted({round(float(np.dot(position, normal)), 4) for position, *_ in geometry})
    measures = dataset.SharedFunctionalGroupsSequence[0].get("PixelMeasuresSequence")
    between = float(measures[0].get("SpacingBetweenSlices", 0) or 0) if measures else 0.0
    if not between:
        between = float(np.min(np.diff(heights))) if len(heights) > 1 else 1.0
    first = min(geometry, key=lambda frame: float(np.dot(frame[0], normal)))[0]
    grid = sitk.Image(
        int(dataset.Columns), int(dataset.Rows), int(round((heights[-1] - heights[0]) / between)) + 1, sitk.sitkUInt8
    )
    grid.SetSpacing((geometry[0][2][1], geometry[0][2][0], between))
    grid.SetOrigin(tuple(float(value) for value in first))
    grid.SetDirection(
        tuple(float(value) for value in np.column_stack([orientation[:3], orientation[3:], normal]).ravel())
    )
    return grid


def _placeFrames(dataset, frames, grid, segPath, fractional: bool, scale: float) -> dict[int, np.ndarray]:
    direction = np.array(grid.GetDirection()).reshape(3, 3)
    origin, spacing, size = np.array(grid.GetOrigin()), grid.GetSpacing(), grid.GetSize()
    volumes: dict[int, np.ndarray] = {}
    for index in range(frames.shape[0]):
        position, orientation, pixelSpacing, number = _frameGeometry(dataset, index)
        offset = direction.T @ (position - origin)
        k = int(round(offset[2] / spacing[2]))
        sameOrientation = np.allclose(orientation, np.concatenate([direction[:, 0], direction[:, 1]]), atol=1e-4)
        samePixels = np.allclose((pixelSpacing[1], pixelSpacing[0]), spacing[:2], atol=1e-4)
        inPlane = (
            np.allclose(offset[:2], 0.0, atol=POSITION_TOLERANCE)
            and abs(offset[2] - k * spacing[2]) < POSITION_TOLERANCE
        )
        if not (sameOrientation and samePixels and inPlane and 0 <= k < size[2]):
            raise GeometryError(
                f"Frame {index + 1} of DICOM SEG {segPath.name} (position {np.round(position, 4).tolist()}, orientation "
                f"{np.round(orientation, 5).tolist()}) is not a slice of the reference grid (origin "
                f"{np.round(origin, 4).tolist()}, spacing {np.round(spacing, 4).tolist()}, size {list(size)}); give the "
                "series the SEG was made on."
            )
        volume = volumes.setdefault(number, np.zeros(size[::-1], np.float32 if fractional else np.uint8))
        volume[k] = frames[index] / scale if fractional else (frames[index] != 0)
    return volumes


def _code(sequence: Any) -> tuple[str, str, str]:
    code = sequence[0]
    return (str(code.CodeValue), str(code.CodingSchemeDesignator), str(code.CodeMeaning))


def _segment(item: Any, volume: np.ndarray | None, grid: sitk.Image, fractional: bool) -> ImportedSegment:
    if volume is None:
        volume = np.zeros(grid.GetSize()[::-1], np.float32 if fractional else np.uint8)
    mask = sitk.GetImageFromArray(volume)
    mask.CopyInformation(grid)
    algorithm = item.get("SegmentationAlgorithmIdentificationSequence")
    name = str(algorithm[0].get("AlgorithmName", "")) if algorithm else ""
    version = str(algorithm[0].get("AlgorithmVersion", "")) if algorithm else ""
    return ImportedSegment(
        number=int(item.SegmentNumber),
        name=str(item.SegmentLabel),
        algorithmType=str(item.SegmentAlgorithmType),
        modelId=name.removeprefix("Virtual Biopsy "),
        modelVersion=version,
        category=_code(item.SegmentedPropertyCategoryCodeSequence),
        propertyType=_code(item.SegmentedPropertyTypeCodeSequence),
        mask=mask,
    )
