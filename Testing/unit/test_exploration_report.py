"""An exploration run writes every table and figure into a new folder, or nothing at all."""

import json

import pandas as pd
import pytest
from test_exploration_tables import syntheticTables

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.extract.exploration import (
    ExplorationOptions,
    exploreFeatures,
    saveCorrelationHeatmap,
)
from VirtualBiopsy.progress import CancelToken

PNG = b"\x89PNG\r\n\x1a\n"
EXPECTED_FILES = {
    "missing_values.csv",
    "features_prepared.csv",
    "statistics.csv",
    "statistics.xlsx",
    "univariate.csv",
    "spearman.csv",
    "spearman_heatmap.png",
    "volume_correlation.csv",
    "distributions.png",
    "summary.json",
}


def test_exploration_writes_tables_figures_and_summary(tmp_path):
    features, clinical = syntheticTables()
    reports = []
    result = exploreFeatures(features, clinical, "grade", tmp_path / "out", progress=lambda f, m: reports.append(f))
    out = tmp_path / "out"
    assert {path.name for path in out.iterdir()} == EXPECTED_FILES
    assert all(path.parent == out and path.is_file() for path in result.files.values())
    for name in ("spearman_heatmap.png", "distributions.png"):
        assert (out / name).read_bytes()[:8] == PNG
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["patients"] == {"HGG": 20, "LGG": 20} and summary["positiveClass"] == "LGG"
    assert summary["droppedForMissingValues"] == ["T1c_original_glcm_MostlyMissing", "T1c_original_glcm_Empty"]
    assert summary["constantFeatures"] == ["T1c_original_firstorder_Constant"]
    assert summary["significantFeatures"] == ["T1c_original_firstorder_Mean"]
    assert summary["volumeCorrelatedFeatures"] == ["T1c_original_shape_VoxelVolume", "T1c_original_shape_SurfaceArea"]
    assert summary["options"]["volumeColumn"] == "T1c_original_shape_MeshVolume"
    univariate = pd.read_csv(out / "univariate.csv", index_col="feature")
    pd.testing.assert_frame_equal(univariate, result.univariate, check_dtype=False)
    assert len(pd.read_excel(out / "statistics.xlsx")) == 6 * 3
    assert reports[-1] == 1.0 and reports == sorted(reports)


def test_without_a_volume_column_the_volume_step_is_skipped_and_noted(tmp_path):
    features, clinical = syntheticTables()
    features = features.drop(columns=[c for c in features.columns if "Volume" in c])
    result = exploreFeatures(
        features,
        clinical,
        "grade",
        tmp_path / "out",
        ExplorationOptions(maxMissingFraction=0.8, imputation="none", positiveClass="HGG"),
    )
    assert result.volumeCorrelation is None and not (tmp_path / "out" / "volume_correlation.csv").exists()
    assert any("volume correlation skipped" in note for note in result.summary["notes"])
    assert result.summary["positiveClass"] == "HGG"
    assert result.univariate.loc["T1c_original_firstorder_Mean", "direction"] == "higher in positive"


def test_bad_input_cancel_and_existing_outputs_leave_nothing_behind(tmp_path):
    features, clinical = syntheticTables()
    with pytest.raises(InputError, match="exactly two"):
        exploreFeatures(features, clinical.assign(grade=range(40)), "grade", tmp_path / "bad")
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        exploreFeatures(features, clinical, "grade", tmp_path / "cancelled", cancel=token)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match=r"not empty \(1 entries: keep.txt\)"):
        exploreFeatures(features, clinical, "grade", tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    exploreFeatures(features, clinical, "grade", tmp_path / "empty")
    assert (tmp_path / "empty" / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full"]
    with pytest.raises(InputError, match="exists already"):
        saveCorrelationHeatmap(pd.DataFrame([[1.0]]), tmp_path / "full" / "keep.txt")
