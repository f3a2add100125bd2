"""ExplorationLogic on real table nodes: the output nodes hold what the CSV files hold, the files
equal the library's on the same DataFrames, and bad input or a cancel leaves nothing behind."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.extract.exploration import ExplorationConfig, exploreFeatures
from VirtualBiopsy.extract.exploration.logic import (
    OUTPUT_FOLDER_ATTRIBUTE,
    ExplorationLogic,
)
from VirtualBiopsy.mrml.tables import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken

COMPARED_FILES = (
    "univariate.csv",
    "statistics.csv",
    "volume_correlation.csv",
    "spearman.csv",
    "missing_values.csv",
    "features_prepared.csv",
    "summary.json",
)


def cohortFrames(patients: int = 24, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features with a tumour volume, a volume surrogate, a feature that separates the classes, noise
    with a gap, and a constant; clinical data with a 0/1 outcome, its text form and a one-class column."""
    rng = np.random.default_rng(seed)
    positive = np.arange(patients) % 2 == 0
    volume = rng.lognormal(8.0, 0.6, patients)
    features = pd.DataFrame(
        {
            "patient": [f"case{index:02d}" for index in range(patients)],
            "label": np.ones(patients, dtype=int),
            "original_shape_MeshVolume": volume,
            "original_shape_SurfaceArea": volume ** (2 / 3) * (1 + rng.normal(0, 0.02, patients)),
            "original_firstorder_Mean": rng.normal(0, 1, patients) + 3.0 * positive,
            "original_glcm_Contrast": rng.normal(0, 1, patients),
            "original_firstorder_Constant": np.full(patients, 2.0),
        }
    )
    features.loc[3, "original_glcm_Contrast"] = np.nan
    clinical = pd.DataFrame(
        {
            "patient": features["patient"][::-1].to_numpy(),
            "highGrade": positive[::-1].astype(int),
            "grade": np.where(positive, "HGG", "LGG")[::-1],
            "site": "A",
        }
    )
    return features, clinical


@pytest.fixture
def tables(scene):
    features, clinical = cohortFrames()
    return dataFrameToTableNode(features, scene, "features"), dataFrameToTableNode(clinical, scene, "clinical")


