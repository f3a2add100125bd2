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
    littleEndian = header["transferSyntax"] != "1.2.840.10008.1.2.2"
    for keyword in KEYWORDS:
        try:
            value = _fastValue(dataset, keyword, littleEndian)
            if value is _SLOW:
                value = dataset.get(keyword)
                value = None if value is None or value == "" else _plain(value)
        except Exception as error:  # an element whose value cannot be parsed
            return {"path": path, "problem": f"unreadable: {keyword}: {error}"}
        if value is not None and value != "":
            header[keyword] = value
    if "SeriesInstanceUID" not in header:
        return {"path": path, "problem": "no_series_uid: a DICOM file without SeriesInstanceUID"}
    return header


_SLOW = object()
_TEXT_VRS = {"CS", "LO", "SH", "UI", "DA", "TM", "PN", "LT", "ST"}


def _fastValue(dataset: Any, keyword: str, littleEndian: bool) -> Any:
    """The value of a raw (not yet converted) element parsed directly from its bytes, ``None`` when absent, or
    ``_SLOW`` where pydicom must convert it (much faster than pydicom's conversion of decimal strings)."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None or tag not in dataset:
        return None
    raw = dataset.get_item(tag)
    data, vr = getattr(raw, "value", None), getattr(raw, "VR", None)
    if not isinstance(data, bytes) or vr is None or not littleEndian:
        return _SLOW
    if vr in ("DS", "IS"):
        items = [item.strip() for item in data.decode("ascii").strip(" \x00").split("\\")]
        numbers = tuple((int(item) if vr == "IS" else float(item)) for item in items if item)
        return numbers[0] if len(numbers) == 1 else (numbers or None)
    if vr in _TEXT_VRS:
        texts = tuple(item.strip(" \x00") for item in data.decode("latin-1").split("\\"))
        return texts[0] if len(texts) == 1 else texts
    if vr in ("US", "FD") and len(data) == (2 if vr == "US" else 8):
        import struct

        return struct.unpack("<H" if vr == "US" else "<d", data)[0] * (1 if vr == "US" else 1.0)
    return _SLOW


def _plain(value: Any) -> Any:
    """A pydicom value as str, float, int or a tuple of them."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return tuple(_plain(item) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if type(value).__name__ == "IS" or isinstance(value, int) else float(value)
    return str(value)
