"""Join a features table with a clinical outcome, checking everything an exploration needs.

Handling of awkward inputs (each refusal is an :class:`~VirtualBiopsy.errors.InputError` with the fix):

- id columns ``patient`` (or the given name) and ``label`` are not features; ``diagnostics_*``
  columns are dropped; any other non-numeric column is refused;
- ±Inf values count as missing; missing values are handled later (:mod:`.missingValues`);
- every feature patient must appear once in the clinical table with an outcome value;
  clinical patients without features are ignored (noted);
- the outcome must have exactly two classes, each with at least two patients; the positive
  class is ``positiveClass`` or else the larger of the two sorted values (``1`` of 0/1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

PATIENT_COLUMN = "patient"
#: Columns of a features table that identify a row.
ID_COLUMNS = ("patient", "label")


@dataclass
class ExplorationData:
    """Numeric features and a two-class outcome, row-aligned by patient.

    :ivar features: patients (index) × numeric features; NaN where missing.
    :ivar outcome: the class of each patient (same index), as in the clinical table.
    :ivar negativeClass: the reference class.
    :ivar positiveClass: the class AUCs and directions refer to.
    :ivar notes: what was dropped or ignored, for the report.
    """

    features: pd.DataFrame
    outcome: pd.Series
    negativeClass: object
    positiveClass: object
    notes: list[str] = field(default_factory=list)

    @property
    def isPositive(self) -> np.ndarray:
        """Boolean per patient: in the positive class."""
        return (self.outcome == self.positiveClass).to_numpy()


def prepareExploration(
    features: pd.DataFrame,
    clinical: pd.DataFrame,
    outcome: str,
    patientColumn: str = PATIENT_COLUMN,
    positiveClass: object = None,
    idColumns: Sequence[str] = ID_COLUMNS,
) -> ExplorationData:
    """Check and join ``features`` (patients × features) with ``clinical[outcome]``.

    :raises InputError: as listed in the module documentation.
    """
    notes: list[str] = []
    numeric = _numericFeatures(features, patientColumn, idColumns, notes)
    classes = _outcomeOf(clinical, outcome, patientColumn, list(numeric.index), notes)
    values = sorted(classes.unique(), key=_sortKey)
    if len(values) != 2:
        counts = ", ".join(f"{value!r}: {n}" for value, n in classes.value_counts().items())
        raise InputError(
            f"Outcome column '{outcome}' has {len(values)} class(es) among the feature patients "
            f"({counts}); exploration compares exactly two. Choose a binary outcome or recode it."
        )
    if positiveClass is None:
        positiveClass = values[1]
    else:
        matches = [value for value in values if _sameClass(value, positiveClass)]
        if not matches:
            raise InputError(
                f"Positive class {positiveClass!r} is not a value of '{outcome}' "
                f"(values: {values[0]!r}, {values[1]!r}); give one of them."
            )
        positiveClass = matches[0]
    negativeClass = values[0] if values[1] == positiveClass else values[1]
    small = {value: n for value, n in classes.value_counts().items() if n < 2}
    if small:
        raise InputError(
            f"Outcome '{outcome}' class(es) {small} have fewer than 2 patients; "
            "a two-class comparison needs at least 2 per class."
        )
    return ExplorationData(
        features=numeric, outcome=classes, negativeClass=negativeClass, positiveClass=positiveClass, notes=notes
    )


def _numericFeatures(
    features: pd.DataFrame, patientColumn: str, idColumns: Sequence[str], notes: list[str]
) -> pd.DataFrame:
    if patientColumn not in features.columns:
        raise InputError(
            f"Features table has no '{patientColumn}' column (columns: {_shown(features.columns)}); "
            f"add the patient ids or name the id column."
        )
    patients = features[patientColumn].astype(str).str.strip()
    repeated = sorted(patients[patients.duplicated()].unique())
    if repeated:
        raise InputError(
            f"Features table has several rows for patient(s) {_shown(repeated)}; keep one row per "
            "patient (e.g. one label of the mask)."
        )
    diagnostics = [c for c in features.columns if str(c).startswith("diagnostics_")]
    if diagnostics:
        notes.append(f"Ignored {len(diagnostics)} diagnostics_* column(s).")
    candidates = [c for c in features.columns if c not in (patientColumn, *idColumns) and c not in diagnostics]
    if not candidates:
        raise InputError(f"Features table has no feature columns besides the ids ({_shown(features.columns)}).")
    numeric, textual = {}, []
    for column in candidates:
        values = features[column]
        if pd.api.types.is_bool_dtype(values):
            values = values.astype(float)
        converted = pd.to_numeric(values, errors="coerce")
        if (converted.isna() & values.notna() & (values.astype(str).str.strip() != "")).any():
            textual.append(str(column))
        numeric[str(column)] = converted.astype(float).to_numpy()
    if textual:
        raise InputError(
            f"Feature column(s) {_shown(textual)} hold text, not numbers; remove them from the features "
            "table or move them to the clinical table."
        )
    table = pd.DataFrame(numeric, index=pd.Index(patients.to_numpy(), name=patientColumn))
    infinite = int(np.isinf(table.to_numpy()).sum())
    if infinite:
        notes.append(f"{infinite} infinite value(s) counted as missing.")
        table = table.replace([np.inf, -np.inf], np.nan)
    return table


def _outcomeOf(
    clinical: pd.DataFrame, outcome: str, patientColumn: str, patients: list[str], notes: list[str]
) -> pd.Series:
    for column in (patientColumn, outcome):
        if column not in clinical.columns:
            raise InputError(
                f"Clinical table has no '{column}' column (columns: {_shown(clinical.columns)}); "
                "name an existing column."
            )
    ids = clinical[patientColumn].astype(str).str.strip()
    repeated = sorted(ids[ids.duplicated()].unique())
    if repeated:
        raise InputError(f"Clinical table has several rows for patient(s) {_shown(repeated)}; keep one per patient.")
    byPatient = pd.Series(clinical[outcome].to_numpy(), index=ids.to_numpy())
    absent = [patient for patient in patients if patient not in byPatient.index]
    if absent:
        raise InputError(
            f"{len(absent)} patient(s) of the features table are not in the clinical table: "
            f"{_shown(absent)}; add their clinical rows or remove them from the features."
        )
    classes = byPatient.loc[patients]
    unknown = [p for p, value in classes.items() if pd.isna(value) or str(value).strip() == ""]
    if unknown:
        raise InputError(
            f"Outcome '{outcome}' is empty for {len(unknown)} patient(s): {_shown(unknown)}; fill it in "
            "or remove those patients from the features table."
        )
    extra = len(byPatient) - len(patients)
    if extra:
        notes.append(f"{extra} clinical patient(s) without features were ignored.")
    classes.index.name = patientColumn
    return classes.rename(outcome)


def _sameClass(value: Any, given: Any) -> bool:
    """Whether ``given`` (possibly text from the command line) names the class ``value`` (``"1"`` names 1.0)."""
    if str(value) == str(given):
        return True
    try:
        return float(value) == float(given)
    except (TypeError, ValueError):
        return False


def _sortKey(value: object) -> tuple:
    return (0, float(value), "") if isinstance(value, (int, float, np.number)) else (1, 0.0, str(value))


def _shown(values: Sequence, limit: int = 6) -> str:
    values = [str(value) for value in values]
    return ", ".join(values[:limit]) + (f", ... ({len(values)} in all)" if len(values) > limit else "")
