"""Features and clinical table → the feature matrix and diagnosis of each patient (through
:func:`VirtualBiopsy.outcome.cohortTable.joinCohort`)."""

from __future__ import annotations

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.cohortTable import FEATURE_ID_COLUMNS, joinCohort


def classificationInput(
    features: pd.DataFrame, clinical: pd.DataFrame, config: ClassificationConfig
) -> tuple[pd.DataFrame, pd.Series]:
    """Join the tables and return the features (index = patient) and ``config.targetColumn``.

    The cohort table checks the ids, the target and the feature types; missing and constant
    feature values are left to
    :func:`~VirtualBiopsy.outcome.classification.trainingData.prepareFeatures`, which refuses
    missing values unless ``config.imputation`` imputes them inside the training folds, and drops
    constant or empty features with a note.

    :raises InputError: for the cohort table's problems (ids, missing target, non-numeric features, ...).
    """
    raw = featureColumns(features, config.patientColumn)
    target = cohortTarget(features, clinical, config.patientColumn, config.targetColumn)
    return raw.loc[target.index].astype(float), target


def cohortTarget(features: pd.DataFrame, clinical: pd.DataFrame, patientColumn: str, targetColumn: str) -> pd.Series:
    """The target of each patient of ``features`` (index = patient, in the features' order), after the
    cohort table's checks of ids, feature types and target; missing and constant feature values are
    not its business here (the classifiers handle them).

    :raises InputError: for unmatched or repeated ids, non-numeric features or a missing target.
    """
    columns = [column for column in features.columns if column != patientColumn]
    filled = features.fillna({column: 0 for column in columns})
    cohort = joinCohort(
        filled, clinical, patientColumn, targetColumn=targetColumn, missingFeatures="error", constantFeatures="keep"
    )
    return cohort.target


def featureColumns(features: pd.DataFrame, patientColumn: str = "patient") -> pd.DataFrame:
    """The feature columns of a features table, indexed by patient (ids as text); identifier
    columns such as ``label`` are left out.

    :raises InputError: without the patient column, or with repeated or empty patient ids.
    """
    if patientColumn not in features.columns:
        raise InputError(
            f"The features table has no patient column '{patientColumn}'; it has: "
            f"{', '.join(map(str, features.columns[:10]))}. Give the table 'virtual-biopsy extract' "
            "wrote."
        )
    ids = features[patientColumn]
    if ids.isna().any() or ids.astype(str).str.strip().eq("").any():
        raise InputError(f"The features table has rows without a patient id in '{patientColumn}'; fill them in.")
    frame = features.set_index(features[patientColumn].astype(str)).drop(columns=[patientColumn])
    frame.index.name = patientColumn
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):
        raise InputError(
            f"The features table lists patient(s) more than once: {', '.join(repeated[:5])}; keep one row per patient."
        )
    return frame.drop(columns=[c for c in FEATURE_ID_COLUMNS if c in frame.columns])
