"""``virtual-biopsy explore`` end to end on synthetic tables with known separations."""

import json

import pytest
from test_exploration_tables import syntheticTables
from test_robustness_command import runCommand

from VirtualBiopsy.commands import explore
from VirtualBiopsy.errors import InputError


@pytest.fixture
def tables(tmp_path):
    features, clinical = syntheticTables()
    features.to_csv(tmp_path / "features.csv", index=False)
    clinical.assign(highGrade=(clinical["grade"] == "HGG").astype(int)).to_csv(tmp_path / "clinical.csv", index=False)
    return tmp_path / "features.csv", tmp_path / "clinical.csv"


def test_explore_writes_the_tables_and_figures(tables, tmp_path, capsys):
    features, clinical = tables
    out = tmp_path / "explore"
    status = runCommand(
        explore,
        [
            "explore",
            "--features",
            str(features),
            "--clinical",
            str(clinical),
            "--outcome",
            "highGrade",
            "--out",
            str(out),
            "--max-missing",
            "0.5",
        ],
    )
    assert status == 0
    names = {path.name for path in out.iterdir()}
    assert {
        "statistics.csv",
        "statistics.xlsx",
        "univariate.csv",
        "spearman_heatmap.png",
        "distributions.png",
        "volume_correlation.csv",
        "missing_values.csv",
        "summary.json",
    } <= names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["positiveClass"] == 1 and summary["patients"] == {"0": 20, "1": 20}
    assert summary["significantFeatures"] == ["T1c_original_firstorder_Mean"]
    assert summary["droppedForMissingValues"] == ["T1c_original_glcm_MostlyMissing", "T1c_original_glcm_Empty"]
    printed = capsys.readouterr().out
    assert "Significant after Bonferroni (α = 0.05): 1" in printed and "correlated with volume: 2" in printed


def test_explore_bad_input_raises_and_writes_nothing(tables, tmp_path):
    features, clinical = tables
    out = tmp_path / "explore"
    base = ["explore", "--features", str(features), "--clinical", str(clinical), "--out", str(out)]
    with pytest.raises(InputError, match="no 'stage' column"):
        runCommand(explore, [*base, "--outcome", "stage"])
    with pytest.raises(InputError, match=r"'site' has 1 class\(es\)"):
        runCommand(explore, [*base, "--outcome", "site"])
    with pytest.raises(InputError, match="Features table not found"):
        runCommand(
            explore,
            [
                "explore",
                "--features",
                str(tmp_path / "nope.csv"),
                "--clinical",
                str(clinical),
                "--outcome",
                "grade",
                "--out",
                str(out),
            ],
        )
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="not a readable CSV"):
        runCommand(
            explore,
            [
                "explore",
                "--features",
                str(tmp_path / "empty.csv"),
                "--clinical",
                str(clinical),
                "--outcome",
                "grade",
                "--out",
                str(out),
            ],
        )
    with pytest.raises(InputError, match="Volume column 'size'"):
        runCommand(explore, [*base, "--outcome", "grade", "--volume-column", "size"])
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clinical.csv", "empty.csv", "features.csv"]
