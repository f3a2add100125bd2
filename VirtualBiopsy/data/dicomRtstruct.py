"""RTSTRUCT files of the virtual cohort: masks written as contours, test data with a known answer.

:func:`writeRtstruct` writes each mask (on the grid of a DICOM series written by
:mod:`VirtualBiopsy.data.dicomWriter`) as an RT Structure Set: one ROI per mask, one
``CLOSED_PLANAR`` contour per boundary loop per slice, in patient coordinates (LPS, mm),
each referencing its slice's SOP instance. The contours run along voxel edges (every
boundary loop of the union of the slice's voxel squares, holes included), so rasterising
them at voxel centres with the even-odd rule gives the mask back exactly.

It reads the reference series with pydicom on its own (it does not use
:mod:`VirtualBiopsy.dicom`), so the reader is tested against an independent implementation.
"""

from __future__ import annotations

import datetime
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.dicomWriter import decimalString
from VirtualBiopsy.errors import GeometryError, InputError, requirePackage

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
#: The SOP class that RTReferencedStudySequence names for a study (Detached Study Management).
STUDY_COMPONENT_CLASS = "1.2.840.10008.3.1.2.3.1"
_PATIENT = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
_STUDY = ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


def writeRtstruct(
    path: str | os.PathLike,
    referenceFolder: str | os.PathLike,
    masks: Mapping[str, sitk.Image],
    *,
    colors: Mapping[str, Sequence[int]] | None = None,
    label: str = "VirtualBiopsy",
    seriesNumber: int = 901,
) -> pathlib.Path:
    """Write ``masks`` (name → 0/1 image on the reference series' grid) as an RTSTRUCT file at ``path``.

    :param colors: ROIDisplayColor per name (0-255 RGB); a default palette otherwise.
    :raises InputError: for an empty reference folder or masks on another grid than its slices.
    :returns: the path written.
    """
    pydicom = requirePackage("pydicom")
    slices = _referenceSlices(pathlib.Path(referenceFolder))
    first = slices[0][1]
    frameOfReference = str(first.FrameOfReferenceUID)
    ds = pydicom.dataset.Dataset()
    meta = pydicom.dataset.FileMetaDataset()
    sopUid = pydicom.uid.generate_uid()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = RTSTRUCT_STORAGE, sopUid
    meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    now = datetime.datetime(2024, 1, 15, 10, 0, 0)
    ds.InstanceCreationDate, ds.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_STORAGE, sopUid
    for keyword in _PATIENT + _STUDY:
        setattr(ds, keyword, first.get(keyword, ""))
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = (
        frameOfReference,
        first.get("PositionReferenceIndicator", ""),
    )
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", pydicom.uid.generate_uid(), seriesNumber
    ds.SeriesDescription, ds.OperatorsName, ds.Manufacturer = f"{label} contours", "", "VirtualBiopsy"
    ds.InstanceNumber = 1
    ds.StructureSetLabel, ds.StructureSetName = label[:16], label[:64]
    ds.StructureSetDate, ds.StructureSetTime = ds.InstanceCreationDate, ds.InstanceCreationTime
    ds.ReferencedFrameOfReferenceSequence = [_referencedFrame(pydicom, first, slices)]
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = [], [], []
    for number, (name, mask) in enumerate(masks.items(), start=1):
        roi = pydicom.dataset.Dataset()
        roi.ROINumber, roi.ReferencedFrameOfReferenceUID, roi.ROIName = number, frameOfReference, name
        roi.ROIGenerationAlgorithm = "MANUAL"
        ds.StructureSetROISequence.append(roi)
        contour = pydicom.dataset.Dataset()
        contour.ReferencedROINumber = number
        contour.ROIDisplayColor = list((colors or {}).get(name, _PALETTE[(number - 1) % len(_PALETTE)]))
        items = _contourItems(pydicom, mask, slices, name)
        if items:
            contour.ContourSequence = items
        ds.ROIContourSequence.append(contour)
        observation = pydicom.dataset.Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType, observation.ROIInterpreter = "GTV", ""
        ds.RTROIObservationsSequence.append(observation)
    path = pathlib.Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path


_PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))


def _referenceSlices(folder: pathlib.Path) -> list[tuple[np.ndarray, Any]]:
    """(position, header) of every image file in ``folder``."""
    pydicom = requirePackage("pydicom")
    slices = []
    for file in sorted(folder.iterdir()):
        if not file.is_file():
            continue
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception:  # not DICOM: not a slice
            continue
        if "ImagePositionPatient" in header:
            slices.append((np.asarray(header.ImagePositionPatient, dtype=float), header))
    if not slices:
        raise InputError(f"RTSTRUCT writer: no DICOM slices with a position in {folder}; give a series folder.")
    return slices


