"""Joining features with a clinical outcome, missing values and hostile inputs (and the synthetic tables
the other exploration tests share)."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.exploration import (
    constantFeatures,
    handleMissingValues,
    missingValueReport,
    prepareExploration,
)


def syntheticTables(patients: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features (``patient``, ``label``, volume, a volume surrogate, a separating feature, noise, a constant,
    a mostly-missing and an all-missing feature) and clinical data (``grade``: LGG/HGG alternating, ``site``)."""
    rng = np.random.default_rng(seed)
    high = np.arange(patients) % 2 == 1
    volume = rng.lognormal(8, 0.5, patients)
    features = pd.DataFrame(
        {
            "patient": [f"P{index:03d}" for index in range(patients)],
            "label": 1,
            "T1c_original_shape_VoxelVolume": volume * 1.01,
            "T1c_original_shape_MeshVolume": volume,
            "T1c_original_shape_SurfaceArea": volume ** (2 / 3) * (1 + rng.normal(0, 0.01, patients)),
            "T1c_original_firstorder_Mean": rng.normal(0, 1, patients) + 2.5 * high,
            "T1c_original_glcm_Contrast": rng.normal(0, 1, patients),
            "T1c_original_firstorder_Constant": 3.0,
            "T1c_original_glcm_MostlyMissing": np.where(np.arange(patients) % 3 == 0, 1.0, np.nan),
            "T1c_original_glcm_Empty": np.nan,
        }
    )
    features.loc[5, "T1c_original_glcm_Contrast"] = np.nan
    clinical = pd.DataFrame(
        {"patient": features["patient"][::-1].to_numpy(), "grade": np.where(high, "HGG", "LGG")[::-1], "site": "A"}
    )
    return features, clinical


def test_tables_are_joined_by_patient_and_classes_ordered():
    features, clinical = syntheticTables()
    data = prepareExploration(features, clinical, "grade")
    assert list(data.features.index) == list(features["patient"])
    assert "label" not in data.features.columns and "patient" not in data.features.columns
    assert (data.negativeClass, data.positiveClass) == ("HGG", "LGG")
    assert list(data.outcome[:2]) == ["LGG", "HGG"] and data.isPositive[0] and not data.isPositive[1]
    assert prepareExploration(features, clinical, "grade", positiveClass="HGG").positiveClass == "HGG"
    numeric = clinical.assign(grade=(clinical["grade"] == "HGG").astype(int))
    assert prepareExploration(features, numeric, "grade").positiveClass == 1
    asFloat = numeric.assign(grade=numeric["grade"].astype(float))
    assert prepareExploration(features, asFloat, "grade", positiveClass="0").positiveClass == 0.0


def test_extra_clinical_patients_diagnostics_and_infinities_are_noted():
    features, clinical = syntheticTables()
    clinical = pd.concat([clinical, pd.DataFrame({"patient": ["X1"], "grade": ["LGG"]})])
    features["diagnostics_Versions_PyRadiomics"] = "v3.0.1"
    features.loc[0, "T1c_original_glcm_Contrast"] = np.inf
    data = prepareExploration(features, clinical, "grade")
    assert "diagnostics_Versions_PyRadiomics" not in data.features.columns
    assert np.isnan(data.features.iloc[0]["T1c_original_glcm_Contrast"])
    assert any("1 clinical patient" in note for note in data.notes)
    assert any("infinite" in note for note in data.notes) and any("diagnostics" in note for note in data.notes)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f, c: (f, c.assign(grade=["A", "B", "C", "D"] * 10)), r"4 class\(es\).*exactly two"),
        (lambda f, c: (f, c.assign(grade="LGG")), r"1 class\(es\)"),
        (lambda f, c: (f.assign(site="A"), c), r"column\(s\) site hold text.*remove them"),
        (
            lambda f, c: (f, c[c["patient"] != "P003"]),
            r"1 patient\(s\) of the features table are not in the clinical table: P003",
        ),
        (lambda f, c: (f, c.assign(grade=c["grade"].where(c["patient"] != "P007"))), r"empty for 1 patient\(s\): P007"),
        (lambda f, c: (f, c.drop(columns="grade")), "no 'grade' column"),
        (lambda f, c: (f.drop(columns="patient"), c), "no 'patient' column"),
        (lambda f, c: (pd.concat([f, f.iloc[:1]]), c), r"several rows for patient\(s\) P000"),
        (lambda f, c: (f, pd.concat([c, c.iloc[:1]])), "Clinical table has several rows"),
        (lambda f, c: (f.iloc[:3], c), r"fewer than 2 patients"),
    ],
)
def test_hostile_inputs_are_refused_with_the_fix(mutate, message):
    features, clinical = mutate(*syntheticTables())
    with pytest.raises(InputError, match=message):
        prepareExploration(features, clinical, "grade")
    with pytest.raises(InputError, match="Positive class 'GBM'"):
        prepareExploration(*syntheticTables(), "grade", positiveClass="GBM")


def test_missing_values_are_reported_dropped_and_imputed_by_the_median():
    features, clinical = syntheticTables()
    data = prepareExploration(features, clinical, "grade")
    report = missingValueReport(data.features)
    assert report.loc["T1c_original_glcm_Empty", "fraction"] == 1.0 and report.index[0] == "T1c_original_glcm_Empty"
    assert report.loc["T1c_original_glcm_MostlyMissing", "missing"] == 26
    assert report.loc["T1c_original_glcm_Contrast", "missing"] == 1
    result = handleMissingValues(data.features, maxMissingFraction=0.2)
    assert result.dropped == ["T1c_original_glcm_MostlyMissing", "T1c_original_glcm_Empty"]
    assert result.imputed == {"T1c_original_glcm_Contrast": 1}
    contrast = data.features["T1c_original_glcm_Contrast"]
    assert result.features.loc["P005", "T1c_original_glcm_Contrast"] == np.nanmedian(contrast)
    kept = handleMissingValues(data.features, maxMissingFraction=1.0, imputation="none")
    assert kept.dropped == ["T1c_original_glcm_Empty"] and kept.imputed == {}
    assert kept.features["T1c_original_glcm_MostlyMissing"].isna().sum() == 26
    assert constantFeatures(kept.features) == ["T1c_original_firstorder_Constant", "T1c_original_glcm_MostlyMissing"]
    with pytest.raises(InputError, match="Imputation 'mean' is unknown"):
        handleMissingValues(data.features, imputation="mean")
    with pytest.raises(InputError, match="fraction is 1.5"):
        handleMissingValues(data.features, maxMissingFraction=1.5)
    with pytest.raises(InputError, match="Every one of the 1 features"):
        handleMissingValues(data.features[["T1c_original_glcm_Empty"]])