def readCsv(path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")


def tableCount(scene) -> int:
    return scene.GetNumberOfNodesByClass("vtkMRMLTableNode")


def test_table_nodes_hold_the_csv_values_and_the_files_equal_the_library_on_frames(scene, tables, tmp_path):
    config = ExplorationConfig(outcomeColumn="highGrade", positiveClass="1", outputFolder=str(tmp_path / "run"))
    result = ExplorationLogic(scene).run(*tables, config)

    assert result.outputFolder == tmp_path / "run"
    pairs = [
        (result.univariate, "univariate.csv"),
        (result.statistics, "statistics.csv"),
        (result.volumeCorrelation, "volume_correlation.csv"),
    ]
    for node, fileName in pairs:
        assert node.GetScene() is scene and node.GetAttribute(OUTPUT_FOLDER_ATTRIBUTE) == str(tmp_path / "run")
        pd.testing.assert_frame_equal(
            tableNodeToDataFrame(node), readCsv(tmp_path / "run" / fileName), check_exact=True, check_like=False
        )
    univariate = tableNodeToDataFrame(result.univariate)
    assert list(univariate.columns[:3]) == ["feature", "nNegative", "nPositive"]
    assert univariate["significant"].dtype == bool

    features, clinical = cohortFrames()
    direct = exploreFeatures(
        features,
        clinical,
        "highGrade",
        tmp_path / "direct",
        ExplorationConfig(outcomeColumn="highGrade").explorationOptions(),
    )
    for fileName in COMPARED_FILES:
        assert (tmp_path / "run" / fileName).read_bytes() == (tmp_path / "direct" / fileName).read_bytes(), fileName
    assert result.summary == direct.summary
    assert result.summary["positiveClass"] == 1 and result.summary["patients"] == {"0": 12, "1": 12}
    assert result.significantFeatures == ["original_firstorder_Mean"]
    assert result.volumeCorrelatedFeatures == ["original_shape_SurfaceArea"]
    assert result.summary["constantFeatures"] == ["original_firstorder_Constant"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["direct", "run"]


def test_text_positive_class_reverses_the_auc_and_volume_step_is_optional(scene, tables, tmp_path):
    features, clinical = tables
    low = ExplorationLogic(scene).run(
        features,
        clinical,
        ExplorationConfig(
            outcomeColumn="grade", positiveClass="LGG", outputFolder=str(tmp_path / "low"), volumeColumn=""
        ),
    )
    high = ExplorationLogic(scene).run(
        features, clinical, ExplorationConfig(outcomeColumn="grade", outputFolder=str(tmp_path / "high"))
    )
    assert (low.summary["positiveClass"], high.summary["positiveClass"]) == ("LGG", "LGG")
    hgg = ExplorationLogic(scene).run(
        features,
        clinical,
        ExplorationConfig(outcomeColumn="grade", positiveClass="HGG", outputFolder=str(tmp_path / "hgg")),
    )
    aucLow = tableNodeToDataFrame(low.univariate).set_index("feature")["auc"]
    aucHigh = tableNodeToDataFrame(hgg.univariate).set_index("feature")["auc"]
    np.testing.assert_allclose(aucLow + aucHigh, 1.0, rtol=0, atol=1e-12)
    assert low.univariate.GetName() != high.univariate.GetName()

    noVolume = tableNodeToDataFrame(features).drop(columns="original_shape_MeshVolume")
    result = ExplorationLogic(scene).run(
        dataFrameToTableNode(noVolume, scene, "noVolume"),
        clinical,
        ExplorationConfig(outcomeColumn="highGrade", outputFolder=str(tmp_path / "noVolume")),
    )
    assert result.volumeCorrelation is None and "volumeCorrelation" not in result.files
    assert any("No tumour-volume column" in note for note in result.summary["notes"])


def test_empty_output_folder_setting_writes_a_new_temporary_folder(scene, tables, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = ExplorationLogic(scene).run(*tables, ExplorationConfig(outcomeColumn="highGrade"))
    second = ExplorationLogic(scene).run(*tables, ExplorationConfig(outcomeColumn="highGrade"))
    assert first.outputFolder.parent == tmp_path == second.outputFolder.parent
    assert first.outputFolder != second.outputFolder
    assert first.outputFolder.name.startswith("VirtualBiopsy-exploration-")
    assert (first.outputFolder / "univariate.csv").is_file() and (second.outputFolder / "summary.json").is_file()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"outcomeColumn": "stage"}, "no 'stage' column"),
        ({"outcomeColumn": "site"}, r"'site' has 1 class\(es\)"),
        ({"outcomeColumn": ""}, "No outcome column was chosen"),
        (
            {"positiveClass": "2"},
            r"Positive class '2' is not a value of the outcome column 'highGrade' \(values: 0, 1\)",
        ),
        ({"volumeColumn": "original_glcm_Missing"}, "Volume column 'original_glcm_Missing' is not a feature"),
        ({"maxMissingFraction": 0.0, "imputation": "none"}, None),
    ],
)
def test_bad_input_raises_and_writes_nothing(scene, tables, tmp_path, change, message):
    config = ExplorationConfig(outcomeColumn="highGrade", outputFolder=str(tmp_path / "out")).replace(**change)
    before = tableCount(scene)
    if message is None:  # a control: the same call with good settings works
        ExplorationLogic(scene).run(*tables, config)
        assert (tmp_path / "out" / "univariate.csv").is_file()
        return
    with pytest.raises(InputError, match=message):
        ExplorationLogic(scene).run(*tables, config)
    assert list(tmp_path.iterdir()) == [] and tableCount(scene) == before


def test_non_empty_output_folder_and_wrong_tables_are_refused(scene, tables, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    config = ExplorationConfig(outcomeColumn="highGrade", outputFolder=str(out))
    before = tableCount(scene)
    with pytest.raises(InputError, match=r"is not empty \(1 entries: notes.txt\)"):
        ExplorationLogic(scene).run(*tables, config)
    assert [path.name for path in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text(
        encoding="utf-8"
    ) == "keep me"
    assert [path.name for path in tmp_path.iterdir()] == ["out"]

    fresh = config.replace(outputFolder=str(tmp_path / "fresh"))
    with pytest.raises(InputError, match="No clinical table was given"):
        ExplorationLogic(scene).run(tables[0], None, fresh)
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode")
    with pytest.raises(InputError, match="Expected a table node, got vtkMRMLScalarVolumeNode"):
        ExplorationLogic(scene).run(volume, tables[1], fresh)
    with pytest.raises(InputError, match="Features table has no 'subject' column"):
        ExplorationLogic(scene).run(*tables, fresh, patientColumn="subject")
    assert [path.name for path in tmp_path.iterdir()] == ["out"] and tableCount(scene) == before


@pytest.mark.parametrize("stopAt", ["Checking the tables", "Spearman correlation", "Summary"])
def test_cancel_raises_and_writes_nothing(scene, tables, tmp_path, stopAt):
    cancel, messages = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        messages.append(message)
        if message == stopAt:
            cancel.cancel()

    before = tableCount(scene)
    config = ExplorationConfig(outcomeColumn="highGrade", outputFolder=str(tmp_path / "out"))
    with pytest.raises(CancelledError):
        ExplorationLogic(scene).run(*tables, config, progress=progress, cancel=cancel)
    assert stopAt in messages
    assert list(tmp_path.iterdir()) == [] and tableCount(scene) == before
