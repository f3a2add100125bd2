"""Read the header of one DICOM file (no pixel data) into plain, picklable values.

Two readers give the same raw elements (tag → VR and value bytes) to one decoder
(:func:`decodeValue`, :func:`assembleHeader`), so that a header never depends on
which reader read it: the fast byte parser (:mod:`.headerParser`) for the common
single-frame image in little endian, and pydicom for everything else (big endian,
deflated, no preamble, DICOMDIR, enhanced multi-frame, RTSTRUCT, SEG, SR, and
any file the fast parser finds unusual).
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

from VirtualBiopsy.errors import requirePackage

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
#: The attributes the index reads: keyword → (tag, VR of the data dictionary); every other element is skipped.
FIELDS: dict[str, tuple[int, str]] = {
    "PatientID": (0x00100020, "LO"), "StudyInstanceUID": (0x0020000D, "UI"), "StudyDate": (0x00080020, "DA"),
    "SeriesInstanceUID": (0x0020000E, "UI"), "SOPClassUID": (0x00080016, "UI"), "SOPInstanceUID": (0x00080018, "UI"),
    "FrameOfReferenceUID": (0x00200052, "UI"), "Modality": (0x00080060, "CS"), "SeriesDescription": (0x0008103E, "LO"),
    "ProtocolName": (0x00181030, "LO"), "ImageType": (0x00080008, "CS"), "SeriesNumber": (0x00200011, "IS"),
    "InstanceNumber": (0x00200013, "IS"), "AcquisitionNumber": (0x00200012, "IS"), "EchoNumbers": (0x00180086, "IS"),
    "TemporalPositionIdentifier": (0x00200100, "IS"), "NumberOfTemporalPositions": (0x00200105, "IS"),
    "TriggerTime": (0x00181060, "DS"), "ImagePositionPatient": (0x00200032, "DS"),
    "ImageOrientationPatient": (0x00200037, "DS"), "PixelSpacing": (0x00280030, "DS"), "SliceThickness": (0x00180050, "DS"),
    "SpacingBetweenSlices": (0x00180088, "DS"), "Rows": (0x00280010, "US"), "Columns": (0x00280011, "US"),
    "BitsAllocated": (0x00280100, "US"), "SamplesPerPixel": (0x00280002, "US"), "NumberOfFrames": (0x00280008, "IS"),
    "PhotometricInterpretation": (0x00280004, "CS"),
    "RepetitionTime": (0x00180080, "DS"), "EchoTime": (0x00180081, "DS"), "InversionTime": (0x00180082, "DS"),
    "FlipAngle": (0x00181314, "DS"), "ScanningSequence": (0x00180020, "CS"), "SequenceVariant": (0x00180021, "CS"),
    "MagneticFieldStrength": (0x00180087, "DS"), "ContrastBolusAgent": (0x00180010, "LO"),
    "ContrastBolusRoute": (0x00181040, "LO"), "DiffusionBValue": (0x00189087, "FD"),
}  # fmt: skip
KEYWORDS = tuple(FIELDS)
#: Vendor b-values: (private creator tag, creator, value tag, VR). Siemens "B_value", GE "Slop_int_6" (its first
#: value; some versions add 10⁹), Philips "Diffusion B-Factor".
PRIVATE_B_VALUES = (
    (0x00190010, "SIEMENS MR HEADER", 0x0019100C, "IS"),
    (0x00430010, "GEMS_PARM_01", 0x00431039, "IS"),
    (0x20010010, "PHILIPS IMAGING DD 001", 0x20011003, "FL"),
)
#: Every top-level tag a reader hands to :func:`assembleHeader`, with the VR used where the file gives none.
WANTED_VRS: dict[int, str] = {
    **{tag: vr for tag, vr in FIELDS.values()},
    **{creator: "LO" for creator, _, _, _ in PRIVATE_B_VALUES},
    **{tag: vr for _, _, tag, vr in PRIVATE_B_VALUES},
}
_KEYWORD_OF = {tag: (keyword, vr) for keyword, (tag, vr) in FIELDS.items()}
PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
#: SOP classes that hold no pixel data by design (structure sets, reports, plans, presentation states, documents).
NON_IMAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.88.",
    "1.2.840.10008.5.1.4.1.1.11.", "1.2.840.10008.5.1.4.1.1.66.1", "1.2.840.10008.5.1.4.1.1.66.2",
    "1.2.840.10008.5.1.4.1.1.66.3", "1.2.840.10008.5.1.4.1.1.104.", "1.2.840.10008.5.1.4.1.1.9.",
)  # fmt: skip
_TEXT_VRS = {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
_BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
RawElements = dict[int, tuple[str | None, bytes]]
#: Decoded values by (tag, VR, bytes): most values repeat in every file of a series.
_decoded: dict[tuple, Any] = {}


def readHeaders(paths: list[str]) -> list[tuple]:
    """:func:`readHeader` of each path as compact tuples (one task of the index's pool; :func:`headerFromTuple`)."""
    return [headerToTuple(readHeader(path)) for path in paths]


def readHeader(path: str) -> dict[str, Any]:
    """The header of ``path`` as ``{"path", keyword: value, "transferSyntax"}`` (numbers as floats or ints,
    multi-values as tuples; ``pixelProblem`` and ``references`` where they apply), or ``{"path", "problem":
    reason}`` for a file that is not a DICOM image or object. The fast parser reads it when it can, pydicom
    otherwise; both give the same dictionary."""
    from VirtualBiopsy.dicom.headerParser import parseRawHeader

    raw = parseRawHeader(path)
    if raw is None:
        return readHeaderWithPydicom(path)
    return assembleHeader(path, *raw)


def readHeaderWithPydicom(path: str) -> dict[str, Any]:
    """:func:`readHeader` through pydicom only (the fallback, and the reference the fast parser is tested on)."""
    pydicom = requirePackage("pydicom")
    try:
        with open(path, "rb") as file:
            dataset = pydicom.dcmread(file, stop_before_pixels=True)
            size = os.fstat(file.fileno()).st_size
            meta = getattr(dataset, "file_meta", None)
            syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
            pixel = None
            if syntax in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN) or _encapsulated(syntax):
                pixel = pixelElement(file.read(12), syntax != IMPLICIT_LITTLE_ENDIAN, file.tell() - 12)
    except pydicom.errors.InvalidDicomError:
        return {"path": path, "problem": "not_dicom: no DICOM preamble (DICM) and no file meta information"}
    except Exception as error:  # a truncated or corrupt file: reported, the rest is indexed
        return {"path": path, "problem": f"unreadable: {type(error).__name__}: {error}"}
    storageClass = str(getattr(meta, "MediaStorageSOPClassUID", "") or "")
    littleEndian = syntax in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN) or _encapsulated(syntax)
    cut = None if syntax == DEFLATED else _cutElement(dataset, size, littleEndian and pixel is None)
    if cut is not None:
        return {"path": path, "problem": f"truncated: {cut} (a file of {size} bytes)"}
    raw: RawElements = {}
    for tag in WANTED_VRS:
        if tag in dataset:
            element = dataset.get_item(tag)
            value = element.value
            if isinstance(value, bytes) or value is None or (isinstance(value, (str, list)) and not value):
                raw[tag] = (element.VR, value or b"")  # pydicom converts empty values when it reads them
                if syntax == BIG_ENDIAN:
                    raw[tag] = (element.VR, _littleEndian(element.VR or WANTED_VRS[tag], raw[tag][1]))
            else:
                return {"path": path, "problem": f"unreadable: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) not raw"}
    header = assembleHeader(path, syntax, storageClass, raw, pixel, size)
    if "problem" not in header:
        try:
            _addSequenceValues(header, dataset)
        except Exception as error:  # a sequence that cannot be parsed
            return {"path": path, "problem": f"unreadable: a sequence: {type(error).__name__}: {error}"}
    return header


