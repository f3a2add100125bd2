"""Univariate tests, correlations and statistics against scipy, scikit-learn and numpy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from test_exploration_tables import syntheticTables

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.exploration import (
    basicStatistics,
    constantFeatures,
    findVolumeColumn,
    handleMissingValues,
    prepareExploration,
    spearmanMatrix,
    univariateTable,
    volumeCorrelationTable,
    writeStatistics,
)


@pytest.fixture
def data():
    features, clinical = syntheticTables()
    prepared = prepareExploration(features, clinical, "grade")
    prepared.features = handleMissingValues(prepared.features, maxMissingFraction=1.0, imputation="none").features
    return prepared


def test_mann_whitney_bonferroni_and_auc_equal_scipy_and_sklearn(data):
    tested = data.features.drop(columns=constantFeatures(data.features))
    table = univariateTable(tested, data.isPositive)
    assert len(table) == 5
    for name in tested.columns:
        values = tested[name].to_numpy()
        present = ~np.isnan(values)
        positive, negative = values[present & data.isPositive], values[present & ~data.isPositive]
        reference = stats.mannwhitneyu(positive, negative, alternative="two-sided")
        assert table.loc[name, "u"] == reference.statistic
        assert table.loc[name, "pValue"] == pytest.approx(reference.pvalue, rel=1e-12)
        assert table.loc[name, "pBonferroni"] == min(1.0, reference.pvalue * 5)
        assert table.loc[name, "auc"] == pytest.approx(roc_auc_score(data.isPositive[present], values[present]))
        assert table.loc[name, "aucBest"] == max(table.loc[name, "auc"], 1 - table.loc[name, "auc"])
        assert (table.loc[name, "nPositive"], table.loc[name, "nNegative"]) == (len(positive), len(negative))
    mean = table.loc["T1c_original_firstorder_Mean"]
    # HGG (negative) patients were given +2.5: lower in the positive class (LGG), significant after correction.
    assert mean["direction"] == "lower in positive" and mean["auc"] < 0.2 and mean["significant"]
    assert not table.loc["T1c_original_glcm_Contrast", "significant"]
    assert (table["pBonferroni"] <= 1).all() and (table["pBonferroni"] >= table["pValue"]).all()


def test_separated_and_constant_features_have_known_answers():
    isPositive = np.array([False] * 4 + [True] * 4)
    table = univariateTable(pd.DataFrame({"up": np.arange(8.0), "down": -np.arange(8.0), "flat": 1.0}), isPositive)
    assert table.loc["up", "auc"] == 1.0 and table.loc["up", "direction"] == "higher in positive"
    assert table.loc["down", "auc"] == 0.0 and table.loc["down", "aucBest"] == 1.0
    assert table.loc["up", "pValue"] == pytest.approx(stats.mannwhitneyu(np.arange(4, 8), np.arange(4)).pvalue)
    assert (
        table.loc["flat", "pValue"] == 1.0
        and table.loc["flat", "auc"] == 0.5
        and table.loc["flat", "direction"] == "none"
    )
    with pytest.raises(InputError, match="one class is empty"):
        univariateTable(pd.DataFrame({"up": np.arange(8.0)}), np.ones(8, bool))
    with pytest.raises(InputError, match="alpha is 5"):
        univariateTable(pd.DataFrame({"up": np.arange(8.0)}), isPositive, alpha=5)


def test_spearman_matrix_and_volume_correlation_equal_scipy(data):
    features = data.features.drop(columns=["T1c_original_glcm_MostlyMissing"])
    matrix = spearmanMatrix(features)
    complete = features.dropna()
    reference = stats.spearmanr(complete.drop(columns="T1c_original_firstorder_Constant").to_numpy()).statistic
    mine = spearmanMatrix(complete.drop(columns="T1c_original_firstorder_Constant")).to_numpy()
    np.testing.assert_allclose(mine, reference, rtol=1e-12)
    assert matrix["T1c_original_firstorder_Constant"].isna().all()
    assert findVolumeColumn(features.columns) == "T1c_original_shape_MeshVolume"
    assert findVolumeColumn(["a", "T2_original_shape_VoxelVolume"]) == "T2_original_shape_VoxelVolume"
    assert findVolumeColumn(["a", "b"]) is None
    with pytest.raises(InputError, match="Volume column 'size' is not a feature.*T1c_original_shape_VoxelVolume"):
        findVolumeColumn(features.columns, "size")
    table = volumeCorrelationTable(features, "T1c_original_shape_MeshVolume")
    assert "T1c_original_shape_MeshVolume" not in table.index
    assert table.loc["T1c_original_shape_VoxelVolume", "rho"] == pytest.approx(1.0)
    assert list(table.index[table["flagged"]]) == ["T1c_original_shape_VoxelVolume", "T1c_original_shape_SurfaceArea"]
    contrast = features["T1c_original_glcm_Contrast"].notna()
    expected = stats.spearmanr(
        features.loc[contrast, "T1c_original_glcm_Contrast"], features.loc[contrast, "T1c_original_shape_MeshVolume"]
    )
    assert table.loc["T1c_original_glcm_Contrast", "rho"] == pytest.approx(expected.statistic)
    assert table.loc["T1c_original_glcm_Contrast", "pValue"] == pytest.approx(expected.pvalue)
    assert np.isnan(table.loc["T1c_original_firstorder_Constant", "rho"])
    assert not table.loc["T1c_original_firstorder_Constant", "flagged"]


def test_basic_statistics_equal_numpy_and_round_trip_through_csv_and_xlsx(data, tmp_path):
    table = basicStatistics(data.features, data.outcome)
    assert list(table["group"].unique()) == ["all", "grade=HGG", "grade=LGG"]
    row = table[(table["feature"] == "T1c_original_glcm_Contrast") & (table["group"] == "grade=LGG")].iloc[0]
    values = data.features.loc[data.outcome == "LGG", "T1c_original_glcm_Contrast"]
    present = values.dropna().to_numpy()
    assert (row["count"], row["missing"]) == (len(present), values.isna().sum())
    assert row["mean"] == pytest.approx(present.mean()) and row["sd"] == pytest.approx(present.std(ddof=1))
    assert row["median"] == pytest.approx(np.median(present))
    assert row["iqr"] == pytest.approx(np.subtract(*np.percentile(present, [75, 25])))
    assert (row["min"], row["max"]) == (present.min(), present.max())
    empty = table[table["feature"] == "T1c_original_glcm_MostlyMissing"]
    assert (empty["count"] + empty["missing"]).tolist() == [40, 20, 20]
    writeStatistics(table, tmp_path / "s.csv", tmp_path / "s.xlsx")
    fromCsv = pd.read_csv(tmp_path / "s.csv")
    fromXlsx = pd.read_excel(tmp_path / "s.xlsx", sheet_name="statistics", engine="openpyxl")
    pd.testing.assert_frame_equal(fromCsv, fromXlsx, check_dtype=False)
    pd.testing.assert_frame_equal(fromCsv, table, check_dtype=False)
    with pytest.raises(InputError, match="exists already"):
        writeStatistics(table, tmp_path / "s.csv", tmp_path / "other.xlsx")
