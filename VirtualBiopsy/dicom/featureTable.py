"""The features of a segmentation's segments from a wide features table, for the TID 1500 SR."""

from __future__ import annotations

import csv
import math
import pathlib
from collections.abc import Sequence

from VirtualBiopsy.dicom.segExport import SegmentSpec
from VirtualBiopsy.errors import InputError

#: Columns of a features table that are not features.
META_COLUMNS = ("patient", "label", "segment", "sequence")


def readFeatureRows(path: pathlib.Path, specs: Sequence[SegmentSpec]) -> dict[str, dict[str, float]]:
    """Segment name → {feature → value} from a wide features table, by its ``segment`` or ``label`` column
    (one row for a single segment needs neither).

    :raises InputError: for an unreadable table, rows that do not match the segments one to one, or a feature
        cell that is not a number.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.DictReader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(
            f"Features table {path} cannot be read ({error}); give the features.csv of 'virtual-biopsy extract'."
        ) from error
    if not rows:
        raise InputError(f"Features table {path} has no row; give the features.csv of 'virtual-biopsy extract'.")
    columns = list(rows[0])
    if "segment" in columns:
        key, wanted = "segment", {spec.name: spec.name for spec in specs}
    elif "label" in columns:
        key, wanted = "label", {spec.name: str(spec.label) for spec in specs}
    elif len(rows) == 1 and len(specs) == 1:
        return {specs[0].name: _values(rows[0], path, specs[0].name)}
    else:
        raise InputError(
            f"Features table {path} has {len(rows)} rows but no 'segment' or 'label' column to match them to the "
            f"{len(specs)} segment(s); add one of those columns."
        )
    result = {}
    for name, value in wanted.items():
        matches = [row for row in rows if _same(row.get(key, ""), value, key)]
        if len(matches) != 1:
            present = sorted({row.get(key, "") for row in rows})
            raise InputError(
                f"Features table {path} has {len(matches)} rows for segment {name!r} ({key} {value}); its {key} "
                f"values are {', '.join(present)}. Give the table extracted from this segmentation, one row per segment."
            )
        result[name] = _values(matches[0], path, name)
    return result


def _same(cell: str, value: str, key: str) -> bool:
    if key == "segment":
        return cell == value
    try:
        return float(cell) == float(value)
    except ValueError:
        return False


def _values(row: dict, path: pathlib.Path, segment: str) -> dict[str, float]:
    values = {}
    for name, text in row.items():
        if name is None or name in META_COLUMNS or name.startswith("diagnostics_") or text in ("", None):
            continue
        try:
            value = float(text)
        except ValueError:
            raise InputError(
                f"Features table {path}: column {name!r} of segment {segment!r} holds {text!r}, not a number; "
                "give the wide features.csv (one feature per column)."
            ) from None
        if math.isfinite(value):
            values[name] = value
    return values