def assembleHeader(
    path: str,
    syntax: str,
    storageClass: str,
    raw: RawElements,
    pixel: tuple[int, int, int] | None,
    size: int,
) -> dict[str, Any]:
    """The header dictionary from raw top-level elements, the pixel data element ``(tag, length, value offset)``
    (``None`` when the dataset has none) and the file size; the one place both readers' values are decoded."""
    if storageClass == DICOMDIR_CLASS or os.path.basename(path).upper() == "DICOMDIR":
        return {"path": path, "problem": "dicomdir: a DICOMDIR (directory records, not an image)"}
    header: dict[str, Any] = {"path": path, "transferSyntax": syntax}
    for tag, (vr, data) in raw.items():
        if tag not in _KEYWORD_OF:
            continue
        keyword, dictionaryVr = _KEYWORD_OF[tag]
        key = (tag, vr, data)
        value = _decoded.get(key, _decoded)
        if value is _decoded:
            try:
                value = decodeValue(vr or dictionaryVr, data, dictionaryVr)
            except Exception as error:  # an element whose value cannot be parsed
                return {"path": path, "problem": f"unreadable: {keyword}: {error}"}
            if len(_decoded) > 20000:
                _decoded.clear()
            _decoded[key] = value
        if value is not None and value != "":
            header[keyword] = value
    if "SeriesInstanceUID" not in header:
        return {"path": path, "problem": "no_series_uid: a DICOM file without SeriesInstanceUID"}
    if "DiffusionBValue" not in header:
        for creatorTag, creator, tag, vr in PRIVATE_B_VALUES:
            if tag in raw and creatorTag in raw:
                try:
                    owner = decodeValue(raw[creatorTag][0] or "LO", raw[creatorTag][1], "LO")
                    value = decodeValue(raw[tag][0] or vr, raw[tag][1], vr)
                except Exception:
                    continue
                first = value[0] if isinstance(value, tuple) else value
                if str(owner).upper() == creator and isinstance(first, (int, float)):
                    header["DiffusionBValue"] = float(first % 1_000_000_000 if first >= 1_000_000_000 else first)
                    break
    problem = _pixelProblem(header, syntax, pixel, size)
    if problem:
        header["pixelProblem"] = problem
    return header


