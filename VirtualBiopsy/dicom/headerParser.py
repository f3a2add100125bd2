"""A fast reader of the common DICOM header: the raw elements the index needs, straight from the bytes.

It reads only the start of the file (16 KiB reads; further reads only where an
element lies beyond them) and walks the elements up to the pixel data, skipping
every value it does not need: a defined length by arithmetic, an undefined-length
sequence by following its items and delimiters (nesting included). It handles a
Part 10 file (128-byte preamble, ``DICM``, explicit VR little endian meta group)
of a single-frame image class (MR, CT, PET, CR, secondary capture) whose dataset
is implicit or explicit VR little endian (every compressed syntax included: their
datasets are explicit VR little endian). Anything else, or anything unusual (an
element out of order, an unknown VR, a value past the end of the file, a wanted
element with an undefined length), returns ``None`` and the caller reads the file
with pydicom (:func:`.headers.readHeaderWithPydicom`), so that the result never
depends on which reader ran. pydicom is not imported here.
"""

from __future__ import annotations

import os
import struct

from VirtualBiopsy.dicom.headers import (
    EXPLICIT_LITTLE_ENDIAN,
    IMPLICIT_LITTLE_ENDIAN,
    PIXEL_TAGS,
    WANTED_VRS,
    RawElements,
)

#: Bytes per read.
CHUNK = 16384
#: SOP classes of single-frame images: MR, CT, secondary capture, PET, CR.
FAST_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.128",
        "1.2.840.10008.5.1.4.1.1.1",
    }
)
#: Compressed transfer syntaxes (JPEG, JPEG-LS, JPEG 2000, RLE, HTJ2K): datasets in explicit VR little endian.
_COMPRESSED = frozenset(
    {f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81, 90, 91, 201, 202, 203)} | {"1.2.840.10008.1.2.5"}
)
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS",
     b"ST", b"TM", b"UI", b"UL", b"US"}
)  # fmt: skip
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_TAG = struct.Struct("<HH")
_UINT16 = struct.Struct("<H")
_UINT32 = struct.Struct("<I")
_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHI")
_VR_NAMES = {vr: vr.decode("ascii") for vr in _LONG_VRS | _SHORT_VRS}
_HEADER_OF_VR = {**{vr: 8 for vr in _SHORT_VRS}, **{vr: 12 for vr in _LONG_VRS}}

RawHeader = tuple[str, str, RawElements, "tuple[int, int, int] | None", int]


class _Unusual(Exception):
    """The file is not the common case: pydicom reads it."""


def parseRawHeader(path: str) -> RawHeader | None:
    """``(transfer syntax, storage SOP class, raw elements, pixel data element, file size)`` of ``path``, where
    the raw elements are the top-level :data:`~.headers.WANTED_VRS` as ``tag → (VR or None, value bytes)`` and the
    pixel data element ``(tag, length, value offset)`` or ``None``; ``None`` for a file it leaves to pydicom."""
    if os.path.basename(path).upper() == "DICOMDIR":
        return None
    try:
        with open(path, "rb") as file:
            return _parse(_Buffer(file, os.fstat(file.fileno()).st_size))
    except (_Unusual, struct.error, UnicodeDecodeError, ValueError, OSError, RecursionError):
        return None


class _Buffer:
    """A window on the file: ``ensure`` makes ``count`` bytes at a file position available in ``data``."""

    __slots__ = ("file", "size", "data", "start")

    def __init__(self, file, size: int):
        self.file, self.size = file, size
        self.data, self.start = file.read(CHUNK), 0

    def ensure(self, position: int, count: int) -> int:
        """The offset in ``data`` of the file's bytes ``[position, position + count)``."""
        if position + count > self.size:
            raise _Unusual
        offset = position - self.start
        if offset < 0 or offset + count > len(self.data):
            self.file.seek(position)
            self.data, self.start, offset = self.file.read(max(count, CHUNK)), position, 0
            if len(self.data) < count:
                raise _Unusual
        return offset

    def bytes(self, position: int, count: int) -> bytes:
        offset = self.ensure(position, count)
        return self.data[offset : offset + count]


