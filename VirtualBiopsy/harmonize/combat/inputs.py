"""Checks of ComBat's inputs and the encoding of its covariates into design columns.

Numeric covariates enter the design as they are; categorical ones (text, booleans, or
any column named in ``categorical``) are one-hot encoded against their first level in
sorted order (R's treatment coding), with the fitted levels kept so that a new case is
encoded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

#: At most this many rows, features or values are named in one message.
MAXIMUM_LISTED = 8


@dataclass(frozen=True)
class CovariateEncoding:
    """How one covariate becomes design columns.

    :ivar name: the covariate's column name.
    :ivar kind: ``"numeric"`` (one column, the value) or ``"categorical"`` (one column per
        level after the first, 1 where the case has that level).
    :ivar levels: the fitted levels of a categorical covariate, sorted; ``()`` for numeric ones.
    """

    name: str
    kind: str
    levels: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The design columns this covariate contributes."""
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={level}" for level in self.levels[1:]]

    def encode(self, values: pd.Series) -> np.ndarray:
        """The design columns (cases × columns) of ``values``, already checked for missing values.

        :raises InputError: for a non-numeric value of a numeric covariate or a level not seen in the fit.
        """
        if self.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.index[numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float))]
            if len(bad):
                raise InputError(
                    f"Covariate '{self.name}' is numeric but has non-numeric or infinite values in "
                    f"rows {listed(bad)} ({listed(values[bad].unique())}); give numbers there."
                )
            return numbers.to_numpy(dtype=np.float64).reshape(-1, 1)
        texts = values.map(str)
        unknown = sorted(set(texts) - set(self.levels))
        if unknown:
            raise InputError(
                f"Covariate '{self.name}' has level(s) {listed(unknown)} that the ComBat model was not "
                f"fitted with (known levels: {', '.join(self.levels)}); recode them to a known level "
                "or refit the model on a cohort that has them."
            )
        columns = [(texts == level).to_numpy(dtype=np.float64) for level in self.levels[1:]]
        return np.column_stack(columns) if columns else np.empty((len(texts), 0))


def listed(values) -> str:
    """``values`` as a short comma-separated list (the first :data:`MAXIMUM_LISTED`, then a count)."""
    values = [str(value) for value in values]
    shown = ", ".join(values[:MAXIMUM_LISTED])
    return shown + (f" and {len(values) - MAXIMUM_LISTED} more" if len(values) > MAXIMUM_LISTED else "")


