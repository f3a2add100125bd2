"""A DICOM series read into a SimpleITK image with exact LPS geometry (pydicom, numpy).

Classic single-frame series, enhanced multi-frame images and compressed transfer syntaxes
(JPEG lossless, JPEG-LS, JPEG 2000, RLE through pydicom's decoder plugins) all become one
3D image: slices sorted along the normal ``row × column`` (as ITK sorts them, so a
left-handed stack comes out right-handed, flipped along k), origin at the first slice,
slice spacing from the positions, direction (row, column, normal), rescale slope and
intercept applied (float32 when they change a value, otherwise the stored integer type).

Every slice is checked first, the same way :mod:`VirtualBiopsy.mrml.dicomSeries` checks a
folder (:mod:`VirtualBiopsy.dicom.sliceChecks`): unreadable or truncated files, pixels no
installed decoder reads, gaps, duplicates, mixed sizes or orientations and sideways drift
(gantry tilt) are refused with every problem listed. A tilted stack is resampled onto an
orthogonal grid only when asked (``resampleTilt=True``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.dicom.frames import Frame, fileFrames, filePixels, pixelLayout
from VirtualBiopsy.dicom.sliceChecks import checkPositions, mixedHeaderProblems, shortList
from VirtualBiopsy.dicom.tiltResampling import resampleTiltedStack
from VirtualBiopsy.errors import GeometryError, InputError, requirePackage

logger = logging.getLogger(__name__)

TILT_FIX = (
    "pass resampleTilt=True (command line: --resample-tilt) to resample it onto an orthogonal grid "
    "(linear interpolation), or correct it first (e.g. dcm2niix)"
)


@dataclasses.dataclass
class SeriesVolume:
    """A series read by :func:`readSeries`.

    :ivar image: the volume (LPS geometry).
    :ivar sopInstanceUids: the SOP instance of each slice ``k`` of ``image`` (before any tilt resampling).
    :ivar tiltDegrees: the gantry tilt that was resampled away, or ``None``.
    """

    image: sitk.Image
    seriesUid: str
    studyUid: str
    frameOfReferenceUid: str
    sopInstanceUids: list[str]
    files: list[pathlib.Path]
    tiltDegrees: float | None = None


def readSeriesVolume(
    folderOrFiles: str | os.PathLike | Sequence[str | os.PathLike], resampleTilt: bool = False
) -> sitk.Image:
    """Read one DICOM series (a folder, or a list of its files) into a 3D image.

    :param resampleTilt: resample a gantry-tilted (sideways drifting) stack onto an orthogonal grid
        covering it, with linear interpolation; refused otherwise.
    :raises InputError: for a folder with no series or several, unreadable, truncated or undecodable
        files, missing, duplicated or unevenly spaced slices, slices of mixed sizes or orientations.
    :raises GeometryError: for a tilted stack (only problem) when ``resampleTilt`` is false, or a
        colour image.
    """
    return readSeries(folderOrFiles, resampleTilt).image


def readSeries(
    folderOrFiles: str | os.PathLike | Sequence[str | os.PathLike], resampleTilt: bool = False
) -> SeriesVolume:
    """Like :func:`readSeriesVolume`, with the series' UIDs and the SOP instance of every slice."""
    pydicom = requirePackage("pydicom")
    where, paths = _listFiles(folderOrFiles)
    problems: list[str] = []
    images: dict[str, list[tuple[pathlib.Path, Any]]] = {}
    others: list[pathlib.Path] = []
    for path in paths:
        try:
            dataset = pydicom.dcmread(path)
        except Exception as error:  # pydicom raises many kinds for damaged files
            problems.append(f"{path.name} is not readable DICOM ({_reason(error)})")
            continue
        if "PixelData" not in dataset and "FloatPixelData" not in dataset:
            others.append(path)
        else:
            images.setdefault(str(dataset.get("SeriesInstanceUID", "")), []).append((path, dataset))
    if not images:
        raise InputError(
            f"No DICOM image series found in {where} ({len(paths)} files; {'; '.join(problems) or 'none has pixel data'}). "
            "Give a folder with the DICOM files of one series."
        )
    if len(images) > 1:
        raise InputError(
            f"{where} holds {len(images)} DICOM series ({', '.join(images)}). "
            "Put each series in its own folder and read one folder."
        )
    seriesUid, members = next(iter(images.items()))
    problems += [f"{path.name} is a DICOM file but not an image of series {seriesUid}" for path in others]
    frames, pixels = _decode(members, problems)
    headers = [frame.header for frame in frames]
    problems += mixedHeaderProblems(headers)
    positions = checkPositions(headers, TILT_FIX)
    problems += [problem for problem in positions.problems if problem != positions.tiltProblem or not resampleTilt]
    if problems:
        _refuse(where, len(paths), problems, onlyTilt=problems == [positions.tiltProblem])
    order = positions.order
    stack = np.stack([pixels[i] for i in order]) if order else np.empty((0, 0, 0))
    image = _image(stack, [frames[i] for i in order], positions.spacing)
    first = members[0][1]
    volume = SeriesVolume(
        image,
        seriesUid,
        str(first.get("StudyInstanceUID", "")),
        str(first.get("FrameOfReferenceUID", "")),
        [frames[i].sopInstanceUid for i in order],
        [frames[i].header.path for i in order],
    )
    if positions.tilt is not None:
        positionsMm = np.asarray([frames[i].header.position for i in order], dtype=float)
        volume.image = resampleTiltedStack(image, positionsMm)
        volume.tiltDegrees = positions.tilt.degrees
        logger.warning(
            "DICOM series %s: resampled a gantry tilt of %.3g° onto an orthogonal grid (linear interpolation), size %s",
            seriesUid,
            positions.tilt.degrees,
            "×".join(map(str, volume.image.GetSize())),
        )
    return volume


