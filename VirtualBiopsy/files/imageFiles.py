"""Reading a user's image file: its header checked against its size before any voxel is read.

SimpleITK reads a truncated ``.nii.gz`` without complaint (the missing voxels become 0) and allocates whatever a
header declares (a 100-byte file may claim 10¹² voxels). :func:`checkImageFile` refuses both before the read:
a NIfTI file must be as long as its header says (for ``.nii.gz``, the gzip trailer's length is compared, or the
stream is decompressed to count), and a NRRD or MHA file cannot declare more voxel data than deflate, their
compression, can pack into its size (at most 1032 bytes from one).
"""

from __future__ import annotations

import gzip
import os
import pathlib
import struct
import zlib

import SimpleITK as sitk

from VirtualBiopsy.errors import InputError

#: The most bytes deflate turns one compressed byte into (zlib's technical notes), with a margin for headers.
MAXIMUM_EXPANSION = 1100
#: The size of a NIfTI-1 header (the NIfTI-2 files SimpleITK cannot read are left to its reader).
_NIFTI_HEADER = 348
_FIX = "give a volume SimpleITK reads (NRRD, NIfTI, MHA/MHD)"


def readImageFile(path: str | os.PathLike, what: str, fix: str = _FIX) -> sitk.Image:
    """Read an image file with SimpleITK (voxel order kept) after :func:`checkImageFile`.

    :param what: what the file is, for messages (e.g. ``"image"``, ``"mask"``).
    :param fix: what to give instead, for the message of an unreadable file.
    :raises InputError: for a missing, unreadable, truncated or implausible file.
    """
    path = pathlib.Path(path)
    checkImageFile(path, what, fix)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"Cannot read the {what} file {path} ({readerComplaint(error)}); {fix}.") from error


def checkImageFile(path: str | os.PathLike, what: str, fix: str = _FIX) -> sitk.ImageFileReader:
    """Check that ``path`` exists, has a readable header, and holds the voxel data its header declares.

    :returns: the reader with the header's information read.
    :raises InputError: naming the file, what is wrong and the fix.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"The {what} file {path} was not found; check the path.")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise InputError(f"Cannot read the {what} file {path} ({readerComplaint(error)}); {fix}.") from error
    name = path.name.lower()
    if name.endswith(".nii") or name.endswith(".nii.gz"):
        _requireCompleteNifti(path, what)
    elif (name.endswith(".nrrd") or name.endswith(".mha")) and not _detachedData(path):
        voxels = 1
        for extent in reader.GetSize():
            voxels *= int(extent)
        declared = voxels * reader.GetNumberOfComponents() * _bytesPerComponent(reader.GetPixelID())
        fileSize = path.stat().st_size
        if declared > fileSize * MAXIMUM_EXPANSION:
            raise InputError(
                f"The {what} file {path} is damaged: its header declares {voxels:,} voxels ({_size(declared)} of "
                f"data) but the file holds {_size(fileSize)}, more than compression can pack into it. It is "
                f"truncated or not what its header says; copy it again from its source, or {fix}."
            )
    return reader


def readerComplaint(error: RuntimeError) -> str:
    """The most specific line of a SimpleITK/ITK reader exception."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1].replace("sitk::ERROR: ", "").replace("itk::ERROR: ", "").rstrip(".") if lines else str(error)


def _bytesPerComponent(pixelId: int) -> int:
    return int(sitk.GetArrayViewFromImage(sitk.Image([1, 1], pixelId)).dtype.itemsize)


def _detachedData(path: pathlib.Path) -> bool:
    """Whether a NRRD or MHA header names another file for its voxels (``data file:``, ``ElementDataFile = X``)."""
    with open(path, "rb") as stream:
        head = stream.read(1 << 16)
    for raw in head.split(b"\n"):
        line = raw.decode("latin-1").strip().lower()
        if not line:
            return False  # the end of a NRRD header
        key, _, value = line.replace("=", ":", 1).partition(":")
        if key.strip() in ("data file", "datafile"):
            return True
        if key.strip() == "elementdatafile":
            return value.strip() != "local"
    return False


def _requireCompleteNifti(path: pathlib.Path, what: str) -> None:
    """Refuse a NIfTI file (``.nii`` or ``.nii.gz``) that ends before the voxels its header declares."""
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
            required = _niftiLength(stream.read(_NIFTI_HEADER))
    except (EOFError, OSError, zlib.error):
        return  # not a NIfTI header we can read: the reader has the last word
    if required is None:
        return
    if not compressed:
        length = path.stat().st_size
    else:
        with open(path, "rb") as stream:
            stream.seek(-4, os.SEEK_END)
            (recordedLength,) = struct.unpack("<I", stream.read(4))
        if recordedLength == required % (1 << 32):
            return  # the gzip trailer records the length of a complete file: no need to decompress it
        length = 0
        try:
            with gzip.open(path, "rb") as stream:
                while chunk := stream.read(1 << 16):
                    length += len(chunk)
        except (EOFError, OSError, zlib.error) as error:
            raise InputError(
                f"The {what} file {path} is damaged: its compressed data end early or are corrupt ({error}), before "
                f"the {_size(required)} its header declares. Copy it again from its source."
            ) from error
    if length < required:
        raise InputError(
            f"The {what} file {path} is damaged: it holds {_size(length)} but its header declares "
            f"{_size(required)} (header and voxels); it was cut short. Copy it again from its source."
        )


def _niftiLength(header: bytes) -> int | None:
    """The length of a complete NIfTI-1 file from its header: voxel offset + voxels × bytes per voxel;
    ``None`` for bytes that are not such a header."""
    for order in "<>":
        if len(header) >= _NIFTI_HEADER and struct.unpack(f"{order}i", header[:4])[0] == _NIFTI_HEADER:
            dims = struct.unpack(f"{order}8h", header[40:56])
            bitpix = struct.unpack(f"{order}h", header[72:74])[0]
            offset = int(struct.unpack(f"{order}f", header[108:112])[0])
        else:
            continue
        if not 1 <= dims[0] <= 7 or bitpix <= 0 or any(extent < 1 for extent in dims[1 : dims[0] + 1]):
            return None
        voxels = 1
        for extent in dims[1 : dims[0] + 1]:
            voxels *= int(extent)
        return max(offset, _NIFTI_HEADER) + voxels * bitpix // 8
    return None


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
