"""The demo's cohort analyses on a real cohort scene: a failing analysis is recorded and the others go on;
the Cox model equals lifelines' and the Shapley values of the logistic model equal its closed form."""

import json

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.cohort.cohortAnalyses import CohortInputs, runAnalyses
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.mrml.scene import createScene
from VirtualBiopsy.mrml.tables import dataFrameToTableNode
from VirtualBiopsy.outcome.classification.artifact import loadClassifier

PATIENTS = 20


def cohort(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    patients = pd.Index([f"P{i:02d}" for i in range(PATIENTS)], name="patient")
    grade = np.where(np.arange(PATIENTS) % 2 == 0, "HGG", "LGG")
    volume = np.where(grade == "HGG", 3.0, 1.0) + rng.normal(0, 0.8, PATIENTS)
    features = pd.DataFrame(
        {"volume": volume, "mean": rng.normal(0, 1, PATIENTS), "texture": rng.normal(0, 1, PATIENTS) + 0.5 * volume},
        index=patients,
    )
    clinical = pd.DataFrame(
        {
            "grade": grade,
            "time": rng.exponential(20, PATIENTS) + 1,
            "event": rng.integers(0, 2, PATIENTS),
            "age": rng.normal(55, 10, PATIENTS).round(1),
            "cluster": (volume > np.median(volume)).astype(int),
        },
        index=patients,
    )
    return features, clinical


def settings(**analyses) -> PipelineConfig:
    document = {
        "classification": {"models": ["lr"], "folds": 3, "repeats": 1, "bootstrapSamples": 100},
        "cox": {"cindexBootstrap": 50},
        **analyses,
    }
    return PipelineConfig.fromDict({"analyses": document})


def cohortScene(features: pd.DataFrame, clinical: pd.DataFrame):
    scene = createScene()
    featuresTable = dataFrameToTableNode(features.reset_index(), scene, "CohortFeatures")
    clinicalTable = dataFrameToTableNode(clinical.reset_index(), scene, "CohortClinical")
    return scene, featuresTable, clinicalTable


def run(tmp_path, config: PipelineConfig):
    features, clinical = cohort()
    scene, featuresTable, clinicalTable = cohortScene(features, clinical)
    inputs = CohortInputs(
        features,
        clinical,
        featuresTable,
        clinicalTable,
        tmp_path / "manifest.csv",
        tmp_path / "clinical.csv",
        {},
    )
    return runAnalyses(scene, inputs, config, tmp_path), features, clinical, scene


@pytest.mark.slow  # imports torch for the CNN step
def test_failing_analyses_are_recorded_and_the_others_go_on(tmp_path):
    config = settings(cox={"covariates": ["stage"]}, deepLearning={"gradCamPatients": ["nobody"]})
    records, features, _, scene = run(tmp_path, config)
    assert [(r.name, r.status) for r in records] == [
        ("cox", "failed"),
        ("classification", "done"),
        ("explanation", "done"),
        ("deepLearning", "failed"),
    ]
    assert "InputError: Cox covariate(s) stage are not clinical columns" in records[0].error
    assert "nobody" in records[3].error
    table = pd.read_csv(tmp_path / "analyses.csv")
    assert list(table["status"]) == ["failed", "done", "done", "failed"]
    assert table["seconds"].ge(0).all()
    # nothing of the failed analyses was written; the others' outputs are complete
    assert not (tmp_path / "cox").exists() and not (tmp_path / "gradcam").exists() and not (tmp_path / "cnn").exists()
    assert {"performance.csv", "roc.png", "roc.svg", "shap.csv", "summary.png", "explanation.json"} <= {
        p.name for p in (tmp_path / "classification").iterdir()
    }
    assert not [p for p in (tmp_path / "classification").iterdir() if p.name.startswith(".")]
    assert (tmp_path / "classification" / "waterfall" / "P00.png").is_file()  # the Grad-CAM choice did not apply
    assert scene.GetFirstNodeByName("SHAP_lr") is not None
    assert scene.GetFirstNodeByName("ClassifierPerformance") is not None


def test_cox_and_shapley_values_equal_their_references(tmp_path):
    from lifelines import CoxPHFitter

    config = settings(deepLearning={"enabled": False})
    records, features, clinical, scene = run(tmp_path, config)
    assert [r.status for r in records] == ["done"] * 3
    cox = records[0].summary
    fitter = CoxPHFitter(penalizer=0.1).fit(clinical[["time", "event", "age", "cluster"]], "time", "event")
    coefficients = pd.read_csv(tmp_path / "cox" / "coefficients.csv").set_index("covariate")
    np.testing.assert_allclose(
        coefficients.loc[["age", "cluster"], "coef"], fitter.params_[["age", "cluster"]], rtol=1e-6
    )
    assert cox["cIndex"] == pytest.approx(fitter.concordance_index_, abs=1e-12)
    assert 0 <= cox["cIndexLower"] <= cox["cIndex"] <= cox["cIndexUpper"] <= 1
    assert (tmp_path / "cox" / "risk_km.png").is_file() and (tmp_path / "cox" / "risk_km.svg").is_file()

    shap = pd.read_csv(tmp_path / "classification" / "shap.csv", dtype={"patient": str}).set_index("patient")
    values = shap[list(features.columns)]
    np.testing.assert_allclose(values.sum(axis=1) + shap["base_value"], shap["model_output"], atol=1e-9)
    model = loadClassifier(tmp_path / "classification" / "models" / "lr")
    scale, logistic = model.pipeline.named_steps["scale"], model.pipeline.named_steps["model"]
    weights = logistic.coef_[0] / scale.scale_
    expected = (features - features.mean()) * weights  # all patients are the background: w·(x − mean)
    np.testing.assert_allclose(values.loc[features.index].to_numpy(), expected.to_numpy(), atol=1e-8)
    record = json.loads((tmp_path / "classification" / "explanation.json").read_text())
    assert (
        record["modelSha256"] == records[2].summary["modelSha256"] == records[1].summary["models"]["lr"]["modelSha256"]
    )
