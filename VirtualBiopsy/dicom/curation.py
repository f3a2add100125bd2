"""Curation flags of one series, each with its reason.

Flag names (the ``flags`` column): ``localizer``, ``derived``, ``secondary_capture``,
``missing_geometry``, ``mixed_orientations``, ``mixed_sizes``, ``several_echoes``,
``several_acquisitions``, ``duplicated_positions``, ``missing_slice``,
``uneven_spacing``, ``thickness_spacing``, ``contrast_description``,
``undecodable``, ``shared_series_uid``, ``no_pixel_data``, ``truncated_pixels``; the
index adds ``spread_folders``, ``shared_folder``, ``reference_missing`` and
``frame_of_reference_mismatch`` (:mod:`.index`). Slices at one position are expected, not
duplicates, when b-values, temporal positions or echoes tell them apart.
A localizer gets no geometry flags: its planes are orthogonal on purpose; nor do
objects that are not images (RTSTRUCT, SEG, SR) and enhanced multi-frame images
(one file, the geometry per frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from VirtualBiopsy.dicom.classification import describesContrast
from VirtualBiopsy.errors import requirePackage

#: Modalities of objects that are not a stack of slices: no geometry flags.
NON_IMAGE_MODALITIES = ("RTSTRUCT", "SEG", "SR", "KO", "PR", "REG")
#: Relative tolerance on slice spacing (uneven spacing, thickness ≠ spacing, missing slices).
SPACING_TOLERANCE = 0.01


def curationFlags(headers: list[dict[str, Any]]) -> dict[str, str]:
    """The flags of the series whose file headers are ``headers``, by name, with the reason."""
    flags: dict[str, str] = {}
    first = headers[0]
    imageType = [str(value).upper() for value in _tuple(first.get("ImageType"))]
    if "LOCALIZER" in imageType:
        flags["localizer"] = "ImageType LOCALIZER (a scout, not a diagnostic series)"
    if imageType and imageType[0] == "DERIVED":
        flags["derived"] = "ImageType " + "\\".join(imageType) + " (computed from other images)"
    if str(first.get("SOPClassUID", "")).startswith("1.2.840.10008.5.1.4.1.1.7") or "SECONDARY" in imageType:
        flags["secondary_capture"] = "secondary capture (a screenshot-like image, no acquisition geometry)"
    _counts(headers, flags)
    _pixels(headers, flags)
    _contrast(first, flags)
    _compression(first, flags)
    frames = first.get("NumberOfFrames")
    objects = first.get("Modality") in NON_IMAGE_MODALITIES or (isinstance(frames, int) and frames > 1)
    if "localizer" not in flags and not objects:
        _geometry(headers, flags)
    return flags


def sliceSpacing(headers: list[dict[str, Any]]) -> float | None:
    """The median distance between consecutive distinct slice positions along the normal, or ``None``."""
    projections = _projections(headers)
    if projections is None or len(projections) < 2:
        return None
    return float(np.median(np.diff(np.unique(np.round(projections, 3)))))


def _counts(headers: list[dict[str, Any]], flags: dict[str, str]) -> None:
    for keyword, flag, what in (("EchoNumbers", "several_echoes", "echoes"),
                                ("AcquisitionNumber", "several_acquisitions", "acquisitions")):  # fmt: skip
        values = sorted({str(h[keyword]) for h in headers if keyword in h})
        if len(values) > 1:
            flags[flag] = f"{len(values)} {what} in one series ({keyword} {', '.join(values)})"
    differing = [
        k for k in ("StudyInstanceUID", "PatientID", "FrameOfReferenceUID") if len({h.get(k) for h in headers}) > 1
    ]
    if differing:
        flags["shared_series_uid"] = (
            f"one SeriesInstanceUID in files of several {' and '.join(differing)} values (two series share a UID)"
        )


def _pixels(headers: list[dict[str, Any]], flags: dict[str, str]) -> None:
    for flag, start in (("no_pixel_data", "no Pixel Data"), ("truncated_pixels", "pixel data cut")):
        files = [h for h in headers if str(h.get("pixelProblem", "")).startswith(start)]
        if files:
            flags[flag] = (
                f"{len(files)} of {len(headers)} files, e.g. {files[0].get('file', files[0]['path'])}: {files[0]['pixelProblem']}"
            )


def _contrast(first: dict[str, Any], flags: dict[str, str]) -> None:
    description = str(first.get("SeriesDescription", ""))
    said = describesContrast(description)
    agent = first.get("ContrastBolusAgent")
    if agent and said is False:
        flags["contrast_description"] = (
            f"contrast agent {agent!r} but the description {description!r} says pre-contrast"
        )
    elif not agent and said is True:
        flags["contrast_description"] = f"no ContrastBolusAgent but the description {description!r} says post-contrast"


def _compression(first: dict[str, Any], flags: dict[str, str]) -> None:
    syntax = first.get("transferSyntax")
    if not syntax:
        return
    pydicom = requirePackage("pydicom")
    uid = pydicom.uid.UID(syntax)
    if not uid.is_transfer_syntax:
        flags["undecodable"] = f"unknown transfer syntax {syntax}: no decoder can read its pixel data"
        return
    if uid.is_compressed:
        try:
            available = pydicom.pixels.get_decoder(uid).is_available
        except Exception:
            available = False
        if not available:
            flags["undecodable"] = f"transfer syntax {uid.name} ({syntax}) has no installed decoder"


def _geometry(headers: list[dict[str, Any]], flags: dict[str, str]) -> None:
    missing = sum(1 for h in headers if not _hasGeometry(h))
    if missing:
        flags["missing_geometry"] = (
            f"{missing} of {len(headers)} files have no valid ImagePositionPatient (3 numbers) or "
            "ImageOrientationPatient (6 numbers)"
        )
        return
    distinct = {h["ImageOrientationPatient"] for h in headers}
    orientations = {tuple(round(value, 4) + 0.0 for value in orientation) for orientation in distinct}
    if len(orientations) > 1:
        flags["mixed_orientations"] = f"{len(orientations)} different ImageOrientationPatient values"
        return
    sizes = {(h.get("Rows"), h.get("Columns")) for h in headers}
    if len(sizes) > 1:
        flags["mixed_sizes"] = f"{len(sizes)} image sizes (Rows, Columns): {sorted(sizes, key=str)}"
    projections = _projections(headers)
    if projections is None:
        return
    volumes: dict[tuple, list[float]] = {}
    for header, projection in zip(headers, projections):
        key = (header.get("DiffusionBValue"), header.get("TemporalPositionIdentifier"), header.get("EchoNumbers"))
        volumes.setdefault(key, []).append(round(float(projection), 3))
    for values in volumes.values():
        if len(set(values)) < len(values):
            flags["duplicated_positions"] = f"{len(values) - len(set(values))} files repeat a slice position"
            break
    positions = np.unique(np.round(projections, 3))
    if len(positions) < 3:
        return
    steps = np.diff(positions)
    spacing = float(np.median(steps))
    multiples = steps / spacing
    gaps = np.abs(multiples - np.round(multiples)) < SPACING_TOLERANCE * 5
    missing = int(np.sum(np.round(multiples[gaps & (multiples > 1.5)]) - 1))
    if missing:
        flags["missing_slice"] = (
            f"{missing} slice(s) missing: a gap of {float(np.max(steps)):g} mm where slices are {spacing:g} mm apart"
        )
    elif np.max(np.abs(steps - spacing)) > SPACING_TOLERANCE * spacing:
        flags["uneven_spacing"] = f"slice spacing varies from {float(np.min(steps)):g} to {float(np.max(steps)):g} mm"
    thickness = headers[0].get("SliceThickness")
    if thickness is not None and abs(float(thickness) - spacing) > SPACING_TOLERANCE * spacing:
        flags["thickness_spacing"] = f"SliceThickness {float(thickness):g} mm but the slices are {spacing:g} mm apart"


def _projections(headers: list[dict[str, Any]]) -> np.ndarray | None:
    """Each file's position along the slice normal (row × column of the first orientation)."""
    if not all(_hasGeometry(h) for h in headers):
        return None
    r, c = headers[0]["ImageOrientationPatient"][:3], headers[0]["ImageOrientationPatient"][3:]
    normal = np.array([r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]], dtype=float)
    return np.array([h["ImagePositionPatient"] for h in headers], dtype=float) @ normal


def _hasGeometry(header: dict[str, Any]) -> bool:
    """Whether ``header`` has a position of 3 numbers and an orientation of 6."""
    position, orientation = header.get("ImagePositionPatient"), header.get("ImageOrientationPatient")
    return (
        isinstance(position, tuple) and len(position) == 3 and isinstance(orientation, tuple) and len(orientation) == 6
    )


def _tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (() if value is None else (value,))
