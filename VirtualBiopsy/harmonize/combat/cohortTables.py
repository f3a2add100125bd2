"""ComBat on cohort tables: a feature table (``patient``, pass-through columns such as
``label``, then features) and a clinical table (``patient``, the batch column, covariates).

The tables may hold text (as read from CSV) or numbers (as read from table nodes). The
harmonized table has the input's columns in the input's order and its rows in the
input's order; only the model's feature columns change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat.inputs import listed
from VirtualBiopsy.harmonize.combat.model import ComBatModel, fitComBat
from VirtualBiopsy.progress import CancelToken, ProgressCallback

#: The id column of both tables.
PATIENT = "patient"
#: Columns of a feature table that are not features unless the caller says otherwise.
DEFAULT_PASS_THROUGH = ("label",)


def fitTables(
    featureTable: pd.DataFrame,
    clinical: pd.DataFrame,
    batchColumn: str,
    covariates: list[str] | tuple[str, ...] = (),
    method: str = "parametric",
    referenceBatch: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    passThrough: list[str] | tuple[str, ...] = DEFAULT_PASS_THROUGH,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ComBatModel:
    """Fit ComBat on every column of ``featureTable`` except ``patient`` and ``passThrough``.

    :raises InputError: for missing columns or patients, non-numeric features, or anything
        :func:`~VirtualBiopsy.harmonize.combat.model.fitComBat` refuses.
    """
    if batchColumn in covariates:
        raise InputError(
            f"The batch column '{batchColumn}' is also listed as a covariate; a covariate to preserve "
            "cannot be the batch to remove. Drop it from the covariates."
        )
    index = patientIndex(featureTable, "feature table")
    names = [str(c) for c in featureTable.columns if str(c) != PATIENT and str(c) not in passThrough]
    features = numericFeatures(featureTable, names, index)
    rows = clinicalRows(clinical, featureTable[PATIENT], index, [batchColumn, *covariates])
    kinds = {
        name: "categorical" if name in categorical or not _allNumeric(rows[name]) else "numeric" for name in covariates
    }
    covariateFrame = _covariateFrame(rows, kinds) if covariates else None
    return fitComBat(
        features,
        _batchLabels(rows[batchColumn], batchColumn),
        covariateFrame,
        method,
        None if referenceBatch is None else str(referenceBatch),
        [name for name, kind in kinds.items() if kind == "categorical"],
        progress,
        cancel,
    )


def harmonizeTable(
    model: ComBatModel,
    featureTable: pd.DataFrame,
    clinical: pd.DataFrame,
    batchColumn: str | None = None,
    unseenBatch: str = "error",
) -> pd.DataFrame:
    """``featureTable`` with the model's features harmonized, every other column as it was.

    :param batchColumn: the clinical column of the batch (default: the one the model was fitted with).
    :raises InputError: for a model feature missing from the table, missing patients or columns,
        or anything :meth:`ComBatModel.apply` refuses.
    """
    batchColumn = batchColumn or model.batchName
    if not batchColumn:
        raise InputError("The ComBat model does not name its batch column; give it (--batch COLUMN).")
    index = patientIndex(featureTable, "feature table")
    columns = {str(column): column for column in featureTable.columns}
    missing = [name for name in model.features if name not in columns]
    if missing:
        raise InputError(
            f"The feature table lacks the model's feature(s) {listed(missing)}; give a table with every "
            "feature the model was fitted on."
        )
    features = numericFeatures(featureTable, list(model.features), index)
    rows = clinicalRows(clinical, featureTable[PATIENT], index, [batchColumn, *model.covariateNames])
    kinds = {encoding.name: encoding.kind for encoding in model.covariates}
    harmonized = model.apply(
        features, _batchLabels(rows[batchColumn], batchColumn), _covariateFrame(rows, kinds), unseenBatch
    )
    result = featureTable.copy()
    for name in model.features:
        column = columns[name]
        values = harmonized[name].to_numpy()
        if featureTable[column].dtype == object:  # text cells of unchanged values are kept as written
            unchanged = values == features[name].to_numpy()
            values = np.where(unchanged, featureTable[column].to_numpy(), values.astype(object))
        result[column] = values
    return result


def patientIndex(table: pd.DataFrame, what: str) -> pd.Index:
    """Row labels for messages and alignment: the patient, or ``"<patient> (row N)"`` where a patient repeats.

    :raises InputError: without a ``patient`` column or with an empty patient cell.
    """
    if not isinstance(table, pd.DataFrame) or PATIENT not in map(str, table.columns):
        columns = listed(table.columns) if isinstance(table, pd.DataFrame) else type(table).__name__
        raise InputError(f"The {what} has no '{PATIENT}' column (columns: {columns}); add the patient identifiers.")
    patients = table[PATIENT].map(lambda value: "" if pd.isna(value) else str(value).strip())
    empty = [str(row + 1) for row in range(len(patients)) if not patients.iloc[row]]
    if empty:
        raise InputError(f"The {what} has no patient identifier in row(s) {listed(empty)}; fill them in.")
    repeated = patients.duplicated(keep=False).to_numpy()
    labels = [f"{p} (row {row + 1})" if repeated[row] else p for row, p in enumerate(patients)]
    return pd.Index(labels, dtype=object)


def numericFeatures(table: pd.DataFrame, names: list[str], index: pd.Index) -> pd.DataFrame:
    """The feature columns as float64 (empty cells become NaN, which ComBat then refuses).

    :raises InputError: for no features or a cell that is text other than a number.
    """
    if not names:
        raise InputError(
            f"The feature table has no feature columns besides '{PATIENT}' and the pass-through columns; "
            "give a table of numeric features."
        )
    columns, byName = {}, {str(column): column for column in table.columns}
    for name in names:
        values, bad = parseNumbers(table[byName[name]])
        if len(bad):
            raise InputError(
                f"Feature column '{name}' holds text that is not a number ({listed(bad.unique()[:3])}); "
                "drop that column or name it as a pass-through column."
            )
        columns[name] = values
    return pd.DataFrame(columns, index=index)


def parseNumbers(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``(float64 array, the cells that are not numbers)``; empty cells become NaN.

    Text is parsed with Python's correctly rounded ``float`` (``pandas.to_numeric`` can be
    one unit in the last place off), so a number read from text equals the number written.
    """
    numbers = np.array([_number(value) for value in values], dtype=np.float64)
    bad = np.isnan(numbers) & ~values.map(_isEmpty).to_numpy(dtype=bool)
    return numbers, values[bad]