def _parse(buffer: _Buffer) -> RawHeader:
    if buffer.bytes(128, 4) != b"DICM":
        raise _Unusual
    position, meta = 132, {}
    while _TAG.unpack_from(buffer.data, buffer.ensure(position, 4))[0] == 0x0002:
        tag, vr, length, header = _element(buffer, position, True)
        if length == _UNDEFINED:
            raise _Unusual
        if tag in (0x00020002, 0x00020010):
            meta[tag] = buffer.bytes(position + header, length).decode("ascii").rstrip("\x00 ")
        position += header + length
    syntax, storageClass = meta.get(0x00020010, ""), meta.get(0x00020002, "")
    if storageClass not in FAST_CLASSES:
        raise _Unusual
    if syntax not in (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN) and syntax not in _COMPRESSED:
        raise _Unusual
    explicit = syntax != IMPLICIT_LITTLE_ENDIAN
    if not explicit and buffer.bytes(position + 4, 2) in _LONG_VRS | _SHORT_VRS:
        raise _Unusual  # says implicit but looks explicit: pydicom's guess decides
    raw: RawElements = {}
    previous, pixel, size, wanted = -1, None, buffer.size, WANTED_VRS
    data, dataStart, dataEnd = buffer.data, buffer.start, len(buffer.data)
    while position < size:
        offset = position - dataStart
        if offset < 0 or offset + 12 > dataEnd:
            offset = buffer.ensure(position, min(12, size - position))
            data, dataStart, dataEnd = buffer.data, buffer.start, len(buffer.data)
        if explicit:
            group, element, vrBytes, length = _EXPLICIT_SHORT.unpack_from(data, offset)
            header = _HEADER_OF_VR.get(vrBytes, 0)
            if header == 12:
                length = _UINT32.unpack_from(data, offset + 8)[0]
            elif header == 0:
                raise _Unusual
        else:
            group, element, length = _IMPLICIT.unpack_from(data, offset)
            vrBytes, header = None, 8
        tag = group << 16 | element
        if tag <= previous:
            raise _Unusual
        previous = tag
        if tag >= 0x7FE00008:
            if tag in PIXEL_TAGS:
                pixel = (tag, length, position + header)
                break
            if group == 0xFFFE:
                raise _Unusual
        position += header
        if length == _UNDEFINED:
            if tag in wanted or (explicit and vrBytes not in (b"SQ", b"UN")):
                raise _Unusual
            position = _skipSequence(buffer, position, explicit and vrBytes != b"UN")
            data, dataStart, dataEnd = buffer.data, buffer.start, len(buffer.data)
            continue
        if tag in wanted:
            if vrBytes == b"SQ":
                raise _Unusual
            vr = None if vrBytes is None else _VR_NAMES[vrBytes]
            offset = position - dataStart
            if offset + length > dataEnd:
                raw[tag] = (vr, buffer.bytes(position, length))
                data, dataStart, dataEnd = buffer.data, buffer.start, len(buffer.data)
            else:
                raw[tag] = (vr, data[offset : offset + length])
        position += length
        if position > size:
            raise _Unusual
    return syntax, storageClass, raw, pixel, buffer.size


def _element(buffer: _Buffer, position: int, explicit: bool) -> tuple[int, str | None, int, int]:
    """``(tag, VR or None, length, header length)`` of the element at ``position``."""
    offset = buffer.ensure(position, 8)
    data = buffer.data
    group, element = _TAG.unpack_from(data, offset)
    if not explicit:
        return group << 16 | element, None, _UINT32.unpack_from(data, offset + 4)[0], 8
    vr = data[offset + 4 : offset + 6]
    if vr in _SHORT_VRS:
        return group << 16 | element, vr.decode("ascii"), _UINT16.unpack_from(data, offset + 6)[0], 8
    if vr not in _LONG_VRS:
        raise _Unusual
    offset = buffer.ensure(position, 12)
    return group << 16 | element, vr.decode("ascii"), _UINT32.unpack_from(buffer.data, offset + 8)[0], 12


def _skipSequence(buffer: _Buffer, position: int, explicit: bool) -> int:
    """The position after the undefined-length sequence (or encapsulated value) whose items start at ``position``."""
    while True:
        offset = buffer.ensure(position, 8)
        group, element = _TAG.unpack_from(buffer.data, offset)
        length = _UINT32.unpack_from(buffer.data, offset + 4)[0]
        tag, position = group << 16 | element, position + 8
        if tag == _SEQUENCE_END:
            return position
        if tag != _ITEM:
            raise _Unusual
        if length == _UNDEFINED:
            position = _skipItem(buffer, position, explicit)
        else:
            position += length
            if position > buffer.size:
                raise _Unusual


def _skipItem(buffer: _Buffer, position: int, explicit: bool) -> int:
    """The position after the undefined-length item whose elements start at ``position``."""
    while True:
        offset = buffer.ensure(position, 8)
        group, element = _TAG.unpack_from(buffer.data, offset)
        if group << 16 | element == _ITEM_END:
            return position + 8
        _, vr, length, header = _element(buffer, position, explicit)
        position += header
        if length == _UNDEFINED:
            position = _skipSequence(buffer, position, explicit and vr != "UN")
        else:
            position += length
            if position > buffer.size:
                raise _Unusual
