"""The two inputs of a classifier, checked: a binary target and a numeric feature matrix."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

#: At most this many names are listed in one message.
_LISTED = 5


@dataclass
class BinaryTarget:
    """A diagnosis as 1 (``positiveClass``) and 0 (every value in ``negativeClasses``).

    :ivar column: the clinical column it came from.
    :ivar positiveClass: the value counted as positive.
    :ivar negativeClasses: the other values (one, or several for one-vs-rest).
    """

    column: str
    positiveClass: str
    negativeClasses: list[str]

    @property
    def negativeLabel(self) -> str:
        """The negative class as people read it: its value, or ``rest`` for one-vs-rest."""
        return self.negativeClasses[0] if len(self.negativeClasses) == 1 else f"not {self.positiveClass}"

    def toDict(self) -> dict:
        """Plain dictionary for ``model.json``."""
        return {"column": self.column, "positiveClass": self.positiveClass, "negativeClasses": self.negativeClasses}


@dataclass
class PreparedFeatures:
    """Feature matrix ready for the classifiers.

    :ivar frame: the kept feature columns (float), one row per patient.
    :ivar inputColumns: every feature column of the input, in order, with its dtype.
    :ivar dropped: input columns the models ignore, with the reason.
    """

    frame: pd.DataFrame
    inputColumns: list[tuple[str, str]]
    dropped: dict[str, str] = field(default_factory=dict)


def binaryTarget(values: pd.Series, positiveClass: str = "", column: str = "target") -> tuple[pd.Series, BinaryTarget]:
    """Encode a diagnosis column as 1 (positive) / 0.

    Values are compared as text (``1`` and ``1.0`` in a numeric column both read ``1``).
    With two values and no ``positiveClass`` the larger one (sorted as text) is positive;
    with more than two, ``positiveClass`` is required and the others become the negative
    class (one-vs-rest).

    :returns: the 0/1 labels (same index) and the encoding.
    :raises InputError: for missing values, a single class, an unknown positive class, or more than
        two classes without a positive class.
    """
    missing = values.index[values.isna()]
    if len(missing):
        raise InputError(
            f"The target column '{column}' is empty for {len(missing)} patient(s) "
            f"({_listed(missing)}); fill in their diagnosis or remove them from the tables."
        )
    text = _asText(values)
    classes = sorted(text.unique())
    if len(classes) < 2:
        only = classes[0] if classes else "none"
        raise InputError(
            f"The target column '{column}' has one class only ({only} for all {len(text)} patients); "
            "a classifier needs patients of two classes."
        )
    positive = str(positiveClass).strip()
    if positive and positive not in classes:
        raise InputError(
            f"The positive class '{positive}' does not occur in the target column '{column}' "
            f"(its values: {', '.join(classes[:10])}); give one of them."
        )
    if len(classes) > 2 and not positive:
        raise InputError(
            f"The target column '{column}' has {len(classes)} classes ({', '.join(classes[:10])}); "
            "the classifiers are binary. Name the positive class (--positive-class VALUE) to classify it "
            "against all the others (one-vs-rest), or merge the classes first."
        )
    positive = positive or classes[-1]
    labels = (text == positive).astype(int).rename(column)
    return labels, BinaryTarget(column, positive, [value for value in classes if value != positive])


def prepareFeatures(features: pd.DataFrame, imputation: str = "none") -> PreparedFeatures:
    """Check the feature columns and drop those that carry nothing.

    Columns without any value or with a single value over the patients are dropped
    (logged and listed in :attr:`PreparedFeatures.dropped`): they cannot inform a model.

    :param imputation: ``none`` refuses missing values; otherwise they are left for the model's imputer.
    :raises InputError: for no feature columns, non-numeric or infinite values, missing values without
        imputation, or nothing left after dropping.
    """
    if features.shape[1] == 0 or len(features) == 0:
        raise InputError(
            f"The feature table has {len(features)} patient(s) and {features.shape[1]} feature column(s); "
            "give a table with one row per patient and numeric feature columns."
        )
    nonNumeric = [
        str(c)
        for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
    ]
    if nonNumeric:
        raise InputError(
            f"{len(nonNumeric)} feature column(s) are not numeric ({_listed(nonNumeric)}); encode them "
            "as numbers or remove them from the feature table."
        )
    values = features.astype(float)
    infinite = [str(c) for c in values.columns if np.isinf(values[c]).any()]
    if infinite:
        raise InputError(
            f"{len(infinite)} feature column(s) hold infinite values ({_listed(infinite)}); fix or remove them."
        )
    dropped: dict[str, str] = {}
    for name in values.columns:
        present = values[name].dropna()
        if present.empty:
            dropped[str(name)] = "no values"
        elif present.nunique() == 1:
            dropped[str(name)] = f"constant ({present.iloc[0]:g} for every patient)"
    if dropped:
        logger.info("Dropped %d feature(s) that carry no information: %s", len(dropped), _listed(list(dropped)))
    kept = values.drop(columns=list(dropped))
    if kept.shape[1] == 0:
        raise InputError(
            f"All {features.shape[1]} feature column(s) are constant or empty; the classifiers need "
            "features that differ between patients."
        )
    if imputation == "none":
        incomplete = {str(c): int(kept[c].isna().sum()) for c in kept.columns if kept[c].isna().any()}
        if incomplete:
            shown = ", ".join(f"{name} ({count})" for name, count in list(incomplete.items())[:_LISTED])
            raise InputError(
                f"{len(incomplete)} feature column(s) have missing values: {shown}"
                f"{', ...' if len(incomplete) > _LISTED else ''}. Impute them inside the training folds "
                "(--impute median, imputation='median') or remove those features or patients."
            )
    inputColumns = [(str(c), str(features[c].dtype)) for c in features.columns]
    return PreparedFeatures(kept, inputColumns, dropped)


def _asText(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values) and np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        values = values.astype(np.int64)
    return values.astype(str).str.strip()


def _listed(names) -> str:
    names = [str(name) for name in names]
    return ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
