"""Feature stability across perturbations: ICC(1,1) per feature and a filter on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.robustness.icc import (
    IccUndefinedError,
    icc11Interval,
    iccBand,
)

#: Columns of :func:`featureStability`'s table (its index is the feature name).
STABILITY_COLUMNS = ("icc", "iccLower", "iccUpper", "band", "patients", "repeats", "reason")
#: Columns of a features table that identify a row rather than measure it.
ID_COLUMNS = ("patient", "label")


def featureStability(featuresPerCase: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """ICC(1,1) of every feature over patients (subjects) × perturbations (repeats).

    :param featuresPerCase: patient → DataFrame with one row per perturbation and one
        column per feature. Features missing in some patients, or NaN cells, count as
        missing values (unbalanced ICC).
    :returns: one row per feature (index ``feature``), columns :data:`STABILITY_COLUMNS`:
        ``icc`` and its 95 % interval, the Koo & Li ``band``, the patients and mean repeats
        used, and ``reason`` (empty when defined; otherwise why the ICC is NaN, and ``band`` is
        ``undefined``).
    :raises InputError: for fewer than 2 patients or non-numeric feature values.
    """
    if len(featuresPerCase) < 2:
        raise InputError(
            f"Feature stability needs at least 2 patients; got {len(featuresPerCase)}. Perturb and extract more cases."
        )
    features: list[str] = []
    for patient, table in featuresPerCase.items():
        if not isinstance(table, pd.DataFrame):
            raise InputError(
                f"Features of patient '{patient}' are a {type(table).__name__}; give a DataFrame "
                "(perturbations × features)."
            )
        features += [column for column in table.columns if column not in features]
    patients = list(featuresPerCase)
    repeats = max(len(table) for table in featuresPerCase.values())
    rows = []
    for feature in features:
        matrix = np.full((len(patients), repeats), np.nan)
        for row, patient in enumerate(patients):
            table = featuresPerCase[patient]
            if feature in table.columns:
                matrix[row, : len(table)] = _numeric(table[feature], patient, feature)
        rows.append(_stabilityRow(feature, matrix))
    return pd.DataFrame(rows, columns=["feature", *STABILITY_COLUMNS]).set_index("feature")


def stableFeatures(table: pd.DataFrame, threshold: float = 0.75) -> list[str]:
    """Features whose ICC is at least ``threshold`` (undefined ICCs never are), in table order."""
    _checkThreshold(threshold)
    icc = table["icc"]
    return [str(feature) for feature in table.index[icc.notna() & (icc >= threshold)]]


def filterStableFeatures(
    features: pd.DataFrame, table: pd.DataFrame, threshold: float = 0.75, idColumns: Sequence[str] = ID_COLUMNS
) -> pd.DataFrame:
    """Keep the id columns and the stable features of a features table (patients × features).

    :raises InputError: when the stability table covers none of the table's features.
    """
    keep = set(stableFeatures(table, threshold))
    measured = [column for column in features.columns if column not in idColumns]
    if not set(measured) & set(table.index):
        raise InputError(
            f"The stability table covers none of the {len(measured)} feature columns (e.g. "
            f"{', '.join(measured[:3])}); assess robustness with the same extraction settings."
        )
    return features[[c for c in features.columns if c in idColumns or c in keep]]


def _stabilityRow(feature: str, matrix: np.ndarray) -> dict:
    present = ~np.isnan(matrix)
    usedPatients = int(np.count_nonzero(present.any(axis=1)))
    row = {
        "feature": feature,
        "icc": np.nan,
        "iccLower": np.nan,
        "iccUpper": np.nan,
        "band": "undefined",
        "patients": usedPatients,
        "repeats": float(present.sum() / max(usedPatients, 1)),
        "reason": "",
    }
    if not present.any():
        row["reason"] = "no value in any case (undefined by the extractor)"
        return row
    try:
        result = icc11Interval(matrix)
    except IccUndefinedError as error:
        row["reason"] = str(error)
        return row
    except InputError as error:
        row["reason"] = f"{error} (values in {usedPatients} patient(s))"
        return row
    row.update(
        icc=result.icc, iccLower=result.lower, iccUpper=result.upper, band=iccBand(result.icc), repeats=result.repeats
    )
    return row


def _numeric(values: pd.Series, patient: str, feature: str) -> np.ndarray:
    try:
        array = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"Feature '{feature}' of patient '{patient}' has non-numeric values ({error}); "
            "drop text columns (ids, diagnostics) before assessing stability."
        ) from error
    return np.where(np.isinf(array), np.nan, array)


def _checkThreshold(threshold: float) -> None:
    if not isinstance(threshold, (int, float, np.floating)) or not -1.0 <= float(threshold) <= 1.0:
        raise InputError(f"ICC threshold is {threshold!r}; give a number between -1 and 1 (e.g. 0.75 for good).")
