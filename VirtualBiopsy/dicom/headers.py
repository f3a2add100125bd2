"""Read the header of one DICOM file (no pixel data) into plain, picklable values."""

from __future__ import annotations

import os
from typing import Any

from VirtualBiopsy.errors import requirePackage

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
#: The attributes the index reads, by keyword; every other element is skipped.
KEYWORDS = (
    "PatientID", "StudyInstanceUID", "StudyDate", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "Modality", "SeriesDescription", "ProtocolName", "ImageType", "SeriesNumber", "InstanceNumber",
    "AcquisitionNumber", "EchoNumbers", "TemporalPositionIdentifier", "NumberOfTemporalPositions", "TriggerTime",
    "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices",
    "Rows", "Columns", "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "ScanningSequence",
    "SequenceVariant", "MagneticFieldStrength", "ContrastBolusAgent", "ContrastBolusRoute", "DiffusionBValue",
)  # fmt: skip


def readHeaders(paths: list[str]) -> list[dict[str, Any]]:
    """:func:`readHeader` of each path (one task of the index's pool)."""
    return [readHeader(path) for path in paths]


def readHeader(path: str) -> dict[str, Any]:
    """The header of ``path`` as ``{"path", keyword: value, "transferSyntax"}`` (numbers as floats, multi-values
    as tuples), or ``{"path", "problem": reason}`` for a file that is not a DICOM image."""
    pydicom = requirePackage("pydicom")
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(KEYWORDS))
    except pydicom.errors.InvalidDicomError:
        return {"path": path, "problem": "not_dicom: no DICOM preamble (DICM) and no file meta information"}
    except Exception as error:  # a truncated or corrupt file: reported, the rest is indexed
        return {"path": path, "problem": f"unreadable: {type(error).__name__}: {error}"}
    meta = getattr(dataset, "file_meta", None)
    storageClass = str(getattr(meta, "MediaStorageSOPClassUID", "") or "")
    if storageClass == DICOMDIR_CLASS or os.path.basename(path).upper() == "DICOMDIR":
        return {"path": path, "problem": "dicomdir: a DICOMDIR (directory records, not an image)"}
    header: dict[str, Any] = {"path": path, "transferSyntax": str(getattr(meta, "TransferSyntaxUID", "") or "")}
    for keyword in KEYWORDS:
        try:
            element = dataset.get(keyword)
        except Exception as error:  # an element whose value cannot be parsed
            return {"path": path, "problem": f"unreadable: {keyword}: {error}"}
        if element is not None and element != "":
            header[keyword] = _plain(element)
    if "SeriesInstanceUID" not in header:
        return {"path": path, "problem": "no_series_uid: a DICOM file without SeriesInstanceUID"}
    return header


def _plain(value: Any) -> Any:
    """A pydicom value as str, float, int or a tuple of them."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return tuple(_plain(item) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if type(value).__name__ == "IS" or isinstance(value, int) else float(value)
    return str(value)