def decodeValue(vr: str, data: bytes, dictionaryVr: str) -> Any:
    """A little-endian element value as str, int, float or a tuple of them (``None`` when empty). ``UN`` values
    are decoded with the data dictionary's VR."""
    if vr == "UN":
        vr = dictionaryVr
    if vr == "DS" or vr == "IS":
        items = data.decode("ascii").strip(" \x00").split("\\")
        convert = float if vr == "DS" else _integer
        numbers = tuple(convert(item) for item in items if item.strip())
        return numbers[0] if len(numbers) == 1 else (numbers or None)
    if vr in _TEXT_VRS:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        if "\\" not in text:
            return text.strip(" \x00")
        return tuple(item.strip(" \x00") for item in text.split("\\"))
    if vr in _BINARY:
        code = _BINARY[vr]
        count = len(data) // struct.calcsize(code)
        if count == 0:
            return None
        numbers = struct.unpack(f"<{count}{code}", data[: count * struct.calcsize(code)])
        if vr in ("FL", "FD"):
            numbers = tuple(float(number) for number in numbers)
        return numbers[0] if count == 1 else numbers
    raise ValueError(f"value representation {vr!r} is not one the index decodes")


def pixelElement(data: bytes, explicit: bool, offset: int) -> tuple[int, int, int] | None:
    """``(tag, length, value offset)`` of the pixel data element whose first bytes ``data`` start at ``offset``
    in the file, or ``None`` when ``data`` does not start with a pixel data tag (the end of the file)."""
    if len(data) < 8:
        return None
    group, element = struct.unpack_from("<HH", data)
    tag = group << 16 | element
    if tag not in PIXEL_TAGS:
        return None
    if explicit:
        if len(data) < 12:
            return None
        return tag, struct.unpack_from("<I", data, 8)[0], offset + 12
    return tag, struct.unpack_from("<I", data, 4)[0], offset + 8


def headerToTuple(header: dict[str, Any]) -> tuple:
    """A header as a compact tuple (cheaper to send between processes than a dictionary)."""
    if "problem" in header:
        return (header["path"], header["problem"])
    return (header["path"], None, *(header.get(key) for key in _TUPLE_KEYS))


def headerFromTuple(values: tuple) -> dict[str, Any]:
    """The header dictionary of :func:`headerToTuple`'s tuple."""
    if values[1] is not None:
        return {"path": values[0], "problem": values[1]}
    header = {key: value for key, value in zip(_TUPLE_KEYS, values[2:]) if value is not None}
    header["path"] = values[0]
    return header


_TUPLE_KEYS = ("transferSyntax", *KEYWORDS, "pixelProblem", "references")


