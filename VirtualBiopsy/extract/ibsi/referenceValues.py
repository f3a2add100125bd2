"""IBSI 1 reference values (``ibsi1_reference_values.csv``) per configuration."""

from __future__ import annotations

import math
import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.ibsi.featureNames import FEATURE_NAMES, aggregation

CONFIGURATIONS = ("digital", "A", "B", "C", "D", "E")
TWO_D_CONFIGURATIONS = ("A", "B")
REFERENCE_FILE = "ibsi1_reference_values.csv"


def dataLabel(configuration: str) -> str:
    """The reference table's ``data`` value of ``configuration`` (``"dig. phantom"``, ``"config. A"``…)."""
    if configuration not in CONFIGURATIONS:
        raise InputError(
            f"IBSI configuration '{configuration}' is unknown; choose one of: {', '.join(CONFIGURATIONS)}."
        )
    return "dig. phantom" if configuration == "digital" else f"config. {configuration}"


def readReferenceTable(folder: str | pathlib.Path) -> pd.DataFrame:
    """Read the reference table from the IBSI data folder.

    :raises InputError: when the file is missing.
    """
    path = pathlib.Path(folder) / REFERENCE_FILE
    if not path.is_file():
        raise InputError(f"IBSI reference values not found at {path}; give the folder that holds {REFERENCE_FILE}.")
    return pd.read_csv(path)


def referenceValues(table: pd.DataFrame, configuration: str) -> pd.DataFrame:
    """The reference rows of the 102 mapped pyradiomics features for one configuration.

    Texture rows are those whose aggregation matches how pyradiomics computes them
    (see :func:`~VirtualBiopsy.extract.ibsi.featureNames.aggregation`).

    :returns: one row per mapped feature, columns ``pyradiomics``, ``ibsiCode``,
        ``ibsiName``, ``family``, ``offset``, ``aggregation``, ``reference``, ``tolerance``,
        ``consensus``; the tolerance of exact digital-phantom values is half a unit
        of their third significant digit (they are given to three digits).
    :raises InputError: when a mapped feature has no reference row.
    """
    rows = table[table["data"] == dataLabel(configuration)]
    force2D = configuration in TWO_D_CONFIGURATIONS
    records = []
    for name in FEATURE_NAMES:
        wanted = aggregation(name.featureClass, force2D)
        match = rows[(rows["family"] == name.family) & (rows["feature"] == name.ibsiName)]
        match = match[match["aggregation"].isna()] if wanted is None else match[match["aggregation"] == wanted]
        if len(match) != 1:
            raise InputError(
                f"The IBSI reference table has {len(match)} rows for {name.ibsiName} ({name.ibsiCode}, "
                f"{wanted or 'no aggregation'}) in {dataLabel(configuration)}; expected 1. Check {REFERENCE_FILE}."
            )
        row = match.iloc[0]
        tolerance = row["tolerance"]
        if pd.isna(tolerance):
            tolerance = roundingTolerance(float(row["value"]))
        records.append(
            {
                "pyradiomics": name.pyradiomics,
                "ibsiCode": name.ibsiCode,
                "ibsiName": name.ibsiName,
                "family": name.family,
                "offset": name.offset,
                "aggregation": wanted,
                "reference": float(row["value"]),
                "tolerance": float(tolerance),
                "consensus": row["consensus"],
            }
        )
    return pd.DataFrame.from_records(records)


def roundingTolerance(value: float, digits: int = 3) -> float:
    """Half a unit of the last of ``digits`` significant digits of ``value`` (5e-4 for 0)."""
    if value == 0:
        return 0.5 * 10.0**-digits
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
