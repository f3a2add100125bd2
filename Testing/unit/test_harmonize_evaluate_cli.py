"""``virtual-biopsy harmonize evaluate`` on CSV files: the folder holds the library's numbers, bad input exits 2
with one line on stderr and writes nothing, and ``harmonize --image ...`` still answers as before."""

import hashlib
import json

import pandas as pd
import pytest
from harmonizationTables import siteTables

from VirtualBiopsy import cli
from VirtualBiopsy.harmonize.evaluation import (
    EvaluationSettings,
    evaluateHarmonization,
    prepareTables,
)

FILES = {
    "site_predictability.csv",
    "kruskal_wallis.csv",
    "kruskal_wallis_summary.csv",
    "downstream.csv",
    "summary.md",
    "feature_distributions.png",
    "feature_distributions.svg",
    "provenance.json",
}


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main([*map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def cohort(tmp_path):
    features, clinical = siteTables(casesPerSite=8, sites=2, features=4, seed=9)
    paths = {name: tmp_path / f"{name}.csv" for name in ("features", "scaled", "clinical")}
    features.to_csv(paths["features"], index=False)
    features.assign(f0=features["f0"] * 2).to_csv(paths["scaled"], index=False)
    clinical.to_csv(paths["clinical"], index=False)
    return paths


def _arguments(cohort, out, *extra):
    return [
        "harmonize",
        "evaluate",
        "--features",
        cohort["features"],
        "--features",
        f"scaled={cohort['scaled']}",
        "--clinical",
        cohort["clinical"],
        "--batch",
        "site",
        "--task",
        "grade",
        "--models",
        "logisticRegression",
        "--repeats",
        "1",
        "--out",
        out,
        *extra,
    ]


@pytest.mark.slow
def test_evaluate_writes_the_library_results(cohort, tmp_path, capsys):
    out = tmp_path / "evaluation"
    status, stdout, err = runCli(
        _arguments(cohort, out, "--methods", "none,combat,scaled+combat", "--seed", "3"), capsys
    )
    assert status == 0, err
    assert {path.name for path in out.iterdir()} == FILES
    assert "site AUC none (logisticRegression)" in stdout
    data = prepareTables(
        {"features": pd.read_csv(cohort["features"]), "scaled": pd.read_csv(cohort["scaled"])},
        pd.read_csv(cohort["clinical"]),
        "site",
        "grade",
    )
    expected = evaluateHarmonization(
        data,
        EvaluationSettings(
            methods=["none", "combat", "scaled+combat"], models=("logisticRegression",), repeats=1, seed=3
        ),
    )
    site = pd.read_csv(out / "site_predictability.csv")
    assert site["method"].tolist() == ["none", "combat", "scaled+combat"]
    pd.testing.assert_series_equal(site["auc"], expected.sitePredictability["auc"], rtol=1e-12)
    downstream = pd.read_csv(out / "downstream.csv")
    pd.testing.assert_series_equal(downstream["accuracy"], expected.downstream["accuracy"], rtol=1e-12)
    assert len(pd.read_csv(out / "kruskal_wallis.csv")) == 3 * 4
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| scaled+combat |" in summary and "SiteA → SiteB" in summary and "## Kruskal–Wallis" in summary
    assert (out / "feature_distributions.png").read_bytes().startswith(b"\x89PNG")
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["settings"]["seed"] == 3 and provenance["methods"] == ["none", "combat", "scaled+combat"]
    assert provenance["inputs"]["clinical"]["sha256"] == hashlib.sha256(cohort["clinical"].read_bytes()).hexdigest()
    assert provenance["batch"]["counts"] == {"SiteA": 8, "SiteB": 8}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a, c: a + ["--methods", "none,zscore"], "Unknown harmonization method"),
        (lambda a, c: [x if x != "site" else "scanner" for x in a], "no column"),
        (lambda a, c: a + ["--features", c["scaled"]], "Two --features tables without a NAME"),
        (lambda a, c: [x if x != c["clinical"] else c["clinical"].with_name("absent.csv") for x in a], "not found"),
        (lambda a, c: a + ["--models", "svm"], "--models svm"),
        (lambda a, c: a + ["--covariates", "grade"], "would leak"),
        (lambda a, c: a + ["--pairs", "SiteA-SiteB"], "TRAIN:TEST"),
        (lambda a, c: a + ["--pairs", "SiteA:SiteZ"], "SiteZ"),
        (lambda a, c: a + ["--folds", "1"], "--folds 1"),
        (lambda a, c: ["harmonize", "--image", c["features"], *a[1:]], "belong"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cohort, tmp_path, capsys, change, message):
    out = tmp_path / "evaluation"
    status, _, err = runCli(change(_arguments(cohort, out), cohort), capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clinical.csv", "features.csv", "scaled.csv"]


def test_a_non_empty_output_folder_is_refused(cohort, tmp_path, capsys):
    out = tmp_path / "evaluation"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    status, _, err = runCli(_arguments(cohort, out), capsys)
    assert status == 2 and "not empty" in err
    assert [path.name for path in out.iterdir()] == ["keep.txt"]


def test_harmonize_without_an_image_says_what_is_missing(tmp_path, capsys):
    status, _, err = runCli(["harmonize", "--method", "zscore", "--out", tmp_path / "x.nrrd"], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "--image missing" in err
    assert not (tmp_path / "x.nrrd").exists()
