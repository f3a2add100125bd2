"""Survival logic on real table, plot and subject hierarchy nodes (slicer-core)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import slicer

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.mrml import dataFrameToTableNode, tableNodeToDataFrame
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.kaplanMeier import kaplanMeier
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig
from VirtualBiopsy.outcome.survivalLogic import OUTCOME_STUDY, SurvivalLogic
from VirtualBiopsy.progress import CancelToken


def _clinical(n=40, seed=2):
    rng = np.random.default_rng(seed)
    grade = np.where(np.arange(n) % 2 == 0, "HGG", "LGG")
    time = np.round(rng.exponential(np.where(grade == "HGG", 8.0, 25.0)), 2) + 0.1
    return pd.DataFrame(
        {
            "patient": [f"VB{i:04d}" for i in range(n)],
            "time": time,
            "event": (rng.random(n) < 0.8).astype(int),
            "grade": grade,
            "age": np.round(rng.normal(55, 10, n), 1),
            "highGrade": (grade == "HGG").astype(int),
        }
    )


def test_kaplan_meier_nodes_hold_lifelines_numbers_and_sit_under_the_cohort(scene):
    clinical = _clinical()
    table = dataFrameToTableNode(clinical, scene, "clinical")
    nodes = SurvivalLogic(scene).kaplanMeier(table, SurvivalConfig(groupColumn="grade"), subject="Cohort A")
    expected = kaplanMeier(clinical["time"], clinical["event"], clinical["grade"])
    km = tableNodeToDataFrame(nodes.tables["km"])
    np.testing.assert_array_equal(km["survival"], expected.curves["survival"])
    np.testing.assert_array_equal(km["ci_upper"], expected.curves["ci_upper"])
    logrank = tableNodeToDataFrame(nodes.tables["logrank"])
    assert logrank["p"].iloc[0] == expected.logRank["p"].iloc[0]
    chart = nodes.chart
    names = [chart.GetNthPlotSeriesNode(i).GetName() for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert names[:4] == ["HGG", "HGG 95% CI lower", "HGG 95% CI upper", "HGG censored"]
    assert "LGG" in names and f"log-rank p = {expected.logRank['p'].iloc[0]:.3g}" in chart.GetTitle()
    survivalSeries = chart.GetNthPlotSeriesNode(0)
    band = chart.GetNthPlotSeriesNode(1)
    assert survivalSeries.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleSolid
    assert band.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleDash
    assert band.GetColor() == survivalSeries.GetColor()
    # step companion table: a staircase of the HGG curve
    steps = tableNodeToDataFrame(survivalSeries.GetTableNode())
    hgg = expected.curves[expected.curves["group"] == "HGG"]
    assert len(steps) == 2 * len(hgg) - 1 and steps["survival"].iloc[-1] == hgg["survival"].iloc[-1]
    shNode = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    for node in nodes.nodes:
        study = shNode.GetItemParent(shNode.GetItemByDataNode(node))
        assert shNode.GetItemName(study) == OUTCOME_STUDY
        assert shNode.GetItemName(shNode.GetItemParent(study)) == "Cohort A"
    assert tableNodeToDataFrame(table).equals(clinical)  # input untouched


def test_cox_nodes(scene):
    clinical = _clinical(60)
    table = dataFrameToTableNode(clinical, scene, "clinical")
    config = SurvivalConfig(covariates=["age", "highGrade"], penalizer=0.01, cindexBootstrap=50)
    nodes = SurvivalLogic(scene).cox(table, config)
    coefficients = tableNodeToDataFrame(nodes.tables["coefficients"])
    assert coefficients["covariate"].tolist() == ["age", "highGrade"]
    np.testing.assert_allclose(coefficients["hr"], nodes.result.coefficients["hr"])
    assert set(nodes.tables) == {"coefficients", "cindex", "phTest", "riskGroups", "km", "logrank", "median"}
    risk = tableNodeToDataFrame(nodes.tables["riskGroups"])
    assert risk["patient"].tolist() == clinical["patient"].tolist()
    assert sorted(set(tableNodeToDataFrame(nodes.tables["km"])["group"])) == ["high risk", "low risk"]
    assert 0.5 < tableNodeToDataFrame(nodes.tables["cindex"])["cindex"].iloc[0] <= 1


def test_cluster_nodes_and_refusals(scene):
    clinical = _clinical(30)
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {
            "patient": clinical["patient"],
            "a": np.where(clinical["grade"] == "HGG", 3.0, 0.0) + rng.normal(0, 0.3, 30),
            "b": rng.normal(size=30),
        }
    )
    logic = SurvivalLogic(scene)
    featuresTable = dataFrameToTableNode(features, scene, "features")
    clinicalTable = dataFrameToTableNode(clinical, scene, "clinical")
    nodes = logic.cluster(featuresTable, clinicalTable, OutcomeConfig(numberOfClusters=2))
    clusters = tableNodeToDataFrame(nodes.tables["clusters"])
    grouping = pd.crosstab(clusters["cluster"], clinical["grade"])
    assert (grouping.to_numpy() == np.array([[15, 0], [0, 15]])).all() or (
        grouping.to_numpy() == np.array([[0, 15], [15, 0]])
    ).all()
    assert "silhouette" in nodes.chart.GetTitle()
    with pytest.raises(InputError, match="no column\\(s\\) 'months'"):
        logic.kaplanMeier(clinicalTable, SurvivalConfig(timeColumn="months"))
    censored = dataFrameToTableNode(clinical.assign(event=0), scene, "censored")
    with pytest.raises(InputError, match="no events"):
        logic.cox(censored, SurvivalConfig(covariates=["age"]))
    undefined = logic.kaplanMeier(censored, SurvivalConfig(groupColumn="grade"))
    assert "undefined: no events" in undefined.chart.GetTitle()


def test_cluster_fills_the_chosen_table_reports_progress_and_cancels(scene):
    """The Outcome module's Cohort outcome route: the clusters go into the table the user chose (keeping its
    name), the p-value shown is the overall log-rank test's, progress is reported and a cancel makes nothing."""
    rng = np.random.default_rng(3)
    group = np.repeat([0, 1], 15)
    patients = [f"case{index:02d}" for index in range(group.size)]
    features = pd.DataFrame(
        {
            "patient": patients,
            "size": 5.0 * group + rng.normal(0, 0.5, group.size),
            "contrast": -5.0 * group + rng.normal(0, 0.5, group.size),
        }
    )
    clinical = pd.DataFrame(
        {
            "patient": patients,
            "time": rng.exponential(np.where(group == 1, 5.0, 40.0)),
            "event": np.ones(group.size, dtype=int),
        }
    )
    featuresTable = dataFrameToTableNode(features, scene, "features")
    clinicalTable = dataFrameToTableNode(clinical, scene, "clinical")
    chosen = dataFrameToTableNode(pd.DataFrame({"old": [1, 2]}), scene, "My clusters")
    logic = SurvivalLogic(scene)

    cancel = CancelToken()
    cancel.cancel()
    tablesBefore = scene.GetNumberOfNodesByClass("vtkMRMLTableNode")
    with pytest.raises(CancelledError):
        logic.cluster(featuresTable, clinicalTable, OutcomeConfig(), outputTable=chosen, cancel=cancel)
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == tablesBefore
    assert tableNodeToDataFrame(chosen).columns.tolist() == ["old"]

    messages = []
    nodes = logic.cluster(
        featuresTable,
        clinicalTable,
        OutcomeConfig(numberOfClusters=2, randomSeed=0),
        outputTable=chosen,
        progress=lambda fraction, message: messages.append((fraction, message)),
    )
    assert nodes.tables["clusters"] is chosen and chosen.GetName() == "My clusters"
    clusters = tableNodeToDataFrame(chosen)
    assert clusters.columns.tolist() == ["patient", "cluster", "silhouette"]
    assert clusters["patient"].tolist() == patients
    assert clusters["cluster"].groupby(group).nunique().tolist() == [1, 1] and clusters["cluster"].nunique() == 2
    logrank = tableNodeToDataFrame(nodes.tables["logrank"])
    assert nodes.logRankPValue == logrank["p"].iloc[0] == nodes.result.survival.logRankPValue
    assert nodes.logRankPValue < 0.01
    names = [nodes.chart.GetNthPlotSeriesNode(i).GetName() for i in range(nodes.chart.GetNumberOfPlotSeriesNodes())]
    assert {"0", "1"} <= set(names)
    assert messages[0] == (0.0, "Clustering patients") and messages[-1][0] == 1.0


