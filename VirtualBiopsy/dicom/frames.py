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


def fileFrames(dataset: Any, path: pathlib.Path) -> list[Frame]:
    """The frames of ``dataset`` (read from ``path``), in the file's order."""
    size = (int(dataset.get("Columns", 0) or 0), int(dataset.get("Rows", 0) or 0))
    bytesPerPixel = (int(dataset.get("BitsAllocated", 16) or 16) + 7) // 8
    pixelBytes = size[0] * size[1] * bytesPerPixel * int(dataset.get("SamplesPerPixel", 1) or 1)
    sop = str(dataset.get("SOPInstanceUID", ""))
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


def filePixels(dataset: Any) -> np.ndarray:
    """The file's pixels as an array (frames, rows, columns), decoded as the transfer syntax says.

    :raises ValueError, NotImplementedError, RuntimeError: from pydicom when the data cannot be decoded.
    """
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    syntax = str(dataset.file_meta.get("TransferSyntaxUID", "")) if hasattr(dataset, "file_meta") else ""
    bits, stored = int(dataset.BitsAllocated), int(dataset.get("BitsStored", dataset.BitsAllocated))
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    if (
        syntax in NATIVE_LITTLE_ENDIAN
        and bits in (8, 16, 32)
        and int(dataset.get("SamplesPerPixel", 1)) == 1
        and (not signed or stored == bits)
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


def _number(source: Any, keyword: str, default: float | None) -> Any:
    values = _numbers(source, keyword)
    return values[0] if values else default
