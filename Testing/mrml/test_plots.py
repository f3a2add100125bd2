"""Plot series and charts from table columns, including step (Kaplan–Meier) curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml import (
    dataFrameToTableNode,
    plotChart,
    plotSeriesFromTable,
    tableNodeToDataFrame,
)
from VirtualBiopsy.mrml.plots import STEP_SOURCE_ATTRIBUTE


@pytest.fixture
def survival(scene):
    frame = pd.DataFrame({"time": [0.0, 3.0, 5.0, 9.0], "survival": [1.0, 0.75, 0.5, 0.25], "group": ["a"] * 4})
    return dataFrameToTableNode(frame, scene, "km")


def test_lineAndScatterSeries(scene, survival):
    line = plotSeriesFromTable(survival, "time", "survival", "line", color=(1.0, 0.0, 0.0))
    assert line.GetTableNode() is survival
    assert (line.GetXColumnName(), line.GetYColumnName()) == ("time", "survival")
    assert line.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter
    assert line.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleSolid
    assert line.GetMarkerStyle() == slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone
    assert line.GetColor() == (1.0, 0.0, 0.0)
    scatter = plotSeriesFromTable(survival, "time", "survival", "points", plotType="scatter")
    assert scatter.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleNone
    assert scatter.GetMarkerStyle() != slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone


def test_stepSeriesPlotsAStaircaseFromACompanionTable(scene, survival):
    step = plotSeriesFromTable(survival, "time", "survival", "Kaplan-Meier", plotType="step")
    steps = step.GetTableNode()
    assert steps is not survival and steps.GetName() == "Kaplan-Meier steps"
    assert steps.GetAttribute(STEP_SOURCE_ATTRIBUTE) == survival.GetID()
    corners = tableNodeToDataFrame(steps)
    assert corners["time"].tolist() == [0.0, 3.0, 3.0, 5.0, 5.0, 9.0, 9.0]
    assert corners["survival"].tolist() == [1.0, 1.0, 0.75, 0.75, 0.5, 0.5, 0.25]
    assert step.GetLineStyle() == slicer.vtkMRMLPlotSeriesNode.LineStyleSolid


def test_chartShowsTheSeriesWithTitles(scene, survival):
    first = plotSeriesFromTable(survival, "time", "survival", "cluster 1", plotType="step")
    second = plotSeriesFromTable(survival, "time", "survival", "cluster 2", plotType="line")
    chart = plotChart(scene, [first, second], "survival", title="Kaplan-Meier", xAxisTitle="months", yAxisTitle="S(t)")
    assert chart.GetNumberOfPlotSeriesNodes() == 2
    assert [chart.GetNthPlotSeriesNode(i) for i in range(2)] == [first, second]
    assert (chart.GetTitle(), chart.GetXAxisTitle(), chart.GetYAxisTitle()) == ("Kaplan-Meier", "months", "S(t)")


def test_badColumnsTypesAndCharts(scene, survival):
    with pytest.raises(InputError, match="no column 'days'. Its columns are: time, survival, group"):
        plotSeriesFromTable(survival, "days", "survival", "s")
    with pytest.raises(InputError, match="'group' .* is not numeric"):
        plotSeriesFromTable(survival, "time", "group", "s")
    with pytest.raises(InputError, match="choose one of: line, scatter, step"):
        plotSeriesFromTable(survival, "time", "survival", "s", plotType="bar")
    with pytest.raises(InputError, match="colour"):
        plotSeriesFromTable(survival, "time", "survival", "s", color=(0, 0, 300))
    with pytest.raises(InputError, match="at least one plot series"):
        plotChart(scene, [], "empty")
    assert scene.GetNumberOfNodesByClass("vtkMRMLPlotSeriesNode") == 0


def test_stepNeedsSortedCompleteData(scene):
    unsorted = dataFrameToTableNode(pd.DataFrame({"t": [2.0, 1.0], "s": [1.0, 0.5]}), scene, "u")
    with pytest.raises(InputError, match="'t' must not decrease; sort the table"):
        plotSeriesFromTable(unsorted, "t", "s", "x", plotType="step")
    missing = dataFrameToTableNode(pd.DataFrame({"t": [1.0, 2.0], "s": [1.0, np.nan]}), scene, "m")
    with pytest.raises(InputError, match="missing values"):
        plotSeriesFromTable(missing, "t", "s", "x", plotType="step")
