"""DICOM series folders checked before they are loaded: every file read, every slice accounted for.

GDCM's series scanner skips files it cannot read, and ITK's series reader takes the mean distance
between the slices it has as the slice spacing: a 16-slice series with two corrupt files loaded as 14
slices 2.31 mm apart instead of 2 mm, without a word. :func:`checkDicomSeries` reads every file's header
(SimpleITK/GDCM, no pixels) first and lists, by file name and position:

- files that are not readable DICOM (corrupt, truncated, not DICOM), and DICOM files that are not images
  of the series (another object in the folder);
- missing slices (a gap wider than the typical spacing), duplicated positions, uneven spacing;
- slices of other orientations, sizes or pixel spacings, and slices that drift sideways (a gantry tilt or a
  sheared stack, which a volume's grid cannot represent);
- truncated pixel data (files smaller than their pixel data are read in full: compressed ones pass).

Hidden files (``.*``) and ``DICOMDIR`` are not slices and are ignored.
"""

from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass, field

import SimpleITK as sitk

from VirtualBiopsy.dicom.sliceChecks import (
    DRIFT_FRACTION,
    DUPLICATE_FRACTION,
    GAP_FACTOR,
    HEADER_TOLERANCE,
    UNEVEN_FRACTION,
    SliceHeader,
    checkPositions,
    mixedHeaderProblems,
)
from VirtualBiopsy.errors import InputError

__all__ = [
    "DRIFT_FRACTION",
    "DUPLICATE_FRACTION",
    "GAP_FACTOR",
    "HEADER_TOLERANCE",
    "UNEVEN_FRACTION",
    "SeriesCheck",
    "SliceHeader",
    "checkDicomSeries",
]

_POSITION, _ORIENTATION, _SERIES = "0020|0032", "0020|0037", "0020|000e"
_ROWS, _COLUMNS, _PIXEL_SPACING = "0028|0010", "0028|0011", "0028|0030"
_BITS, _SAMPLES, _FRAMES = "0028|0100", "0028|0002", "0028|0008"


@dataclass
class SeriesCheck:
    """The outcome of :func:`checkDicomSeries`.

    :ivar files: the series' files in slice order (as ITK's series reader orders them).
    :ivar sliceSpacing: the typical distance between slice positions (mm), or ``None`` for one slice.
    :ivar problems: one line per problem, naming files and positions; empty for a complete, regular series.
    """

    folder: pathlib.Path
    files: list[pathlib.Path]
    sliceSpacing: float | None = None
    problems: list[str] = field(default_factory=list)

    def require(self) -> None:
        """Raise :class:`InputError` listing every problem, and the fix, unless there is none."""
        if not self.problems:
            return
        listed = "; ".join(self.problems)
        raise InputError(
            f"DICOM series folder {self.folder} is not one complete, regular series ({len(self.files)} slice files): "
            f"{listed}. Nothing was loaded: a volume built from it would have missing slices or a wrong slice "
            "spacing. Export the series again from the scanner or PACS (every slice, nothing else in the folder); "
            "to load the readable slices anyway, at your own risk, pass acceptSeriesProblems=True to loadVolume."
        )


def checkDicomSeries(folder: str | os.PathLike) -> SeriesCheck:
    """Read every file's header in ``folder`` and check that they make one complete, regular series.

    :raises InputError: when the folder holds no DICOM series, or several (these are not "problems": nothing
        can be loaded).
    """
    folder = pathlib.Path(folder)
    seriesIds = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    if not seriesIds:
        raise InputError(
            f"No DICOM series found in folder {folder}. Give a folder with the DICOM files of one series, "
            "or a volume file (.nrrd, .nii.gz, .mha)."
        )
    if len(seriesIds) > 1:
        raise InputError(
            f"Folder {folder} holds {len(seriesIds)} DICOM series ({', '.join(seriesIds)}). "
            "Put each series in its own folder and load one folder."
        )
    files = [pathlib.Path(name) for name in sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), seriesIds[0])]
    check = SeriesCheck(folder, files)
    members = {path.name for path in files}
    headers: list[SliceHeader] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.upper() == "DICOMDIR" or not path.is_file():
            continue
        header, complaint = _readHeader(path)
        if header is None:
            check.problems.append(f"{path.name} is not readable DICOM ({complaint})")
        elif path.name not in members:
            check.problems.append(f"{path.name} is a DICOM file but not an image of series {seriesIds[0]}")
        else:
            headers.append(header)
    order = {path.name: index for index, path in enumerate(files)}
    headers.sort(key=lambda header: order[header.path.name])
    check.problems += _truncated(headers)
    check.problems += mixedHeaderProblems(headers)
    positions = checkPositions(headers)
    check.sliceSpacing = positions.spacing
    check.problems += positions.problems
    return check


def _readHeader(path: pathlib.Path) -> tuple[SliceHeader | None, str]:
    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[-1].split("): ")[-1] if lines else "unreadable"
        return None, reason.rstrip(".")

    def numbers(tag: str) -> tuple[float, ...] | None:
        if not reader.HasMetaDataKey(tag):
            return None
        try:
            values = tuple(float(value) for value in reader.GetMetaData(tag).strip().split("\\") if value.strip())
        except ValueError:
            return None
        return values or None

    def integer(tag: str, default: int) -> int:
        value = numbers(tag)
        return int(value[0]) if value else default

    size = (integer(_COLUMNS, 0), integer(_ROWS, 0))
    pixelBytes = size[0] * size[1] * math.ceil(integer(_BITS, 16) / 8) * integer(_SAMPLES, 1) * integer(_FRAMES, 1)
    header = SliceHeader(path, numbers(_POSITION), numbers(_ORIENTATION), size, numbers(_PIXEL_SPACING), pixelBytes)
    return header, ""


def _truncated(headers: list[SliceHeader]) -> list[str]:
    """Files smaller than their uncompressed pixel data are read in full; those that fail are truncated."""
    problems = []
    for header in headers:
        fileBytes = header.path.stat().st_size
        if fileBytes >= header.pixelBytes:
            continue
        try:
            sitk.ReadImage(str(header.path))
        except RuntimeError:
            problems.append(
                f"{header.path.name} is truncated ({fileBytes} bytes; its {header.size[0]}×{header.size[1]} pixels "
                f"need {header.pixelBytes} uncompressed, and it cannot be decoded)"
            )
    return problems