def _pixelProblem(header: dict[str, Any], syntax: str, pixel: tuple[int, int, int] | None, size: int) -> str | None:
    """Why the pixel data of an image is absent or cut short, from the header only (``None``: no problem seen)."""
    sopClass = str(header.get("SOPClassUID", ""))
    if pixel is None:
        if syntax in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN) or _encapsulated(syntax):
            if sopClass.startswith("1.2.840.10008.5.1.4.1.1.") and not sopClass.startswith(NON_IMAGE_CLASSES):
                return f"no Pixel Data (7FE0,0010) in an image of SOP class {sopClass}"
        return None
    tag, length, valueOffset = pixel
    if length == 0xFFFFFFFF or syntax not in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN) or tag != 0x7FE00010:
        return None
    rows, columns, bits = (header.get(key) for key in ("Rows", "Columns", "BitsAllocated"))
    if not (isinstance(rows, int) and isinstance(columns, int) and isinstance(bits, int)):
        return None
    frames, samples = header.get("NumberOfFrames", 1), header.get("SamplesPerPixel", 1)
    frames, samples = (value if isinstance(value, int) and value > 0 else 1 for value in (frames, samples))
    expected = math.ceil(rows * columns * bits * frames * samples / 8)
    if header.get("PhotometricInterpretation") == "YBR_FULL_422":
        expected = expected * 2 // 3  # two chroma samples shared by every two pixels
    available = min(length, max(0, size - valueOffset))
    if available < expected:
        return (
            f"pixel data cut: {available} of {expected} bytes (Rows {rows} × Columns {columns} × "
            f"{bits} bits × {samples} samples × {frames} frames)"
        )
    return None


def _encapsulated(syntax: str) -> bool:
    """A compressed (encapsulated) transfer syntax, whose dataset is explicit VR little endian."""
    return syntax.startswith(("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.98"))


def _cutElement(dataset: Any, size: int, leftover: bool) -> str | None:
    """Where the file is cut inside its header (pydicom reads a cut value or element silently), or ``None``;
    ``leftover``: bytes after the last whole element (no pixel data follows) count as a cut."""
    meta = getattr(dataset, "file_meta", None)
    elements = [*(meta.elements() if meta is not None else ()), *dataset.elements()]
    last = None
    for element in elements:
        tell, length = getattr(element, "value_tell", None), getattr(element, "length", 0)
        if tell is None or length == 0xFFFFFFFF:
            last = None
            continue
        if tell + length > size:
            return f"the file ends inside element ({element.tag >> 16:04X},{element.tag & 0xFFFF:04X})"
        last = (element.tag, tell + length) if last is None or tell + length >= last[1] else last
    if leftover and last is not None and last[1] < size:
        return f"{size - last[1]} byte(s) after the last whole element ({last[0] >> 16:04X},{last[0] & 0xFFFF:04X})"
    return None


def _littleEndian(vr: str, data: bytes) -> bytes:
    """A big-endian binary value in little-endian byte order (text values are unchanged)."""
    if vr not in _BINARY:
        return data
    width = struct.calcsize(_BINARY[vr])
    return b"".join(data[start : start + width][::-1] for start in range(0, len(data) - width + 1, width))


def _integer(item: str) -> int:
    try:
        return int(item)
    except ValueError:
        number = float(item)
        if not number.is_integer():
            raise
        return int(number)


def _addSequenceValues(header: dict[str, Any], dataset: Any) -> None:
    """Referenced series (RTSTRUCT, SEG, SR) and, for enhanced multi-frame images, b-values and the plane
    orientation from the functional groups; the fast parser never reads these files."""
    references: list[str] = []
    for frame in dataset.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            references += [str(s.get("SeriesInstanceUID", "")) for s in study.get("RTReferencedSeriesSequence", [])]
    for series in dataset.get("ReferencedSeriesSequence", []):
        references.append(str(series.get("SeriesInstanceUID", "")))
    for study in dataset.get("CurrentRequestedProcedureEvidenceSequence", []):
        references += [str(s.get("SeriesInstanceUID", "")) for s in study.get("ReferencedSeriesSequence", [])]
    references = list(dict.fromkeys(reference for reference in references if reference))
    if references:
        header["references"] = tuple(references)
    groups = [*dataset.get("SharedFunctionalGroupsSequence", []), *dataset.get("PerFrameFunctionalGroupsSequence", [])]
    bValues = sorted(
        {float(d.DiffusionBValue) for g in groups for d in g.get("MRDiffusionSequence", []) if "DiffusionBValue" in d}
    )
    if bValues and "DiffusionBValue" not in header:
        header["DiffusionBValue"] = bValues[0] if len(bValues) == 1 else tuple(bValues)
    for group in groups:
        for plane in group.get("PlaneOrientationSequence", []):
            if "ImageOrientationPatient" in plane and "ImageOrientationPatient" not in header:
                header["ImageOrientationPatient"] = tuple(float(value) for value in plane.ImageOrientationPatient)
