"""The slices of one series checked against each other: sizes, orientations, spacings and positions.

Pure arithmetic on what the headers say (no file access): shared by the GDCM-based folder check
(:mod:`VirtualBiopsy.mrml.dicomSeries`) and the pydicom series reader
(:mod:`VirtualBiopsy.dicom.seriesVolume`), so a gap or a duplicate is detected one way only.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field

import numpy as np

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

#: The fix named for a drifting stack unless the caller names another.
TILT_FIX = "resample it first (e.g. dcm2niix corrects gantry tilt)"


@dataclass(frozen=True)
class SliceHeader:
    """What one slice's header says.

    :ivar label: how messages name the slice (default: the file name; ``file#frame`` for multi-frame files).
    """

    path: pathlib.Path
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    size: tuple[int, int]
    pixelSpacing: tuple[float, ...] | None
    pixelBytes: int
    label: str = ""

    @property
    def name(self) -> str:
        """The slice's name in messages."""
        return self.label or self.path.name


@dataclass(frozen=True)
class Tilt:
    """A stack whose slice positions drift sideways (gantry tilt or shear)."""

    driftPerSlice: float
    degrees: float


@dataclass
class PositionCheck:
    """What the slice positions say.

    :ivar order: indices of the placed headers sorted along the slice normal.
    :ivar spacing: the typical distance between neighbouring slices (mm), ``None`` for fewer than two.
    :ivar tilt: the sideways drift, when beyond :data:`DRIFT_FRACTION`.
    """

    order: list[int] = field(default_factory=list)
    spacing: float | None = None
    problems: list[str] = field(default_factory=list)
    tilt: Tilt | None = None
    tiltProblem: str | None = None


def mixedHeaderProblems(headers: list[SliceHeader]) -> list[str]:
    """Problems of slices that differ in orientation, size or pixel spacing, or lack a position."""
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
            groups.setdefault(key, []).append(header.name)
        if len(groups) > 1:
            shown = "; ".join(f"{_plain(key)}: {shortList(names)}" for key, names in groups.items())
            problems.append(f"slices of different {label}: {shown}")
    missing = [header.name for header in headers if header.position is None or header.orientation is None]
    if missing:
        problems.append(
            f"slices without a position or orientation (ImagePositionPatient/ImageOrientationPatient): {shortList(missing)}"
        )
    return problems


def checkPositions(headers: list[SliceHeader], tiltFix: str = TILT_FIX) -> PositionCheck:
    """Sort the slices along their normal; find duplicates, gaps, uneven spacing and sideways drift."""
    placed = [i for i, header in enumerate(headers) if header.position is not None and header.orientation is not None]
    check = PositionCheck(order=placed)
    if len(placed) < 2 or len(headers[placed[0]].orientation or ()) != 6:
        return check
    orientation = np.asarray(headers[placed[0]].orientation, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.asarray([headers[i].position for i in placed], dtype=float)
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    check.order = [placed[i] for i in order]
    names = [headers[i].name for i in check.order]
    positions, distances = positions[order], distances[order]
    steps = np.diff(distances)
    nonZero = steps[steps > 1e-6]
    if not nonZero.size:
        check.problems.append(f"all {len(names)} slices share one position ({_position(distances[0])})")
        return check
    spacing = float(np.median(nonZero))
    check.spacing = spacing
    duplicates, gaps, uneven = [], [], []
    for index, step in enumerate(steps):
        before, after = names[index], names[index + 1]
        where = f"{before} and {after} ({_position(distances[index])}, {_position(distances[index + 1])})"
        if step < DUPLICATE_FRACTION * spacing:
            duplicates.append(f"{before} and {after} at {_position(distances[index])}")
        elif step > GAP_FACTOR * spacing:
            gaps.append(f"between {where}: {step:.4g} mm, about {round(step / spacing) - 1} slice(s)")
        elif abs(step - spacing) > UNEVEN_FRACTION * spacing:
            uneven.append(f"{step:.4g} mm between {where}")
    if duplicates:
        check.problems.append(f"duplicated slice positions: {'; '.join(duplicates)}")
    if gaps:
        check.problems.append(f"missing slices (typical spacing {spacing:.4g} mm) {'; '.join(gaps)}")
    if uneven:
        check.problems.append(f"uneven slice spacing (typical {spacing:.4g} mm): {'; '.join(uneven)}")
    sideways = positions[-1] - positions[0] - (distances[-1] - distances[0]) * normal
    drift = float(np.linalg.norm(sideways)) / (len(names) - 1)
    if drift > DRIFT_FRACTION * spacing:
        tilt = math.degrees(math.atan2(float(np.linalg.norm(sideways)), float(distances[-1] - distances[0])))
        check.tilt = Tilt(drift, tilt)
        check.tiltProblem = (
            f"slice positions drift sideways by {drift:.3g} mm per slice (a gantry tilt or sheared stack of "
            f"{tilt:.3g}°), which a volume's grid cannot hold: {tiltFix}"
        )
        check.problems.append(check.tiltProblem)
    return check


def _same(known: tuple, value) -> bool:
    if value is None or len(known) != len(value):
        return value is None and known == ()
    if known == tuple(value):
        return True
    return bool(np.allclose(known, value, rtol=0.0, atol=HEADER_TOLERANCE))


def _plain(values: tuple) -> str:
    return "×".join(f"{value:g}" for value in values) if values else "none"


def _position(distance: float) -> str:
    return f"{distance:.4g} mm"


def shortList(names: list[str], shown: int = 6) -> str:
    """``names`` joined for a message, the first ``shown`` of them and a count of the rest."""
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
