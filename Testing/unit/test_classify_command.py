"""``virtual-biopsy outcome classify`` and ``outcome explain`` end to end on small tables,
and their refusals: exit 2, one line on stderr, nothing written."""

import json

import numpy as np
import pandas as pd
import pytest
from classificationTables import twoFeatureCohort, virtualCohortTables

from VirtualBiopsy.cli import main

FAST = ["--folds", "3", "--repeats", "2", "--trees", "15", "--bootstrap", "200"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    features, grade = twoFeatureCohort(45, noise=2, separation=2.0)
    features.assign(label=1).reset_index().to_csv(folder / "features.csv", index=False)
    clinical = pd.DataFrame({"patient": grade.index, "grade": grade.to_numpy(), "site": "A"})
    clinical.to_csv(folder / "clinical.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def classified(tables):
    out = tables / "classify"
    status = main(
        [
            "outcome",
            "classify",
            "--features",
            str(tables / "features.csv"),
            "--clinical",
            str(tables / "clinical.csv"),
            "--target",
            "grade",
            "--positive-class",
            "HGG",
            "--models",
            "lr,rf",
            *FAST,
            "--out",
            str(out),
        ]
    )
    assert status == 0
    return out


@pytest.mark.slow
def test_classify_writes_the_comparison_and_the_models(classified):
    names = {path.name for path in classified.iterdir()}
    assert names == {
        "performance.csv",
        "folds.csv",
        "predictions.csv",
        "roc.csv",
        "roc.png",
        "roc.svg",
        "provenance.json",
        "models",
    }
    performance = pd.read_csv(classified / "performance.csv")
    assert performance["model"].tolist() == ["lr", "rf"]
    assert (performance["auc_ci_lower"] <= performance["auc_pooled"]).all()
    assert (performance["auc_pooled"] <= performance["auc_ci_upper"]).all() and performance["auc_mean"].min() > 0.7
    assert len(pd.read_csv(classified / "folds.csv")) == 2 * 3 * 2
    predictions = pd.read_csv(classified / "predictions.csv")
    assert len(predictions) == 2 * 2 * 45 and predictions["score"].notna().all()
    for name in ("lr", "rf"):
        card = json.loads((classified / "models" / name / "model.json").read_text(encoding="utf-8"))
        assert [f["name"] for f in card["features"]] == ["signal1", "signal2", "noise1", "noise2"]  # not 'label'
    provenance = json.loads((classified / "provenance.json").read_text(encoding="utf-8"))
    assert len(provenance["inputs"]["features"]["sha256"]) == 64 and provenance["target"]["positiveClass"] == "HGG"
    assert not [p for p in classified.parent.iterdir() if p.name.endswith(".partial")]


@pytest.mark.slow
def test_explain_writes_values_that_sum_to_the_output(classified, tables, capsys):
    out = tables / "explain"
    status = main(
        [
            "outcome",
            "explain",
            "--model",
            str(classified / "models" / "lr"),
            "--features",
            str(tables / "features.csv"),
            "--clinical",
            str(tables / "clinical.csv"),
            "--background",
            "20",
            "--patients",
            "P001,P002",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    shap = pd.read_csv(out / "shap.csv", dtype={"patient": str})
    assert list(shap.columns) == ["patient", "signal1", "signal2", "noise1", "noise2", "base_value", "model_output"]
    assert len(shap) == 45
    total = shap[["signal1", "signal2", "noise1", "noise2", "base_value"]].sum(axis=1)
    assert np.allclose(total, shap["model_output"], rtol=0, atol=1e-10)
    importance = pd.read_csv(out / "permutation_importance.csv")
    assert set(importance["feature"].head(2)) == {"signal1", "signal2"} and importance["scoring"][0] == "auc"
    assert sorted(p.name for p in (out / "waterfall").iterdir()) == ["P001.png", "P001.svg", "P002.png", "P002.svg"]
    record = json.loads((out / "explanation.json").read_text(encoding="utf-8"))
    assert record["quantity"] == "log-odds of the positive class" and record["method"] == "exact"
    assert len(record["backgroundPatients"]) == 20
    assert "Shapley values (exact) of the log-odds" in capsys.readouterr().out


@pytest.mark.slow
def test_virtual_cohort_grade(tmp_path):
    features, clinical = virtualCohortTables(40)
    features.to_csv(tmp_path / "features.csv", index=False)
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    status = main(
        [
            "outcome",
            "classify",
            "--features",
            str(tmp_path / "features.csv"),
            "--clinical",
            str(tmp_path / "clinical.csv"),
            "--target",
            "grade",
            "--positive-class",
            "HGG",
            "--models",
            "lr,gb",
            *FAST,
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert status == 0
    performance = pd.read_csv(tmp_path / "out" / "performance.csv").set_index("model")
    assert performance.loc["lr", "positives"] == (clinical["grade"] == "HGG").sum()
    assert performance["auc_mean"].min() > 0.8  # grade shapes the virtual tumours (size, necrosis, enhancement)
    status = main(
        [
            "outcome",
            "explain",
            "--model",
            str(tmp_path / "out" / "models" / "gb"),
            "--features",
            str(tmp_path / "features.csv"),
            "--background",
            "10",
            "--patients",
            "VB0001",
            "--out",
            str(tmp_path / "explain"),
        ]
    )
    assert status == 0
    shap = pd.read_csv(tmp_path / "explain" / "shap.csv")
    features = [c for c in shap.columns if c not in ("patient", "base_value", "model_output")]
    assert np.allclose(shap[features + ["base_value"]].sum(axis=1), shap["model_output"], atol=1e-10)


@pytest.mark.slow
def test_explain_one_new_patient_against_the_training_cohort(classified, tables, capsys):
    features = pd.read_csv(tables / "features.csv", dtype={"patient": str})
    features.iloc[[3]].assign(patient="NEW01").to_csv(tables / "one.csv", index=False)
    out = tables / "explain-one"
    status = main(
        [
            "outcome",
            "explain",
            "--model",
            str(classified / "models" / "rf"),
            "--features",
            str(tables / "one.csv"),
            "--reference",
            str(tables / "features.csv"),
            "--background",
            "15",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    shap = pd.read_csv(out / "shap.csv")
    assert shap["patient"].tolist() == ["NEW01"] and shap["base_value"][0] != shap["model_output"][0]
    values = shap[["signal1", "signal2", "noise1", "noise2"]]
    assert values.abs().to_numpy().max() > 0
    assert values.sum(axis=1)[0] + shap["base_value"][0] == pytest.approx(shap["model_output"][0], abs=1e-10)
    assert json.loads((out / "explanation.json").read_text(encoding="utf-8"))["quantity"].startswith("probability")
    assert sorted(p.name for p in (out / "waterfall").iterdir()) == ["NEW01.png", "NEW01.svg"]


def test_missing_values_refused_or_imputed_inside_the_folds(tables, tmp_path, capsys):
    features = pd.read_csv(tables / "features.csv")
    features.loc[::5, "noise1"] = np.nan
    features["empty"] = np.nan
    features.to_csv(tmp_path / "gaps.csv", index=False)
    base = [
        "outcome",
        "classify",
        "--features",
        str(tmp_path / "gaps.csv"),
        "--clinical",
        str(tables / "clinical.csv"),
        "--target",
        "grade",
        "--positive-class",
        "HGG",
        "--models",
        "lr",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--bootstrap",
        "100",
    ]
    _refused(
        [*base, "--out", str(tmp_path / "refused")],
        "noise1 (9). Impute them inside the training folds (--impute median",
        capsys,
        tmp_path / "refused",
    )
    assert main([*base, "--impute", "median", "--out", str(tmp_path / "imputed")]) == 0
    card = json.loads((tmp_path / "imputed" / "models" / "lr" / "model.json").read_text(encoding="utf-8"))
    assert card["droppedFeatures"] == {"empty": "no values"} and "empty" not in card["modelFeatures"]
    assert [f["name"] for f in card["features"]][-1] == "empty"  # still part of the table schema
    assert "1 constant or empty dropped: empty" in capsys.readouterr().out


def _refused(arguments, message, capsys, out):
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error, error
    assert not out.exists() or not any(out.iterdir())
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".partial")]


def test_classify_refusals(tables, tmp_path, capsys):
    out = tmp_path / "out"
    base = [
        "outcome",
        "classify",
        "--features",
        str(tables / "features.csv"),
        "--clinical",
        str(tables / "clinical.csv"),
        "--out",
        str(out),
    ]
    _refused([*base, "--target", "stage"], "no column(s) 'stage'", capsys, out)
    _refused([*base, "--target", "site"], "one class only (A for all 45 patients)", capsys, out)
    _refused([*base, "--target", "grade", "--folds", "40"], "at least 40 patients of each class", capsys, out)
    _refused([*base, "--target", "grade", "--models", "lr,xgb"], "choose one or more of", capsys, out)
    _refused([*base, "--target", "grade", "--positive-class", "GBM"], "'GBM' does not occur", capsys, out)
    clinical = pd.read_csv(tables / "clinical.csv")
    clinical["grade"] = np.resize(["A", "B", "C"], len(clinical))
    clinical.to_csv(tmp_path / "three.csv", index=False)
    _refused([*base[:5], str(tmp_path / "three.csv"), *base[6:], "--target", "grade"], "3 classes", capsys, out)
    _refused(
        [*base[:3], str(tmp_path / "nope.csv"), *base[4:], "--target", "grade"], "Features table not found", capsys, out
    )
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main([*base, "--target", "grade"]) == 2 and "is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.slow
def test_explain_refusals(classified, tables, tmp_path, capsys):
    out = tmp_path / "out"
    features = pd.read_csv(tables / "features.csv")
    features.drop(columns="noise2").to_csv(tmp_path / "fewer.csv", index=False)
    base = ["outcome", "explain", "--model", str(classified / "models" / "lr"), "--out", str(out)]
    _refused([*base, "--features", str(tmp_path / "fewer.csv")], "1 missing (noise2)", capsys, out)
    _refused([*base, "--features", str(tables / "features.csv"), "--background", "0"], "--background is 0", capsys, out)
    _refused(
        [*base, "--features", str(tables / "features.csv"), "--patients", "X9"], "not in the feature table", capsys, out
    )
    _refused(
        ["outcome", "explain", "--model", str(tables), "--features", str(tables / "features.csv"), "--out", str(out)],
        "not a saved classifier",
        capsys,
        out,
    )
    clinical = pd.read_csv(tables / "clinical.csv")
    clinical.loc[0, "grade"] = "GBM"
    clinical.to_csv(tmp_path / "gbm.csv", index=False)
    _refused(
        [*base, "--features", str(tables / "features.csv"), "--clinical", str(tmp_path / "gbm.csv")],
        "value(s) GBM the model was not trained on",
        capsys,
        out,
    )
