"""ClassificationLogic on real slicer-core table nodes: comparison table, ROC chart with one
series per model, and the Shapley-value table of a saved model."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.outputs import rocTable
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.classificationLogic import ClassificationLogic


def _tables(scene, patients=36, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(patients, 3))
    high = values[:, 0] - values[:, 1] + rng.normal(scale=0.5, size=patients) > 0
    ids = [f"P{i:02d}" for i in range(patients)]
    features = pd.DataFrame({"patient": ids, "a": values[:, 0], "b": values[:, 1], "c": values[:, 2]})
    clinical = pd.DataFrame({"patient": ids, "grade": np.where(high, "HGG", "LGG"), "age": 50.0})
    return dataFrameToTableNode(features, scene, "features"), dataFrameToTableNode(clinical, scene, "clinical")


CONFIG = ClassificationConfig(
    targetColumn="grade",
    positiveClass="HGG",
    models=["lr", "svm"],
    folds=3,
    repeats=2,
    bootstrapSamples=200,
    thresholdFolds=2,
)


def test_run_adds_the_comparison_table_and_one_roc_series_per_model(scene):
    featuresNode, clinicalNode = _tables(scene)
    reports = []
    result = ClassificationLogic(scene).run(
        featuresNode, clinicalNode, CONFIG, progress=lambda f, m: reports.append(f), subject="Cohort A"
    )
    performance = tableNodeToDataFrame(result.performanceTable)
    assert performance["model"].tolist() == ["lr", "svm"]
    assert np.allclose(performance["auc_mean"], result.comparison.performance["auc_mean"])
    assert performance["auc_mean"].min() > 0.75
    chart = result.rocChart
    assert isinstance(chart, slicer.vtkMRMLPlotChartNode) and chart.GetNumberOfPlotSeriesNodes() == 2
    curves = rocTable(result.comparison)
    for index, name in enumerate(["lr", "svm"]):
        series = chart.GetNthPlotSeriesNode(index)
        assert series.GetTableNode() is result.rocTables[name]
        assert (series.GetXColumnName(), series.GetYColumnName()) == ("fpr", "tpr_mean")
        plotted = tableNodeToDataFrame(result.rocTables[name])
        assert np.allclose(plotted["tpr_mean"], curves[curves["model"] == name]["tpr_mean"])
    assert reports[-1] == 1.0 and reports == sorted(reports)
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(chart))
    assert hierarchy.GetItemName(study) == "Outcome"
    assert hierarchy.GetItemName(hierarchy.GetItemParent(study)) == "Cohort A"
    assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(result.performanceTable)) == study


@pytest.mark.slow
def test_explain_adds_a_shap_table_whose_rows_sum_to_the_output(scene, tmp_path):
    featuresNode, clinicalNode = _tables(scene)
    logic = ClassificationLogic(scene)
    result = logic.run(featuresNode, clinicalNode, CONFIG)
    written = logic.saveResults(result, tmp_path / "out")
    assert {pathlib.Path(p).name for p in written} >= {"performance.csv", "roc.png", "roc.svg", "svm", "lr"}
    with pytest.raises(InputError, match="not empty"):
        logic.saveResults(result, tmp_path / "out")
    explained = logic.explain(
        tmp_path / "out" / "models" / "svm", featuresNode, ClassifierPanelConfig(shapBackgroundSize=12, randomSeed=1)
    )
    shap = tableNodeToDataFrame(explained.shapTable)
    assert list(shap.columns) == ["patient", "a", "b", "c", "base_value", "model_output"] and len(shap) == 36
    assert np.allclose(shap[["a", "b", "c", "base_value"]].sum(axis=1), shap["model_output"], rtol=0, atol=1e-10)
    assert explained.shapTable.GetAttribute("VirtualBiopsy.ExplainedQuantity").startswith("SVM decision value")
    importance = tableNodeToDataFrame(explained.importanceTable)
    assert set(importance["feature"].head(2)) == {"a", "b"}
    newPatient = dataFrameToTableNode(tableNodeToDataFrame(featuresNode).iloc[[4]].reset_index(drop=True), scene, "new")
    config = ClassifierPanelConfig(classifierModelFolder=str(tmp_path / "out" / "models" / "lr"), shapBackgroundSize=12)
    single = logic.explain(None, newPatient, config, referenceTable=featuresNode)
    row = tableNodeToDataFrame(single.shapTable).iloc[0]
    cohort = tableNodeToDataFrame(logic.explain(tmp_path / "out" / "models" / "lr", featuresNode, config).shapTable)
    assert row["base_value"] == pytest.approx(cohort["base_value"][0], abs=1e-12)  # same seed, same background
    assert row["model_output"] == pytest.approx(cohort["model_output"][4], abs=1e-12)
    assert row[["a", "b", "c"]].sum() + row["base_value"] == pytest.approx(row["model_output"], abs=1e-10)


def test_bad_tables_add_nothing(scene):
    featuresNode, clinicalNode = _tables(scene)
    before = scene.GetNumberOfNodes()
    with pytest.raises(InputError, match="no column\\(s\\) 'stage'"):
        ClassificationLogic(scene).run(featuresNode, clinicalNode, CONFIG.replace(targetColumn="stage"))
    with pytest.raises(InputError, match="at least 30 patients of each class"):
        ClassificationLogic(scene).run(featuresNode, clinicalNode, CONFIG.replace(folds=30))
    assert scene.GetNumberOfNodes() == before


def test_explain_without_a_model_names_the_config_field(scene):
    featuresNode, _clinicalNode = _tables(scene)
    with pytest.raises(InputError, match="classifierModelFolder is empty"):
        ClassificationLogic(scene).explain(None, featuresNode, ClassifierPanelConfig())
