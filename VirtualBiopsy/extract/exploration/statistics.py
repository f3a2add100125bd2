"""Basic statistics per feature, overall and per outcome class, written as CSV and xlsx."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

STATISTICS_COLUMNS = ("feature", "group", "count", "missing", "mean", "sd", "median", "q1", "q3", "iqr", "min", "max")


def basicStatistics(features: pd.DataFrame, outcome: pd.Series) -> pd.DataFrame:
    """Count, missing, mean, SD (n − 1), median, quartiles, IQR, min and max of every feature.

    :param outcome: the class of each patient (same index as ``features``).
    :returns: one row per (feature, group); groups are ``all`` then ``<outcome>=<class>`` per class.
    """
    if not features.index.equals(outcome.index):
        raise InputError("Features and outcome do not list the same patients in the same order; align them first.")
    groups = [("all", np.ones(len(features), dtype=bool))]
    for value in sorted(outcome.unique(), key=str):
        groups.append((f"{outcome.name}={value}", (outcome == value).to_numpy()))
    rows = []
    for name in features.columns:
        column = features[name].to_numpy(dtype=float)
        for group, members in groups:
            rows.append({"feature": str(name), "group": group, **_describe(column[members])})
    return pd.DataFrame(rows, columns=list(STATISTICS_COLUMNS))


def writeStatistics(table: pd.DataFrame, csvPath: str | pathlib.Path, xlsxPath: str | pathlib.Path) -> None:
    """Write ``table`` as CSV and as an Excel workbook (sheet ``statistics``); existing files are refused."""
    csvPath, xlsxPath = pathlib.Path(csvPath), pathlib.Path(xlsxPath)
    for path in (csvPath, xlsxPath):
        if path.exists():
            raise InputError(f"{path} exists already; choose another output path.")
    table.to_csv(csvPath, index=False, lineterminator="\n")
    table.to_excel(xlsxPath, sheet_name="statistics", index=False, engine="openpyxl")


def _describe(values: np.ndarray) -> dict:
    present = values[~np.isnan(values)]
    result = {"count": int(present.size), "missing": int(values.size - present.size)}
    if present.size == 0:
        return {**result, **{key: np.nan for key in STATISTICS_COLUMNS[4:]}}
    q1, median, q3 = np.percentile(present, [25, 50, 75])
    return {
        **result,
        "mean": float(present.mean()),
        "sd": float(present.std(ddof=1)) if present.size > 1 else np.nan,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(present.min()),
        "max": float(present.max()),
    }
