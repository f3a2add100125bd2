"""RTSTRUCT contours rasterised on the grid of the series they reference.

Each ROI's ``CLOSED_PLANAR`` contours are filled on their slice at voxel centres with the
even-odd rule across all contours of the ROI on that slice (so a contour inside another is a
hole). ``POINT`` and ``OPEN_*`` contours have no inside: they are skipped with a warning.
The RTSTRUCT must reference the series in the reference folder (series UID, or at least the
frame of reference); a contour farther than half a slice spacing from every slice plane is an error.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.referenceSeries import findSeriesFolder
from VirtualBiopsy.dicom.seriesVolume import SeriesVolume, readSeries
from VirtualBiopsy.errors import GeometryError, InputError, requirePackage

logger = logging.getLogger(__name__)

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
#: Points may lie this far (in slice spacings) beyond half a spacing from their slice plane (round-off of decimal strings).
_PLANE_TOLERANCE = 1e-3


@dataclasses.dataclass
class RoiMask:
    """One ROI on the reference grid.

    :ivar color: ROIDisplayColor scaled to [0, 1], or ``None`` when the file gives none.
    """

    number: int
    name: str
    color: tuple[float, float, float] | None
    mask: sitk.Image


def readRtstruct(path: str | os.PathLike, referenceFolder: str | os.PathLike) -> list[tuple[str, sitk.Image]]:
    """Every ROI of the RTSTRUCT at ``path`` as ``(name, UInt8 0/1 mask on the reference series' grid)``.

    :raises InputError: for a file that is not an RTSTRUCT, or one that references another series
        or frame of reference than the one in ``referenceFolder``.
    :raises GeometryError: for a contour off the slice planes of the reference grid.
    """
    return [(roi.name, roi.mask) for roi in readRtstructRois(path, referenceFolder)]


def readRtstructNames(path: str | os.PathLike) -> list[str]:
    """The ROI names of an RTSTRUCT, in the file's order, without reading any reference series."""
    dataset, _ = _readFile(pathlib.Path(path))
    return [str(roi.get("ROIName", "")) for roi in dataset.get("StructureSetROISequence", [])]


def isRtstruct(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a DICOM file of SOP class RT Structure Set or modality RTSTRUCT (headers only)."""
    pydicom = requirePackage("pydicom")
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"], force=True)
    except Exception:  # not DICOM at all
        return False
    return str(header.get("SOPClassUID", "")) == RTSTRUCT_STORAGE or str(header.get("Modality", "")) == "RTSTRUCT"


def readRtstructRois(path: str | os.PathLike, referenceFolder: str | os.PathLike) -> list[RoiMask]:
    """Like :func:`readRtstruct`, with each ROI's number and display colour."""
    path = pathlib.Path(path)
    dataset, shown = _readFile(path)
    reference = readSeries(referenceFolder)
    _requireReference(dataset, shown, reference, pathlib.Path(referenceFolder))
    contours = {int(item.get("ReferencedROINumber", -1)): item for item in dataset.get("ROIContourSequence", [])}
    rois = []
    for roi in dataset.get("StructureSetROISequence", []):
        number, name = int(roi.get("ROINumber", -1)), str(roi.get("ROIName", ""))
        item = contours.get(number)
        color = None
        if item is not None and item.get("ROIDisplayColor") is not None and len(item.ROIDisplayColor) == 3:
            color = tuple(float(value) / 255.0 for value in item.ROIDisplayColor)
        mask = _rasterise(item, name, shown, reference)
        rois.append(RoiMask(number, name, color, mask))  # type: ignore[arg-type]
    return rois


def _readFile(path: pathlib.Path) -> tuple[Any, str]:
    pydicom = requirePackage("pydicom")
    if not path.is_file():
        raise InputError(f"RTSTRUCT file {path} was not found; check the path.")
    try:
        dataset = pydicom.dcmread(path, force=True)
    except Exception as error:  # pydicom raises many kinds for damaged files
        raise InputError(
            f"RTSTRUCT file {path} is not readable DICOM ({error}); give an RT Structure Set file."
        ) from error
    sopClass = str(dataset.get("SOPClassUID", ""))
    if sopClass != RTSTRUCT_STORAGE and str(dataset.get("Modality", "")) != "RTSTRUCT":
        raise InputError(
            f"{path} is not an RTSTRUCT (SOP class {sopClass or 'none'}, modality {dataset.get('Modality', 'none')}); "
            "give an RT Structure Set file (SOP class 1.2.840.10008.5.1.4.1.1.481.3)."
        )
    return dataset, f"RTSTRUCT {path.name}"


def referencedSeries(path: str | os.PathLike) -> set[str]:
    """The SeriesInstanceUIDs an RTSTRUCT references (headers only)."""
    dataset, _ = _readFile(pathlib.Path(path))
    return _references(dataset)[0]


def findReferenceFolder(path: str | os.PathLike, folders: list[pathlib.Path]) -> pathlib.Path:
    """The one of ``folders`` (DICOM series folders) that holds the series the RTSTRUCT at ``path`` references.

    :raises InputError: when none of them does (naming the referenced series).
    """
    return findSeriesFolder(referencedSeries(path), folders, f"RTSTRUCT {pathlib.Path(path).name}")


def _references(dataset: Any) -> tuple[set[str], set[str]]:
    """The referenced series UIDs and frames of reference of an RTSTRUCT."""
    series, frames = set(), set()
    for frame in dataset.get("ReferencedFrameOfReferenceSequence", []):
        frames.add(str(frame.get("FrameOfReferenceUID", "")))
        for study in frame.get("RTReferencedStudySequence", []):
            for item in study.get("RTReferencedSeriesSequence", []):
                series.add(str(item.get("SeriesInstanceUID", "")))
    frames |= {str(roi.get("ReferencedFrameOfReferenceUID", "")) for roi in dataset.get("StructureSetROISequence", [])}
    series.discard("")
    frames.discard("")
    return series, frames


def _requireReference(dataset: Any, shown: str, reference: SeriesVolume, folder: pathlib.Path) -> None:
    series, frames = _references(dataset)
    if series and reference.seriesUid not in series:
        raise InputError(
            f"{shown} references series {', '.join(sorted(series))}, but the reference folder {folder} holds series "
            f"{reference.seriesUid}: the referenced series is absent. Give the folder of series "
            f"{sorted(series)[0]} as the reference (--reference)."
        )
    if frames and reference.frameOfReferenceUid and reference.frameOfReferenceUid not in frames:
        raise InputError(
            f"{shown} is drawn in frame of reference {', '.join(sorted(frames))}, but the reference series "
            f"{reference.seriesUid} in {folder} is in frame of reference {reference.frameOfReferenceUid}; "
            "give the series the contours were drawn on as the reference (--reference)."
        )
    if not series and not frames:
        logger.warning(
            "%s names no referenced series or frame of reference: assuming series %s", shown, reference.seriesUid
        )


def _rasterise(item: Any, name: str, shown: str, reference: SeriesVolume) -> sitk.Image:
    grid = reference.image
    columns, rows, depth = grid.GetSize()
    voxels = np.zeros((depth, rows, columns), dtype=np.uint8)
    toIndex = np.linalg.inv(np.asarray(grid.GetDirection(), dtype=float).reshape(3, 3) * np.asarray(grid.GetSpacing()))
    origin = np.asarray(grid.GetOrigin(), dtype=float)
    skipped: dict[str, int] = {}
    for number, contour in enumerate(item.get("ContourSequence", []) if item is not None else [], start=1):
        kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
        data = contour.get("ContourData")
        if kind != "CLOSED_PLANAR":
            skipped[kind] = skipped.get(kind, 0) + 1
            continue
        if not data or len(data) < 9 or len(data) % 3:
            raise InputError(
                f"{shown}: ROI '{name}' contour {number} has {len(data or [])} ContourData values; a closed contour "
                "needs x\\y\\z triplets of at least 3 points. Export the structure set again."
            )
        points = np.asarray(data, dtype=float).reshape(-1, 3)
        index = (points - origin) @ toIndex.T
        k = int(np.round(np.median(index[:, 2])))
        offPlane = float(np.abs(index[:, 2] - k).max())
        if offPlane > 0.5 + _PLANE_TOLERANCE or not 0 <= k < depth:
            nearest = int(np.clip(k, 0, depth - 1))
            distance = float(np.abs(index[:, 2] - nearest).max()) * grid.GetSpacing()[2]
            raise GeometryError(
                f"{shown}: ROI '{name}' contour {number} lies {distance:.3g} mm from the nearest slice plane of "
                f"series {reference.seriesUid} (more than half the {grid.GetSpacing()[2]:.4g} mm slice spacing; "
                f"{depth} slices): it is off the reference grid. Give the series the contours were drawn on as "
                "the reference (--reference)."
            )
        voxels[k] ^= fillPolygon(index[:, 0], index[:, 1], (rows, columns))
    for kind, count in skipped.items():
        logger.warning("%s: ROI '%s': skipped %d %s contour(s) (they enclose no area)", shown, name, count, kind)
    mask = sitk.GetImageFromArray(voxels)
    mask.CopyInformation(grid)
    return mask


def fillPolygon(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The pixels (rows, columns) whose centres ``(column, row)`` lie inside the polygon ``(x, y)`` (even-odd)."""
    rows, columns = shape
    filled = np.zeros(shape, dtype=np.uint8)
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    low, high = max(0, int(np.ceil(y.min()))), min(rows - 1, int(np.floor(y.max())))
    centres = np.arange(columns)
    for row in range(low, high + 1):
        crossing = ((y <= row) & (y1 > row)) | ((y1 <= row) & (y > row))
        if not crossing.any():
            continue
        x0, y0, xa, ya = x[crossing], y[crossing], x1[crossing], y1[crossing]
        xs = np.sort(x0 + (row - y0) * (xa - x0) / (ya - y0))
        filled[row] = np.searchsorted(xs, centres, side="left") % 2
    return filled