def _listFiles(folderOrFiles) -> tuple[str, list[pathlib.Path]]:
    if isinstance(folderOrFiles, (str, os.PathLike)):
        folder = pathlib.Path(folderOrFiles)
        if folder.is_file():
            return f"DICOM file {folder}", [folder]
        if not folder.is_dir():
            raise InputError(f"DICOM series folder {folder} was not found; check the path.")
        paths = [
            path
            for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".") and path.name.upper() != "DICOMDIR"
        ]
        return f"DICOM series folder {folder}", paths
    paths = [pathlib.Path(path) for path in folderOrFiles]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing or not paths:
        raise InputError(f"DICOM series files not found: {shortList(missing) or 'the list is empty'}; check the paths.")
    return f"the DICOM series of {len(paths)} files in {paths[0].parent}", paths


def _decode(members: list[tuple[pathlib.Path, Any]], problems: list[str]) -> tuple[list[Frame], list[np.ndarray]]:
    """Every frame of every file with its pixels; files whose pixels cannot be decoded become problems."""
    frames: list[Frame] = []
    pixels: list[np.ndarray] = []
    for path, dataset in members:
        layout = pixelLayout(dataset)
        samples = layout.samples
        if samples != 1:
            raise GeometryError(
                f"{path.name} has {samples} samples per pixel (a colour image); a scalar image series is needed. "
                "Give a greyscale series."
            )
        try:
            filed = filePixels(dataset, layout)
        except Exception as error:  # decoders raise ValueError, NotImplementedError, RuntimeError, ...
            problems.append(_undecodable(path, dataset, error))
            continue
        fileFramesList = fileFrames(dataset, path, layout)
        if len(fileFramesList) != filed.shape[0]:
            problems.append(
                f"{path.name} has {filed.shape[0]} frames of pixels but {len(fileFramesList)} frame descriptions"
            )
            continue
        frames += fileFramesList
        pixels += list(filed)
    return frames, pixels


def _undecodable(path: pathlib.Path, dataset: Any, error: Exception) -> str:
    syntax = str(dataset.file_meta.get("TransferSyntaxUID", "none")) if hasattr(dataset, "file_meta") else "none"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "less than expected" in text or "fewer than" in text:
        return f"{path.name} is truncated ({text})"
    try:
        from pydicom.uid import UID

        known = UID(syntax).is_transfer_syntax
    except Exception:
        known = False
    if not known:
        return (
            f"{path.name} has transfer syntax {syntax}, which is not a DICOM transfer syntax any installed decoder "
            "reads (decompress it first, e.g. gdcmconv --raw or dcmdjpeg)"
        )
    return f"{path.name} cannot be decoded (transfer syntax {syntax}: {text}); decompress it first, e.g. gdcmconv --raw"


def _refuse(where: str, files: int, problems: list[str], onlyTilt: bool) -> None:
    kind = GeometryError if onlyTilt else InputError
    raise kind(
        f"{where} is not one complete, regular series ({files} files): {'; '.join(problems)}. "
        "Nothing was read: a volume built from it would have missing slices or a wrong geometry. "
        "Export the series again from the scanner or PACS (every slice, nothing else in the folder)."
    )


def _image(stack: np.ndarray, frames: list[Frame], spacing: float | None) -> sitk.Image:
    first = frames[0]
    orientation = np.asarray(first.header.orientation, dtype=float)
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    pixelSpacing = first.header.pixelSpacing or (1.0, 1.0)
    if spacing is None:
        spacing = first.sliceThickness or 1.0
    elif len(frames) > 1:
        distances = np.asarray([frame.header.position for frame in frames], dtype=float) @ normal
        spacing = float(distances[-1] - distances[0]) / (len(frames) - 1)
    slopes = np.asarray([frame.slope for frame in frames])
    intercepts = np.asarray([frame.intercept for frame in frames])
    if np.any(slopes != 1.0) or np.any(intercepts != 0.0):
        stack = stack.astype(np.float32) * slopes[:, None, None].astype(np.float32) + intercepts[:, None, None].astype(
            np.float32
        )
    image = sitk.GetImageFromArray(np.ascontiguousarray(stack))
    image.SetSpacing((float(pixelSpacing[1]), float(pixelSpacing[0]), float(spacing)))
    image.SetOrigin(tuple(float(value) for value in first.header.position or (0.0, 0.0, 0.0)))
    image.SetDirection(tuple(float(value) for value in np.column_stack([row, column, normal]).ravel()))
    return image


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.rstrip(".")
