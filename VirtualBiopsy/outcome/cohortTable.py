"""The cohort table: imaging features joined with clinical data, checked strictly, one row per patient."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

#: What :func:`joinCohort` does with feature columns that have missing values.
MISSING_FEATURE_OPTIONS = ("error", "dropFeatures", "dropPatients", "median")
#: What :func:`joinCohort` does with feature columns that are constant over the patients.
CONSTANT_FEATURE_OPTIONS = ("error", "drop", "keep")
#: Columns of a features table that identify a row but are not features (``virtual-biopsy extract`` writes ``label``).
FEATURE_ID_COLUMNS = ("label",)


@dataclass
class CohortTable:
    """Features and clinical data of the same patients, in the features' patient order.

    :ivar features: numeric features indexed by patient, feature columns only, in input order.
    :ivar clinical: the clinical table indexed by patient (all its columns).
    :ivar time: follow-up time per patient (float), or None.
    :ivar event: event indicator per patient (int 0/1; 1 = event), or None.
    :ivar target: the target label per patient, or None.
    :ivar covariates: numeric clinical covariates indexed by patient (no columns when none were asked for).
    :ivar missing: per-column missing-value report: ``table``, ``column``, ``missing``, ``fraction``
        (every column of both tables, before any dropping or imputation).
    :ivar dropped: what was removed: ``kind`` (feature/patient), ``name``, ``reason``.
    """

    features: pd.DataFrame
    clinical: pd.DataFrame
    time: pd.Series | None = None
    event: pd.Series | None = None
    target: pd.Series | None = None
    covariates: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["kind", "name", "reason"]))

    @property
    def patients(self) -> pd.Index:
        """The patients, in order."""
        return self.features.index


def joinCohort(
    features: pd.DataFrame,
    clinical: pd.DataFrame,
    patientColumn: str = "patient",
    timeColumn: str | None = None,
    eventColumn: str | None = None,
    targetColumn: str | None = None,
    covariates: Sequence[str] = (),
    *,
    missingFeatures: str = "error",
    constantFeatures: str = "error",
) -> CohortTable:
    """Join a features table with a clinical table, patient by patient, after strict checks.

    The patient ids of both tables must be unique and the same set. Identifier columns of the
    features table (``label``, written by ``virtual-biopsy extract``) are not features.

    :param features: one row per patient: ``patientColumn`` (or an index of that name) and numeric features.
    :param clinical: one row per patient: ``patientColumn`` and the clinical columns.
    :param timeColumn: follow-up time column (finite, > 0).
    :param eventColumn: event column (0 = censored, 1 = event; ``True``/``False`` accepted).
    :param targetColumn: label to predict (e.g. grade); no missing values.
    :param covariates: numeric clinical columns to model with (e.g. age); no missing values.
    :param missingFeatures: features with missing values: ``"error"`` (default), ``"dropFeatures"``
        (drop those columns), ``"dropPatients"`` (drop those patients) or ``"median"`` (impute each
        column's median over the cohort; this uses every patient, so cross-validated results that
        impute before splitting are slightly optimistic).
    :param constantFeatures: features constant over the (remaining) patients: ``"error"`` (default),
        ``"drop"`` or ``"keep"``.
    :raises InputError: naming the offending columns, patients and values, and the fix.
    """
    _requireOption("missingFeatures", missingFeatures, MISSING_FEATURE_OPTIONS)
    _requireOption("constantFeatures", constantFeatures, CONSTANT_FEATURE_OPTIONS)
    features = _indexByPatient(features, patientColumn, "features")
    clinical = _indexByPatient(clinical, patientColumn, "clinical")
    features = features.drop(columns=[c for c in FEATURE_ID_COLUMNS if c in features.columns and c != patientColumn])
    if features.shape[1] == 0:
        raise InputError(
            f"The features table has no feature columns besides '{patientColumn}'; "
            "give the table that 'virtual-biopsy extract' wrote."
        )
    _requireSamePatients(features.index, clinical.index)
    clinical = clinical.loc[features.index]
    clinicalColumns = [c for c in (timeColumn, eventColumn, targetColumn, *covariates) if c is not None]
    absent = [c for c in dict.fromkeys(clinicalColumns) if c not in clinical.columns]
    if absent:
        raise InputError(
            f"The clinical table has no column(s) {', '.join(map(repr, absent))}; it has: "
            f"{_listed(clinical.columns, 20)}. Give the right column names."
        )
    _requireNumericFeatures(features)
    missing = _missingReport(features, clinical)
    dropped: list[dict] = []
    features = _handleMissingFeatures(features, missingFeatures, dropped)
    clinical = clinical.loc[features.index]
    features = _handleConstantFeatures(features, constantFeatures, dropped)

    time = event = target = None
    if timeColumn is not None:
        time = _checkedTime(clinical[timeColumn], timeColumn)
    if eventColumn is not None:
        event = _checkedEvent(clinical[eventColumn], eventColumn)
    if targetColumn is not None:
        target = clinical[targetColumn]
        _requireComplete(target, targetColumn, "target")
    covariateTable = pd.DataFrame(index=features.index)
    for column in covariates:
        values = clinical[column]
        _requireComplete(values, column, "covariate")
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any() or not np.isfinite(numeric.to_numpy(dtype=float)).all():
            bad = values.index[numeric.isna() | ~np.isfinite(numeric.fillna(0).to_numpy(dtype=float))]
            raise InputError(
                f"Covariate '{column}' must be numeric; not for patient(s) {_listed(bad)} "
                f"(e.g. {values[bad[0]]!r}). Encode it as numbers (e.g. 0/1 per category)."
            )
        covariateTable[column] = numeric.astype(float)
    return CohortTable(
        features=features,
        clinical=clinical,
        time=time,
        event=event,
        target=target,
        covariates=covariateTable,
        missing=missing,
        dropped=pd.DataFrame(dropped, columns=["kind", "name", "reason"]),
    )


def _requireOption(name: str, value: str, options: Sequence[str]) -> None:
    if value not in options:
        raise InputError(f"{name} is {value!r}; choose one of {', '.join(map(repr, options))}.")


def _listed(values, limit: int = 10) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _indexByPatient(frame: pd.DataFrame, patientColumn: str, what: str) -> pd.DataFrame:
    if patientColumn in frame.columns:
        frame = frame.set_index(patientColumn)
    elif frame.index.name != patientColumn:
        raise InputError(
            f"The {what} table has no patient column '{patientColumn}'; it has: "
            f"{_listed(frame.columns, 20)}. Give the name of the column that holds the patient ids."
        )
    if frame.index.isna().any():
        raise InputError(
            f"The {what} table has {int(frame.index.isna().sum())} row(s) without a patient id "
            f"in '{patientColumn}'; fill in or remove those rows."
        )
    frame = frame.copy()
    frame.index = frame.index.astype(str)
    frame.index.name = patientColumn
    duplicated = frame.index[frame.index.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"The {what} table lists patient(s) more than once: {_listed(duplicated)}; "
            "keep one row per patient (one label per patient for features)."
        )
    return frame


def _requireSamePatients(featurePatients: pd.Index, clinicalPatients: pd.Index) -> None:
    noClinical = featurePatients.difference(clinicalPatients, sort=False)
    noFeatures = clinicalPatients.difference(featurePatients, sort=False)
    if len(noClinical) or len(noFeatures):
        parts = []
        if len(noClinical):
            parts.append(f"{len(noClinical)} patient(s) have features but no clinical row: {_listed(noClinical)}")
        if len(noFeatures):
            parts.append(f"{len(noFeatures)} patient(s) have clinical data but no features: {_listed(noFeatures)}")
        raise InputError(
            "; ".join(parts) + ". The tables must list the same patients (ids are compared as text): "
            "fix the ids or remove those rows."
        )


def _requireNumericFeatures(features: pd.DataFrame) -> None:
    nonNumeric = [
        c
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
    ]
    if nonNumeric:
        raise InputError(
            f"{len(nonNumeric)} feature column(s) are not numeric: {_listed(nonNumeric)}. "
            "Remove them from the features table or move them to the clinical table."
        )
    infinite = {c: int(np.isinf(features[c].to_numpy(dtype=float)).sum()) for c in features.columns}
    infinite = {c: n for c, n in infinite.items() if n}
    if infinite:
        raise InputError(
            f"{len(infinite)} feature column(s) have infinite values: "
            f"{_listed(f'{c} ({n})' for c, n in infinite.items())}. Remove those features."
        )


def _missingReport(features: pd.DataFrame, clinical: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {
            "table": table,
            "column": str(column),
            "missing": int(frame[column].isna().sum()),
            "fraction": float(frame[column].isna().mean()) if len(frame) else 0.0,
        }
        for table, frame in (("features", features), ("clinical", clinical))
        for column in frame.columns
    ]
    return pd.DataFrame(rows, columns=["table", "column", "missing", "fraction"])


def _handleMissingFeatures(features: pd.DataFrame, option: str, dropped: list[dict]) -> pd.DataFrame:
    counts = features.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return features
    if option == "error":
        raise InputError(
            f"{len(counts)} feature column(s) have missing values: "
            f"{_listed(f'{c} ({n} of {len(features)})' for c, n in counts.items())}. "
            "Choose missingFeatures='dropFeatures', 'dropPatients' or 'median' "
            "(CLI: --missing), or fix the features table."
        )
    if option == "dropFeatures":
        dropped += [{"kind": "feature", "name": c, "reason": f"{n} missing value(s)"} for c, n in counts.items()]
        kept = features.drop(columns=counts.index)
        if kept.shape[1] == 0:
            raise InputError(
                "Every feature column has missing values; nothing is left after dropping them. "
                "Fix the features table or use missingFeatures='median'."
            )
        return kept
    if option == "dropPatients":
        rows = features.index[features.isna().any(axis=1)]
        dropped += [{"kind": "patient", "name": p, "reason": "missing feature value(s)"} for p in rows]
        kept = features.drop(index=rows)
        if len(kept) == 0:
            raise InputError(
                "Every patient has a missing feature value; nothing is left after dropping them. "
                "Use missingFeatures='dropFeatures' or 'median'."
            )
        return kept
    medians = features[counts.index].median()
    empty = list(medians.index[medians.isna()])
    if empty:
        raise InputError(
            f"Feature column(s) {_listed(empty)} have no values at all to take a median of; "
            "remove them or use missingFeatures='dropFeatures'."
        )
    logger.info("Imputed %d feature column(s) with their cohort median", len(counts))
    return features.fillna(medians)


def _handleConstantFeatures(features: pd.DataFrame, option: str, dropped: list[dict]) -> pd.DataFrame:
    values = features.to_numpy(dtype=float)
    spread = values.max(axis=0) - values.min(axis=0) if len(values) else np.zeros(values.shape[1])
    constant = list(features.columns[spread <= 1e-12 * np.maximum(1.0, np.abs(values).max(axis=0, initial=0))])
    if not constant or option == "keep":
        if constant:
            logger.info("%d feature(s) are constant over the patients and were kept", len(constant))
        return features
    if option == "error":
        raise InputError(
            f"{len(constant)} feature column(s) are constant over the {len(features)} patients: "
            f"{_listed(constant)}. They carry no information; choose constantFeatures='drop' "
            "(CLI: --drop-constant) or remove them."
        )
    dropped += [{"kind": "feature", "name": c, "reason": "constant over the patients"} for c in constant]
    if len(constant) == features.shape[1]:
        raise InputError(f"All {len(constant)} feature column(s) are constant over the patients; nothing is left.")
    return features.drop(columns=constant)


def _requireComplete(values: pd.Series, column: str, what: str) -> None:
    bad = values.index[values.isna()]
    if len(bad):
        raise InputError(
            f"The {what} column '{column}' is missing for {len(bad)} patient(s): {_listed(bad)}. "
            "Fill it in or remove those patients from both tables."
        )


def _checkedTime(values: pd.Series, column: str) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce").astype(float)
    bad = values.index[~(np.isfinite(numeric.to_numpy()) & (numeric.to_numpy() > 0))]
    if len(bad):
        shown = _listed(f"{p} ({values[p]!r})" for p in bad)
        raise InputError(
            f"Follow-up times in '{column}' must be finite numbers > 0; not for {len(bad)} patient(s): "
            f"{shown}. Fix them or remove those patients (a time of 0 can be set to a small "
            "positive value such as half a day)."
        )
    return numeric.rename(column)


def _checkedEvent(values: pd.Series, column: str) -> pd.Series:
    numeric = pd.to_numeric(values.map(lambda v: int(v) if isinstance(v, (bool, np.bool_)) else v), errors="coerce")
    bad = values.index[~numeric.isin([0, 1])]
    if len(bad):
        shown = _listed(f"{p} ({values[p]!r})" for p in bad)
        raise InputError(
            f"Events in '{column}' must be 0 (censored) or 1 (event); not for {len(bad)} patient(s): "
            f"{shown}. Recode them as 0/1."
        )
    return numeric.astype(int).rename(column)