def checkFeatures(features: pd.DataFrame, expected: tuple[str, ...] | None = None) -> np.ndarray:
    """The feature values as a float64 array (cases × features), after every check.

    :param expected: the model's features (any column order is accepted; ``None`` when fitting).
    :raises InputError: for a non-DataFrame, no rows, duplicate, missing or extra columns,
        non-numeric columns, or missing or infinite values (each named with its rows).
    """
    if not isinstance(features, pd.DataFrame):
        raise InputError(
            f"ComBat features must be a pandas DataFrame (cases × features), got {type(features).__name__}."
        )
    if features.empty or features.shape[0] == 0:
        raise InputError(
            f"The feature table has no rows or no columns (shape {features.shape}); give one row per case."
        )
    names = [str(column) for column in features.columns]
    duplicates = sorted(set(pd.Index(names)[pd.Index(names).duplicated()]))
    if duplicates:
        raise InputError(f"The feature table repeats column(s) {listed(duplicates)}; give each feature once.")
    if expected is not None:
        given, wanted = set(names), set(expected)
        missing = [name for name in expected if name not in given]
        extra = [name for name in names if name not in wanted]
        if missing or extra:
            raise InputError(
                "The feature table's columns are not the ComBat model's features: "
                + (f"missing {listed(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"not in the model {listed(extra)}" if extra else "")
                + ". Pass exactly the features the model was fitted on (drop id and label columns)."
            )
    nonNumeric = [
        name
        for name, dtype in zip(names, features.dtypes)
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
    ]
    if nonNumeric:
        raise InputError(
            f"Feature column(s) {listed(nonNumeric)} are not numeric; ComBat harmonizes numbers only. "
            "Drop them or keep them aside as pass-through columns (e.g. patient, label)."
        )
    values = features.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows = features.index[bad.any(axis=1)]
        columns = [names[i] for i in np.flatnonzero(bad.any(axis=0))]
        raise InputError(
            f"The feature table has {int(bad.sum())} missing or infinite value(s) in feature(s) "
            f"{listed(columns)} (rows {listed(rows)}); ComBat needs complete numbers. Drop those "
            "features or impute them first."
        )
    return values


def checkBatch(batch: pd.Series, index: pd.Index) -> pd.Series:
    """The batch labels as text, aligned with the feature rows.

    :raises InputError: for a non-Series, an index other than the features' or missing labels.
    """
    if not isinstance(batch, pd.Series):
        raise InputError(f"ComBat's batch must be a pandas Series (one label per case), got {type(batch).__name__}.")
    _requireSameIndex(batch.index, index, "batch")
    missing = batch.index[batch.isna().to_numpy() | (batch.astype(str).str.strip() == "").to_numpy()]
    if len(missing):
        raise InputError(
            f"The batch is missing for row(s) {listed(missing)}; give every case its batch "
            "(site, scanner, ...) or leave those cases out."
        )
    return batch.map(str)


def checkCovariates(covariates: pd.DataFrame | None, index: pd.Index, names: list[str] | None = None) -> pd.DataFrame:
    """The covariates (only ``names`` when given), aligned with the feature rows, with no missing values.

    :raises InputError: for a non-DataFrame, an index other than the features', a missing
        column, duplicate names or missing values (each named with its rows).
    """
    if covariates is None:
        if names:
            raise InputError(
                f"The ComBat model needs covariate(s) {listed(names)}; pass them (a DataFrame with one row per case)."
            )
        return pd.DataFrame(index=index)
    if not isinstance(covariates, pd.DataFrame):
        raise InputError(f"ComBat covariates must be a pandas DataFrame or None, got {type(covariates).__name__}.")
    _requireSameIndex(covariates.index, index, "covariates")
    columns = [str(column) for column in covariates.columns]
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise InputError(f"The covariates repeat column(s) {listed(duplicates)}; give each covariate once.")
    covariates = covariates.set_axis(columns, axis=1)
    if names is not None:
        missing = [name for name in names if name not in columns]
        if missing:
            raise InputError(
                f"The covariates have no column {listed(missing)} (columns: {listed(columns)}); "
                "the ComBat model was fitted with them: pass them."
            )
        covariates = covariates[names]
    for name in covariates.columns:
        column = covariates[name]
        empty = column.isna() | (column.map(lambda value: isinstance(value, str) and not value.strip()))
        if empty.any():
            raise InputError(
                f"Covariate '{name}' is missing for row(s) {listed(covariates.index[empty.to_numpy()])}; "
                "fill them in, leave those cases out, or drop the covariate."
            )
    return covariates


def encodingsFor(covariates: pd.DataFrame, categorical: list[str] | tuple[str, ...] = ()) -> list[CovariateEncoding]:
    """The encoding of each covariate fitted on ``covariates`` (checked already).

    :raises InputError: for a categorical covariate named in ``categorical`` that is not a column.
    """
    unknown = [name for name in categorical if name not in covariates.columns]
    if unknown:
        raise InputError(
            f"Categorical covariate(s) {listed(unknown)} are not among the covariates "
            f"({listed(covariates.columns) or 'none'}); name covariates that are given."
        )
    encodings = []
    for name in covariates.columns:
        column = covariates[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if numeric and name not in categorical:
            encodings.append(CovariateEncoding(name, "numeric"))
        else:
            levels = tuple(sorted(set(column.map(str))))
            if len(levels) < 2:
                raise InputError(
                    f"Categorical covariate '{name}' has a single level ({levels[0]}) in the cohort; "
                    "it cannot be adjusted for. Drop it from the covariates."
                )
            encodings.append(CovariateEncoding(name, "categorical", levels))
    columns = [column for encoding in encodings for column in encoding.columns]
    clashes = sorted({column for column in columns if columns.count(column) > 1})
    if clashes:
        raise InputError(
            f"The covariates' design columns {listed(clashes)} clash (a covariate is named like another's "
            "'name=level' column); rename that covariate."
        )
    return encodings


def covariateDesign(
    covariates: pd.DataFrame, encodings: list[CovariateEncoding] | tuple[CovariateEncoding, ...]
) -> np.ndarray:
    """The covariate part of the design (cases × covariate columns)."""
    parts = [encoding.encode(covariates[encoding.name]) for encoding in encodings]
    parts = [part for part in parts if part.shape[1]]
    return np.hstack(parts) if parts else np.empty((len(covariates), 0))


def _requireSameIndex(given: pd.Index, index: pd.Index, what: str) -> None:
    if not given.equals(index):
        raise InputError(
            f"The {what} rows do not match the feature rows (index {listed(given[:3])}... against "
            f"{listed(index[:3])}...); give them the features' index, e.g. "
            f"clinical.set_index('patient').loc[features.index]."
        )
    if not index.is_unique:
        raise InputError(
            f"The feature rows' index repeats {listed(index[index.duplicated()].unique())}; give each "
            "case a unique index (e.g. features.reset_index(drop=True))."
        )
