"""The inputs of a harmonization evaluation: feature tables of the same patients, a batch
and a task per patient, checked and aligned once.

A feature table has a ``patient`` column, optional pass-through columns (``label``) and
numeric features; the clinical table has ``patient``, the batch column, the task column
and the covariates. Every table must hold the same patients (any row order); the result
follows the first table's order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat.cohortTables import (
    DEFAULT_PASS_THROUGH,
    PATIENT,
    clinicalRows,
    numericFeatures,
    parseNumbers,
    patientIndex,
)
from VirtualBiopsy.harmonize.combat.inputs import listed

logger = logging.getLogger(__name__)

#: Method names that a feature table may not take.
RESERVED_NAMES = ("none", "combat")
#: The form of a feature-table name (it becomes a method name and a file-name part).
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class EvaluationData:
    """Aligned, checked inputs.

    :ivar tables: ``{name: patients × features}`` (float64, finite), the first one is the
        features "as given" (``none``); every table has the same index, the patients.
    :ivar batch: each patient's batch (text).
    :ivar task: each patient's task label (text, two classes), or ``None`` without a task.
    :ivar covariates: covariates to preserve in ComBat (numbers or text), or ``None``.
    :ivar dropped: ``{name: features left out because they are constant over the cohort}``.
    """

    tables: dict[str, pd.DataFrame]
    batch: pd.Series
    task: pd.Series | None
    covariates: pd.DataFrame | None
    dropped: dict[str, list[str]]

    @property
    def batches(self) -> list[str]:
        """The batch labels, sorted."""
        return sorted(set(self.batch))


def prepareTables(
    featureTables: Mapping[str, pd.DataFrame],
    clinical: pd.DataFrame,
    batchColumn: str,
    taskColumn: str | None = None,
    covariates: Sequence[str] = (),
    passThrough: Sequence[str] = DEFAULT_PASS_THROUGH,
) -> EvaluationData:
    """Check and align the feature tables with the clinical table.

    :param featureTables: ``{name: table}``; names start with a letter and hold letters, digits,
        ``_`` and ``-`` (not ``none`` or ``combat``); the first is the table "as given".
    :raises InputError: for no table, a bad name, a table without ``patient`` or with a patient
        twice, non-numeric, missing or infinite feature values, tables of different patients,
        missing clinical rows or columns, a missing batch or task label, fewer than two batches,
        a batch of one case, a task without exactly two classes, or the batch or task listed
        as a covariate.
    """
    if not featureTables:
        raise InputError("No feature table was given; give at least one (--features F.csv).")
    for name in featureTables:
        if not TABLE_NAME.match(str(name)) or str(name).lower() in RESERVED_NAMES:
            raise InputError(
                f"Feature table name '{name}' is not allowed; use a name that starts with a letter and "
                "holds only letters, digits, '_' or '-', other than 'none' and 'combat' (e.g. nyul)."
            )
    for column in (batchColumn, taskColumn):
        if column is not None and column in covariates:
            raise InputError(
                f"'{column}' is the batch or task column and is also listed as a covariate; a covariate "
                "to preserve can be neither (the task would leak into ComBat). Drop it from the "
                "covariates."
            )
    if taskColumn is not None and taskColumn == batchColumn:
        raise InputError(
            f"The task column and the batch column are both '{batchColumn}'; give a task other than "
            "the batch (e.g. grade)."
        )
    tables, dropped, patients = {}, {}, None
    for name, table in featureTables.items():
        index = patientIndex(table, f"feature table '{name}'")
        repeated = index[index.str.contains(r" \(row \d+\)$", regex=True)]
        if len(repeated):
            raise InputError(
                f"Feature table '{name}' lists a patient more than once ({listed(repeated[:4])}); keep "
                "one row per patient."
            )
        columns = [str(c) for c in table.columns if str(c) != PATIENT and str(c) not in passThrough]
        values = _finite(numericFeatures(table, columns, index), name)
        if patients is None:
            patients = index
        elif set(index) != set(patients):
            onlyHere = sorted(set(index) - set(patients))
            onlyFirst = sorted(set(patients) - set(index))
            raise InputError(
                f"Feature table '{name}' does not hold the same patients as the first table (only in "
                f"'{name}': {listed(onlyHere) or 'none'}; only in the first: "
                f"{listed(onlyFirst) or 'none'})"
                "; give tables of the same patients."
            )
        values = values.loc[patients]
        constant = [column for column in values.columns if np.ptp(values[column].to_numpy()) == 0]
        if constant:
            logger.info("Feature table '%s': %d feature(s) constant over the cohort left out", name, len(constant))
            values = values.drop(columns=constant)
        if values.shape[1] == 0:
            raise InputError(f"Every feature of table '{name}' is constant over the cohort; nothing can be evaluated.")
        tables[str(name)], dropped[str(name)] = values, constant
    assert patients is not None, "there is at least one feature table"
    wanted = [batchColumn, *([taskColumn] if taskColumn else []), *covariates]
    rows = clinicalRows(clinical, pd.Series(list(patients), index=patients), patients, wanted)
    batch = _labels(rows[batchColumn], batchColumn, "batch")
    _requireBatches(batch, batchColumn)
    task = None
    if taskColumn:
        task = _labels(rows[taskColumn], taskColumn, "task")
        classes = sorted(set(task))
        if len(classes) != 2:
            raise InputError(
                f"The task column '{taskColumn}' has {len(classes)} class(es) ({listed(classes)}); the "
                "downstream task needs exactly two (e.g. LGG and HGG)."
            )
    covariateFrame = _covariates(rows, list(covariates)) if covariates else None
    return EvaluationData(tables, batch, task, covariateFrame, dropped)


def _finite(values: pd.DataFrame, name: str) -> pd.DataFrame:
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        rows, columns = np.nonzero(bad)
        cells = [f"{values.index[r]}/{values.columns[c]}" for r, c in zip(rows, columns)]
        raise InputError(
            f"Feature table '{name}' has missing or infinite values ({listed(cells)}); fill them in or "
            "drop those features or patients."
        )
    return values


def _labels(values: pd.Series, column: str, what: str) -> pd.Series:
    missing = values.index[values.isna()]
    if len(missing):
        raise InputError(
            f"The {what} column '{column}' is empty for patient(s) {listed(missing)}; fill in their "
            f"{what} or leave them out of the tables."
        )
    return values.map(
        lambda value: str(int(value)) if isinstance(value, float) and value.is_integer() else str(value).strip()
    ).rename(column)


def _requireBatches(batch: pd.Series, column: str) -> None:
    counts = batch.value_counts()
    if len(counts) < 2:
        raise InputError(
            f"Only one batch ({listed(counts.index)}) is in column '{column}'; the evaluation compares "
            "batches: give a cohort from at least two."
        )
    single = sorted(counts.index[counts < 2])
    if single:
        raise InputError(
            f"Batch(es) {listed(single)} of column '{column}' have a single case; cross-validation and "
            "ComBat need at least 2 per batch. Merge it into a similar batch or leave it out."
        )


def _covariates(rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Covariates whose every value is a number as numbers, the others as text (ComBat's categories)."""
    frame = pd.DataFrame(index=rows.index)
    for name in names:
        numbers, text = parseNumbers(rows[name])
        frame[name] = numbers if not len(text) else rows[name].map(lambda v: v if pd.isna(v) else str(v).strip())
    return frame
