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

from VirtualBiopsy.dicom.multiFrameGeometry import frames, referencedGrid, sliceIndex
from VirtualBiopsy.dicom.referenceSeries import findSeriesFolder
from VirtualBiopsy.dicom.segExport import SEG_STORAGE
from VirtualBiopsy.errors import InputError, requirePackage


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
        pixels = dataset.pixel_array
    except InputError:
        raise
    except Exception as error:
        raise InputError(
            f"DICOM SEG {segPath} cannot be read ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt. Export it again or copy it again from its source."
        ) from error
    count = int(dataset.get("NumberOfFrames", 1))
    pixels = pixels.reshape(count, int(dataset.Rows), int(dataset.Columns))
    geometry = frames(dataset, segPath)
    if len(geometry) != count:
        raise InputError(
            f"DICOM SEG {segPath.name} has {count} frames but {len(geometry)} per-frame functional groups; the file "
            "is inconsistent. Export it again."
        )
    grid = referencedGrid(dataset, geometry, segPath, referenceFolder)
    fractional = str(dataset.get("SegmentationType", "BINARY")) == "FRACTIONAL"
    scale = float(dataset.get("MaximumFractionalValue", 255)) if fractional else 1.0
    volumes = _placeFrames(dataset, pixels, grid, geometry, segPath, fractional, scale)
    return [_segment(item, volumes.get(int(item.SegmentNumber)), grid, fractional) for item in dataset.SegmentSequence]


def isDicomSeg(path: str | pathlib.Path) -> bool:
    """Whether ``path`` is a DICOM file of SOP class Segmentation Storage (headers only)."""
    pydicom = requirePackage("pydicom")
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:  # not DICOM at all
        return False
    return str(header.get("SOPClassUID", "")) == SEG_STORAGE


def referencedSeries(segPath: str | pathlib.Path) -> set[str]:
    """The SeriesInstanceUIDs a DICOM SEG names in its ReferencedSeriesSequence (headers only)."""
    pydicom = requirePackage("pydicom")
    dataset = pydicom.dcmread(segPath, stop_before_pixels=True)
    return {str(item.get("SeriesInstanceUID", "")) for item in dataset.get("ReferencedSeriesSequence", [])} - {""}


def findReferenceFolder(segPath: str | pathlib.Path, folders: list[pathlib.Path]) -> pathlib.Path:
    """The one of ``folders`` (DICOM series folders) that holds the series the SEG at ``segPath`` references.

    :raises InputError: when none of them does (naming the referenced series).
    """
    return findSeriesFolder(referencedSeries(segPath), folders, f"DICOM SEG {pathlib.Path(segPath).name}")


def _placeFrames(dataset, pixels, grid, geometry, segPath, fractional: bool, scale: float) -> dict[int, np.ndarray]:
    volumes: dict[int, np.ndarray] = {}
    for index, frame in enumerate(geometry):
        k = sliceIndex(grid, frame, index + 1, segPath)
        identification = frame.group.get("SegmentIdentificationSequence") or dataset.SharedFunctionalGroupsSequence[
            0
        ].get("SegmentIdentificationSequence")
        number = int(identification[0].ReferencedSegmentNumber)
        volume = volumes.setdefault(number, np.zeros(grid.GetSize()[::-1], np.float32 if fractional else np.uint8))
        volume[k] = pixels[index] / scale if fractional else (pixels[index] != 0)
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
