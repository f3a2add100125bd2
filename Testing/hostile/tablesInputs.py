"""Generated user tables for the hostile suite: a survival table whose age covariate matters, written the ways a
spreadsheet writes it (comma decimals with semicolons, a byte-order mark), and broken on purpose one cell at a
time; small image cohorts whose manifests name paths inside and outside their folder."""

from __future__ import annotations

import pathlib

import numpy as np
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS

#: Patients of the survival table.
PATIENTS = 60


def survivalRows(seed: int = 0) -> list[dict[str, str]]:
    """Rows of a survival table (cells as text with dot decimals): ``patient`` (leading zeros), ``time``,
    ``event``, ``age`` (one decimal; it raises the hazard), ``grade``, ``sex`` (text) and ``name`` (a planted
    identifier on the first row, text that must never reach an output)."""
    generator = np.random.default_rng(seed)
    rows = []
    for index in range(PATIENTS):
        age = round(float(generator.normal(60, 10)), 1)
        grade = int(generator.integers(1, 4))
        hazard = 0.02 * np.exp(0.06 * (age - 60) + 0.4 * grade)
        time = round(float(generator.exponential(1 / hazard)), 2) + 0.5
        censor = round(float(generator.uniform(10, 120)), 2)
        rows.append(
            {
                "patient": f"{index + 1:03d}",
                "time": f"{min(time, censor):.2f}",
                "event": "1" if time <= censor else "0",
                "age": f"{age:.1f}",
                "grade": str(grade),
                "sex": "F" if generator.random() < 0.5 else "M",
                "name": PLANTED_IDENTIFIERS[0] if index == 0 else f"patient {index + 1}",
            }
        )
    return rows


def writeTable(
    path: pathlib.Path,
    rows: list[dict[str, str]],
    decimal: str = ".",
    separator: str = ",",
    bom: bool = False,
    columns: list[str] | None = None,
) -> pathlib.Path:
    """Write ``rows`` (dot-decimal text cells) with the decimal mark and separator a spreadsheet would use."""
    columns = columns or list(rows[0])
    lines = [separator.join(columns)]
    for row in rows:
        cells = [row[column].replace(".", decimal) if _isNumber(row[column]) else row[column] for column in columns]
        lines.append(separator.join(f'"{cell}"' if separator in cell else cell for cell in cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def withCell(rows: list[dict[str, str]], index: int, column: str, value: str) -> list[dict[str, str]]:
    """A copy of ``rows`` with one cell changed (``index`` 0 is file line 2)."""
    changed = [dict(row) for row in rows]
    changed[index][column] = value
    return changed


def _isNumber(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def writeImage(path: pathlib.Path, value: int = 1) -> pathlib.Path:
    """A tiny 8³ image (a cube of ``value`` in its middle), as a file."""
    array = np.zeros((8, 8, 8), np.int16)
    array[2:6, 2:6, 2:6] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return path


def writeCohort(folder: pathlib.Path, patients: int = 2) -> pathlib.Path:
    """T1c and FLAIR images and masks of ``patients`` cases under ``folder`` and a manifest naming them (the
    sequences the default pipeline settings need); returns the manifest."""
    lines = ["patient,T1c,FLAIR,mask"]
    for index in range(1, patients + 1):
        for sequence in ("T1c", "FLAIR"):
            writeImage(folder / f"P{index}" / f"{sequence}.nrrd", 100 * index)
        writeImage(folder / f"P{index}" / "mask.nrrd")
        lines.append(f"P{index},P{index}/T1c.nrrd,P{index}/FLAIR.nrrd,P{index}/mask.nrrd")
    return writeManifestText(folder / "manifest.csv", lines)


def writeManifestText(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