def _referencedFrame(pydicom, first, slices):
    images = []
    for _position, header in slices:
        image = pydicom.dataset.Dataset()
        image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = header.SOPClassUID, header.SOPInstanceUID
        images.append(image)
    series = pydicom.dataset.Dataset()
    series.SeriesInstanceUID, series.ContourImageSequence = first.SeriesInstanceUID, images
    study = pydicom.dataset.Dataset()
    study.ReferencedSOPClassUID, study.ReferencedSOPInstanceUID = STUDY_COMPONENT_CLASS, first.StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame = pydicom.dataset.Dataset()
    frame.FrameOfReferenceUID, frame.RTReferencedStudySequence = first.FrameOfReferenceUID, [study]
    return frame


def _contourItems(pydicom, mask: sitk.Image, slices, name: str) -> list:
    voxels = sitk.GetArrayViewFromImage(mask) != 0
    direction = np.asarray(mask.GetDirection(), dtype=float).reshape(3, 3)
    spacing, origin = np.asarray(mask.GetSpacing()), np.asarray(mask.GetOrigin())
    bySlice = {}
    for position, header in slices:
        index = np.linalg.solve(direction * spacing, position - origin)
        k = int(round(index[2]))
        if np.abs(index - np.round(index)).max() < 1e-3 and 0 <= k < voxels.shape[0]:
            bySlice[k] = header
    items: list = []
    for k in range(voxels.shape[0]):
        if not voxels[k].any():
            continue
        if k not in bySlice:
            raise GeometryError(
                f"RTSTRUCT writer: mask '{name}' has voxels on slice {k}, but no file of the reference series lies "
                "there; give masks on the reference series' grid."
            )
        for loop in traceLoops(voxels[k]):
            index = np.column_stack([loop[:, 0] - 0.5, loop[:, 1] - 0.5, np.full(len(loop), k, dtype=float)])
            points = origin + (index * spacing) @ direction.T
            image = pydicom.dataset.Dataset()
            image.ReferencedSOPClassUID = bySlice[k].SOPClassUID
            image.ReferencedSOPInstanceUID = bySlice[k].SOPInstanceUID
            item = pydicom.dataset.Dataset()
            item.ContourImageSequence = [image]
            item.ContourGeometricType, item.NumberOfContourPoints = "CLOSED_PLANAR", len(loop)
            item.ContourNumber = len(items) + 1
            item.ContourData = [decimalString(value) for value in points.ravel()]
            items.append(item)
    return items


def traceLoops(pixels: np.ndarray) -> list[np.ndarray]:
    """The boundary loops of a 2D mask (rows j, columns i) along pixel edges, as vertex arrays (i, j).

    Vertex ``(a, b)`` is the corner at index ``(a - 0.5, b - 0.5)``; collinear vertices are dropped.
    Every boundary edge belongs to exactly one loop, so even-odd filling gives the mask back.
    """
    padded = np.pad(pixels.astype(bool), 1)
    inside = padded[1:-1, 1:-1]
    outgoing: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def add(cells: np.ndarray, start: tuple[int, int], end: tuple[int, int]) -> None:
        for j, i in zip(*np.nonzero(cells)):
            outgoing.setdefault((i + start[0], j + start[1]), []).append((i + end[0], j + end[1]))

    add(inside & ~padded[:-2, 1:-1], (0, 0), (1, 0))  # below empty: along +i
    add(inside & ~padded[1:-1, 2:], (1, 0), (1, 1))  # right empty: along +j
    add(inside & ~padded[2:, 1:-1], (1, 1), (0, 1))  # above empty: along -i
    add(inside & ~padded[1:-1, :-2], (0, 1), (0, 0))  # left empty: along -j
    loops = []
    while outgoing:
        start = min(outgoing)
        loop = [start]
        previous, current = None, start
        while True:
            ends = outgoing[current]
            end = ends.pop(_turn(previous, current, ends)) if len(ends) > 1 else ends.pop()
            if not ends:
                del outgoing[current]
            previous, current = current, end
            if current == start:
                break
            loop.append(current)
        loops.append(_withoutCollinear(np.asarray(loop, dtype=float)))
    return loops


def _turn(previous, current, ends) -> int:
    """At a vertex where two loops touch, turn left (keeps loops that touch at a corner apart)."""
    if previous is None:
        return 0
    heading = (current[0] - previous[0], current[1] - previous[1])
    for index, end in enumerate(ends):
        step = (end[0] - current[0], end[1] - current[1])
        if heading[0] * step[1] - heading[1] * step[0] > 0:
            return index
    return 0


def _withoutCollinear(loop: np.ndarray) -> np.ndarray:
    before, after = np.roll(loop, 1, axis=0), np.roll(loop, -1, axis=0)
    cross = (loop[:, 0] - before[:, 0]) * (after[:, 1] - loop[:, 1]) - (loop[:, 1] - before[:, 1]) * (
        after[:, 0] - loop[:, 0]
    )
    return loop[cross != 0]