def _number(value) -> float:
    """``value`` as a float; NaN for empty cells and for anything that is not a number."""
    if isinstance(value, (bool, np.bool_)):
        return float("nan")
    if isinstance(value, str):
        value = value.strip()
        if not value or "_" in value:  # float() accepts 1_000; a CSV reader does not
            return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _isEmpty(value) -> bool:
    if isinstance(value, str):
        return not value.strip() or value.strip().lower() == "nan"
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def clinicalRows(clinical: pd.DataFrame, patients: pd.Series, index: pd.Index, columns: list[str]) -> pd.DataFrame:
    """The clinical ``columns`` of each feature-table row, found by patient (text; empty cells as NaN).

    :raises InputError: for a missing column, a patient listed twice or absent from the clinical table.
    """
    patientIndex(clinical, "clinical table")
    absent = [name for name in columns if name not in map(str, clinical.columns)]
    if absent:
        raise InputError(
            f"The clinical table has no column {listed(absent)} (columns: {listed(clinical.columns)}); "
            "give the batch and covariate columns it has."
        )
    table = clinical.set_axis([str(c) for c in clinical.columns], axis=1)
    clinicalIndex = pd.Index(table[PATIENT].map(lambda value: str(value).strip()), dtype=object)
    repeated = clinicalIndex[clinicalIndex.duplicated()].unique()
    if len(repeated):
        raise InputError(
            f"The clinical table lists patient(s) {listed(repeated)} more than once; keep one row per patient."
        )
    table = table[columns].set_axis(clinicalIndex, axis=0)
    wanted = patients.map(lambda value: str(value).strip())
    unknown = sorted(set(wanted) - set(clinicalIndex))
    if unknown:
        raise InputError(
            f"Patient(s) {listed(unknown)} of the feature table are not in the clinical table; add "
            "their clinical rows or leave them out."
        )
    rows = table.loc[wanted.to_list()].set_axis(index, axis=0)
    return rows.map(lambda value: float("nan") if isinstance(value, str) and not value.strip() else value)


def _covariateFrame(rows: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Covariates as numbers or text, as their kind says (missing cells stay missing)."""
    frame = pd.DataFrame(index=rows.index)
    for name, kind in kinds.items():
        if kind == "numeric":
            numbers, text = parseNumbers(rows[name])
            frame[name] = numbers
            if len(text):
                raise InputError(
                    f"Covariate '{name}' is numeric in the ComBat model but has text "
                    f"({listed(text.unique()[:3])}) in row(s) {listed(text.index)}; give numbers."
                )
        else:
            frame[name] = rows[name].map(lambda value: value if pd.isna(value) else _text(value))
    return frame


def _batchLabels(values: pd.Series, batchColumn: str) -> pd.Series:
    """Batch labels as text, named after their column (a typed table's 3.0 reads as 3, as in a CSV file)."""
    return values.map(lambda value: value if pd.isna(value) else _text(value)).rename(batchColumn)


def _allNumeric(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(len(present)) and not len(parseNumbers(present)[1]) and not pd.api.types.is_bool_dtype(values)


def _text(value) -> str:
    """Categorical values as text; whole floats read from a typed table (2.0) as their integer text (2)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