def test_chart_refuses_curves_without_columns_and_draws_without_bands(scene):
    from VirtualBiopsy.mrml.survivalPlots import kaplanMeierChart

    result = kaplanMeier(pd.Series([1.0, 2, 3]), pd.Series([1, 0, 1]))
    with pytest.raises(InputError, match="missing: ci_lower, ci_upper"):
        kaplanMeierChart(scene, result.curves.drop(columns=["ci_lower", "ci_upper"]), result.censoring, "km")
    chart, made = kaplanMeierChart(scene, result.curves, result.censoring, "km", showBands=False)
    names = [chart.GetNthPlotSeriesNode(i).GetName() for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert names == ["all", "all censored"] and made[-1] is chart
    marks = tableNodeToDataFrame(chart.GetNthPlotSeriesNode(1).GetTableNode())
    assert marks["time"].tolist() == [2.0] and marks["survival"].tolist() == pytest.approx([2 / 3])


def test_cox_takes_every_setting_from_its_config(scene):
    """Columns, penalty (with L1), risk split, bootstrap and seed all come from the SurvivalConfig: the nodes hold
    what fitCox gives with those settings; no covariates is refused."""
    from VirtualBiopsy.outcome.cox import fitCox

    clinical = _clinical(60).rename(columns={"patient": "case", "time": "months", "event": "died"})
    table = dataFrameToTableNode(clinical, scene, "clinical")
    config = SurvivalConfig(
        timeColumn="months",
        eventColumn="died",
        patientColumn="case",
        covariates=["age"],
        penalizer=0.1,
        l1Ratio=0.5,
        riskPercentile=60.0,
        cindexBootstrap=30,
        randomSeed=4,
    )
    nodes = SurvivalLogic(scene).cox(table, config)
    frame = clinical.set_index("case")
    expected = fitCox(
        frame[["age"]],
        frame["months"],
        frame["died"],
        penalizer=0.1,
        l1Ratio=0.5,
        riskPercentile=60.0,
        bootstrap=30,
        seed=4,
    )
    pd.testing.assert_frame_equal(tableNodeToDataFrame(nodes.tables["cindex"]), expected.concordance, check_dtype=False)
    np.testing.assert_allclose(
        tableNodeToDataFrame(nodes.tables["coefficients"])["coef"], expected.coefficients["coef"]
    )
    assert tableNodeToDataFrame(nodes.tables["riskGroups"])["case"].tolist() == clinical["case"].tolist()
    assert "60th percentile" in nodes.chart.GetTitle()
    with pytest.raises(InputError, match="covariates is empty"):
        SurvivalLogic(scene).cox(table, config.replace(covariates=[]))
