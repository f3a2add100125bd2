"""The image frames of one DICOM file: geometry, rescale and pixels.

A classic image (MR, CT, ...) is one frame whose geometry is in the top-level
attributes; an enhanced multi-frame image (Enhanced MR, ...) has one item per frame in
``PerFrameFunctionalGroupsSequence`` (``PlanePositionSequence``) and the rest in
``SharedFunctionalGroupsSequence`` (``PlaneOrientationSequence``, ``PixelMeasuresSequence``,
``PixelValueTransformationSequence``), each of which may also be given per frame.
Pixels of uncompressed little-endian files are taken from the bytes as they are; compressed
transfer syntaxes go through pydicom's decoders (pylibjpeg, pyjpegls plugins).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np

from VirtualBiopsy.dicom.sliceChecks import SliceHeader

#: Transfer syntaxes whose pixel bytes are plain little-endian arrays.
NATIVE_LITTLE_ENDIAN = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99")


@dataclasses.dataclass
class Frame:
    """One 2D frame of a file: its header, rescale, and the index of its pixels in the file."""

    header: SliceHeader
    sopInstanceUid: str
    frameNumber: int | None
    slope: float
    intercept: float
    sliceThickness: float | None


@dataclasses.dataclass(frozen=True)
class PixelLayout:
    """How a file stores its pixels."""

    rows: int
    columns: int
    frames: int
    bitsAllocated: int
    bitsStored: int
    signed: bool
    samples: int
    transferSyntax: str


def pixelLayout(dataset: Any) -> PixelLayout:
    """The pixel attributes of ``dataset`` (raw little-endian values read from their bytes: pydicom's conversion is slow)."""
    meta = getattr(dataset, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    littleEndian = syntax != "1.2.840.10008.1.2.2"
    bits = _unsigned(dataset, 0x00280100, 16, littleEndian)
    frames = _numbers(dataset, "NumberOfFrames")
    return PixelLayout(
        rows=_unsigned(dataset, 0x00280010, 0, littleEndian),
        columns=_unsigned(dataset, 0x00280011, 0, littleEndian),
        frames=int(frames[0]) if frames else 1,
        bitsAllocated=bits,
        bitsStored=_unsigned(dataset, 0x00280101, bits, littleEndian),
        signed=_unsigned(dataset, 0x00280103, 0, littleEndian) == 1,
        samples=_unsigned(dataset, 0x00280002, 1, littleEndian),
        transferSyntax=syntax,
    )


def fileFrames(dataset: Any, path: pathlib.Path, layout: PixelLayout | None = None) -> list[Frame]:
    """The frames of ``dataset`` (read from ``path``), in the file's order."""
    layout = layout or pixelLayout(dataset)
    size = (layout.columns, layout.rows)
    pixelBytes = size[0] * size[1] * ((layout.bitsAllocated + 7) // 8) * layout.samples
    sop = _text(dataset, 0x00080018)
    perFrame = dataset.get("PerFrameFunctionalGroupsSequence")
    if not perFrame:
        return [
            Frame(
                SliceHeader(
                    path,
                    _numbers(dataset, "ImagePositionPatient"),
                    _numbers(dataset, "ImageOrientationPatient"),
                    size,
                    _numbers(dataset, "PixelSpacing"),
                    pixelBytes,
                ),
                sop,
                None,
                _number(dataset, "RescaleSlope", 1.0),
                _number(dataset, "RescaleIntercept", 0.0),
                _number(dataset, "SliceThickness", None),
            )
        ]
    sharedItems = dataset.get("SharedFunctionalGroupsSequence") or [None]
    shared = sharedItems[0]
    frames = []
    for index, item in enumerate(perFrame):

        def group(keyword: str, frameItem=item) -> Any:
            for source in (frameItem, shared):
                if source is not None and source.get(keyword):
                    return source.get(keyword)[0]
            return None

        position, orientation = group("PlanePositionSequence"), group("PlaneOrientationSequence")
        measures, transform = group("PixelMeasuresSequence"), group("PixelValueTransformationSequence")
        header = SliceHeader(
            path,
            _numbers(position, "ImagePositionPatient"),
            _numbers(orientation, "ImageOrientationPatient"),
            size,
            _numbers(measures, "PixelSpacing"),
            pixelBytes,
            label=f"{path.name}#frame{index + 1}",
        )
        frames.append(
            Frame(
                header,
                sop,
                index + 1,
                _number(transform, "RescaleSlope", 1.0),
                _number(transform, "RescaleIntercept", 0.0),
                _number(measures, "SliceThickness", None),
            )
        )
    return frames


def filePixels(dataset: Any, layout: PixelLayout | None = None) -> np.ndarray:
    """The file's pixels as an array (frames, rows, columns), decoded as the transfer syntax says.

    :raises ValueError, NotImplementedError, RuntimeError: from pydicom when the data cannot be decoded.
    """
    layout = layout or pixelLayout(dataset)
    rows, columns, frames, bits, signed = (
        layout.rows,
        layout.columns,
        layout.frames,
        layout.bitsAllocated,
        layout.signed,
    )
    if (
        layout.transferSyntax in NATIVE_LITTLE_ENDIAN
        and bits in (8, 16, 32)
        and layout.samples == 1
        and (not signed or layout.bitsStored == bits)
        and "PixelData" in dataset
    ):
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        count = rows * columns * frames
        raw = dataset.PixelData
        if len(raw) < count * dtype.itemsize:
            raise ValueError(
                f"the pixel data has {len(raw)} bytes, fewer than the {count * dtype.itemsize} its "
                f"{frames} frame(s) of {columns}×{rows} pixels need"
            )
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(frames, rows, columns)
    return np.asarray(dataset.pixel_array).reshape(frames, rows, columns)


def _numbers(source: Any, keyword: str) -> tuple[float, ...] | None:
    """A decimal or integer string's values; raw elements are parsed from their bytes (pydicom's conversion is slow)."""
    if source is None or keyword not in source:
        return None
    raw = source.get_item(keyword)
    data = getattr(raw, "value", None)
    if isinstance(data, bytes) and getattr(raw, "VR", None) in ("DS", "IS"):
        try:
            values = tuple(float(item) for item in data.decode("ascii").strip(" \x00").split("\\") if item.strip())
        except ValueError:
            return None
        return values or None
    value = source.get(keyword)
    if value is None or value == "":
        return None
    try:
        items = value if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else [value]
        values = tuple(float(item) for item in items)
    except (TypeError, ValueError):
        return None
    return values or None


def _unsigned(dataset: Any, tag: int, default: int, littleEndian: bool) -> int:
    if tag not in dataset:
        return default
    data = getattr(dataset.get_item(tag), "value", None)
    if isinstance(data, bytes) and littleEndian and len(data) == 2:
        return int.from_bytes(data, "little")
    value = dataset[tag].value
    return int(value) if value not in (None, "", b"") else default


def _text(dataset: Any, tag: int) -> str:
    if tag not in dataset:
        return ""
    data = getattr(dataset.get_item(tag), "value", None)
    if isinstance(data, bytes):
        return data.decode("ascii", "replace").strip(" \x00")
    return str(dataset[tag].value or "")


def _number(source: Any, keyword: str, default: float | None) -> Any:
    values = _numbers(source, keyword)
    return values[0] if values else default
