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

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError

#: Two slices closer than this fraction of the typical spacing share a position (a duplicate).
DUPLICATE_FRACTION = 0.01
#: A distance this many times the typical spacing means missing slices.
GAP_FACTOR = 1.5
#: Distances that differ from the typical spacing by more than this fraction are uneven.
UNEVEN_FRACTION = 0.01
#: Largest difference of orientation cosines or pixel spacings (mm) between slices of one series.
HEADER_TOLERANCE = 1e-4
#: Largest sideways drift of slice positions per slice, as a fraction of the slice spacing.
DRIFT_FRACTION = 0.01

_POSITION, _ORIENTATION, _SERIES = "0020|0032", "0020|0037", "0020|000e"
_ROWS, _COLUMNS, _PIXEL_SPACING = "0028|0010", "0028|0011", "0028|0030"
_BITS, _SAMPLES, _FRAMES = "0028|0100", "0028|0002", "0028|0008"


@dataclass(frozen=True)
class SliceHeader:
    """What one slice's header says."""

    path: pathlib.Path
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    size: tuple[int, int]
    pixelSpacing: tuple[float, ...] | None
    pixelBytes: int


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
    check.problems += _mixedHeaders(headers)
    spacing, positionProblems = _positions(headers)
    check.sliceSpacing = spacing
    check.problems += positionProblems
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


def _mixedHeaders(headers: list[SliceHeader]) -> list[str]:
    problems = []
    for label, getter in (
        ("orientations (ImageOrientationPatient)", lambda header: header.orientation),
        ("sizes (Columns×Rows)", lambda header: header.size),
        ("pixel spacings (PixelSpacing)", lambda header: header.pixelSpacing),
    ):
        groups: dict[tuple, list[str]] = {}
        for header in headers:
            value = getter(header)
            key = next(
                (known for known in groups if _same(known, value)),
                tuple(value) if value is not None else (),
            )
            groups.setdefault(key, []).append(header.path.name)
        if len(groups) > 1:
            shown = "; ".join(f"{_plain(key)}: {_names(names)}" for key, names in groups.items())
            problems.append(f"slices of different {label}: {shown}")
    missing = [header.path.name for header in headers if header.position is None or header.orientation is None]
    if missing:
        problems.append(
            f"slices without a position or orientation (ImagePositionPatient/ImageOrientationPatient): {_names(missing)}"
        )
    return problems


def _positions(headers: list[SliceHeader]) -> tuple[float | None, list[str]]:
    """The typical slice spacing, and the problems of the slices' positions along the slice normal."""
    placed = [header for header in headers if header.position is not None and header.orientation is not None]
    if len(placed) < 2 or len(placed[0].orientation or ()) != 6:
        return None, []
    orientation = np.asarray(placed[0].orientation, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.asarray([header.position for header in placed], dtype=float)
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    placed, positions, distances = [placed[i] for i in order], positions[order], distances[order]
    steps = np.diff(distances)
    nonZero = steps[steps > 1e-6]
    if not nonZero.size:
        return None, [f"all {len(placed)} slices share one position ({_position(distances[0])})"]
    spacing = float(np.median(nonZero))
    problems = []
    duplicates, gaps, uneven = [], [], []
    for index, step in enumerate(steps):
        before, after = placed[index].path.name, placed[index + 1].path.name
        where = f"{before} and {after} ({_position(distances[index])}, {_position(distances[index + 1])})"
        if step < DUPLICATE_FRACTION * spacing:
            duplicates.append(f"{before} and {after} at {_position(distances[index])}")
        elif step > GAP_FACTOR * spacing:
            gaps.append(f"between {where}: {step:.4g} mm, about {round(step / spacing) - 1} slice(s)")
        elif abs(step - spacing) > UNEVEN_FRACTION * spacing:
            uneven.append(f"{step:.4g} mm between {where}")
    if duplicates:
        problems.append(f"duplicated slice positions: {'; '.join(duplicates)}")
    if gaps:
        problems.append(f"missing slices (typical spacing {spacing:.4g} mm) {'; '.join(gaps)}")
    if uneven:
        problems.append(f"uneven slice spacing (typical {spacing:.4g} mm): {'; '.join(uneven)}")
    sideways = positions[-1] - positions[0] - (distances[-1] - distances[0]) * normal
    drift = float(np.linalg.norm(sideways)) / (len(placed) - 1)
    if drift > DRIFT_FRACTION * spacing:
        tilt = math.degrees(math.atan2(float(np.linalg.norm(sideways)), float(distances[-1] - distances[0])))
        problems.append(
            f"slice positions drift sideways by {drift:.3g} mm per slice (a gantry tilt or sheared stack of "
            f"{tilt:.3g}°), which a volume's grid cannot hold: resample it first (e.g. dcm2niix corrects gantry tilt)"
        )
    return spacing, problems


def _same(known: tuple, value) -> bool:
    if value is None or len(known) != len(value):
        return value is None and known == ()
    return bool(np.allclose(known, value, rtol=0.0, atol=HEADER_TOLERANCE))


def _plain(values: tuple) -> str:
    return "×".join(f"{value:g}" for value in values) if values else "none"


def _position(distance: float) -> str:
    return f"{distance:.4g} mm"


def _names(names: list[str], shown: int = 6) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
