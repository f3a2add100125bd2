"""Features and clinical table → the feature matrix and diagnosis of each patient (through
:func:`VirtualBiopsy.outcome.cohortTable.joinCohort`)."""

from __future__ import annotations

import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.cohortTable import FEATURE_ID_COLUMNS, joinCohort


def classificationInput(features: pd.DataFrame, clinical: pd.DataFrame,
                        config: ClassificationConfig) -> tuple[pd.DataFrame, pd.Series]:
    """Join the tables and return the features (index = patient) and ``config.targetColumn``.

    Missing feature values are kept for imputation inside the training folds when
    ``config.imputation`` asks for it (the cohort table's checks run on a median-filled copy);
    otherwise they are refused. Constant features are left to
    :func:`~VirtualBiopsy.outcome.classification.trainingData.prepareFeatures` (dropped with a note).

    :raises InputError: for the cohort table's problems (ids, missing target, non-numeric features, ...).
    """
    inFolds = config.imputation != "none"
    cohort = joinCohort(features, clinical, config.patientColumn, targetColumn=config.targetColumn,
                        missingFeatures="median" if inFolds else "error", constantFeatures="keep")
    frame = cohort.features
    if inFolds:  # put back the missing values: they are imputed inside each training fold, not over the cohort
        frame = featureColumns(features, config.patientColumn).loc[cohort.patients, frame.columns].astype(float)
    return frame, cohort.target


def featureColumns(features: pd.DataFrame, patientColumn: str = "patient") -> pd.DataFrame:
    """The feature columns of a features table, indexed by patient (ids as text); identifier
    columns such as ``label`` are left out.

    :raises InputError: without the patient column, or with repeated or empty patient ids.
    """
    if patientColumn not in features.columns:
        raise InputError(f"The features table has no patient column '{patientColumn}'; it has: "
                         f"{', '.join(map(str, features.columns[:10]))}. Give the table 'virtual-biopsy extract' "
                         "wrote.")
    ids = features[patientColumn]
    if ids.isna().any() or ids.astype(str).str.strip().eq("").any():
        raise InputError(f"The features table has rows without a patient id in '{patientColumn}'; fill them in.")
    frame = features.set_index(features[patientColumn].astype(str)).drop(columns=[patientColumn])
    frame.index.name = patientColumn
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):
        raise InputError(f"The features table lists patient(s) more than once: {', '.join(repeated[:5])}; "
                         "keep one row per patient.")
    return frame.drop(columns=[c for c in FEATURE_ID_COLUMNS if c in frame.columns])
