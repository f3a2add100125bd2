"""Plot series and chart nodes from table columns (Kaplan–Meier curves, feature plots)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

PLOT_TYPES = ("line", "scatter", "step")

#: Attribute of a step series' companion table naming the table it was made from.
STEP_SOURCE_ATTRIBUTE = "VirtualBiopsy.StepSourceTableID"


def plotSeriesFromTable(
    tableNode: "slicer.vtkMRMLTableNode",
    xColumn: str,
    yColumn: str,
    name: str,
    plotType: str = "line",
    color: Sequence[float] | None = None,
) -> "slicer.vtkMRMLPlotSeriesNode":
    """Create a plot series of ``yColumn`` against ``xColumn``.

    ``"line"`` joins the points in row order, ``"scatter"`` draws markers only and
    ``"step"`` draws a staircase (a survival curve: each y value holds until the next
    x).  Slicer's plot series has no step type, so for ``"step"`` the staircase's
    corner points are written to a companion table node (named ``"<name> steps"``,
    attribute ``VirtualBiopsy.StepSourceTableID`` = the source table's ID) that the
    series plots as a line; it does not follow later edits of the source table.

    :param color: RGB in [0, 1]; Slicer's default colour if not given.
    :raises InputError: for an unknown or non-numeric column (listing the columns), an unknown
        plot type or colour, or, for ``"step"``, missing values or x values that decrease.
    """
    if plotType not in PLOT_TYPES:
        raise InputError(f"Plot type '{plotType}' is not supported; choose one of: {', '.join(PLOT_TYPES)}.")
    if not isinstance(tableNode, slicer.vtkMRMLTableNode):
        raise InputError(f"Expected a table node, got {type(tableNode).__name__}. Pass a vtkMRMLTableNode.")
    rgb = _color(color) if color is not None else None
    x = _numericColumn(tableNode, xColumn)
    y = _numericColumn(tableNode, yColumn)
    scene = tableNode.GetScene()
    sourceTable = tableNode
    if plotType == "step":
        sourceTable = _staircaseTable(scene, tableNode, xColumn, yColumn, x, y, f"{name} steps")

    series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name)
    series.SetAndObserveTableNodeID(sourceTable.GetID())
    series.SetXColumnName(xColumn)
    series.SetYColumnName(yColumn)
    series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
    if plotType == "scatter":
        series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleNone)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCircle)
    else:
        series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleSolid)
        series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleNone)
    if rgb is not None:
        series.SetColor(*rgb)
    return series


def plotChart(
    scene: "slicer.vtkMRMLScene",
    seriesNodes: Sequence["slicer.vtkMRMLPlotSeriesNode"],
    name: str,
    title: str = "",
    xAxisTitle: str = "",
    yAxisTitle: str = "",
) -> "slicer.vtkMRMLPlotChartNode":
    """Create a chart node showing ``seriesNodes`` with the given titles.

    :raises InputError: if no series is given or one is not a plot series of ``scene``.
    """
    seriesNodes = list(seriesNodes)
    if not seriesNodes:
        raise InputError(f"Chart '{name}' needs at least one plot series; make them with plotSeriesFromTable.")
    for series in seriesNodes:
        if not isinstance(series, slicer.vtkMRMLPlotSeriesNode) or series.GetScene() is not scene:
            raise InputError(
                f"Chart '{name}': {type(series).__name__} is not a plot series node of this scene. "
                "Pass nodes made by plotSeriesFromTable in the same scene."
            )
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    for series in seriesNodes:
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
    chart.SetTitle(title)
    chart.SetXAxisTitle(xAxisTitle)
    chart.SetYAxisTitle(yAxisTitle)
    return chart


def _numericColumn(tableNode: "slicer.vtkMRMLTableNode", columnName: str) -> np.ndarray:
    table = tableNode.GetTable()
    columns = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    array = table.GetColumnByName(columnName) if columnName in columns else None
    if array is None:
        raise InputError(
            f"Table '{tableNode.GetName()}' has no column '{columnName}'. Its columns are: {', '.join(columns) or 'none'}."
        )
    if (
        not isinstance(array, vtk.vtkDataArray)
        or isinstance(array, vtk.vtkBitArray)
        or array.GetNumberOfComponents() != 1
    ):
        raise InputError(
            f"Column '{columnName}' of table '{tableNode.GetName()}' is not numeric ({array.GetClassName()}); "
            "plot a numeric column or convert it first."
        )
    return numpy_support.vtk_to_numpy(array).astype(np.float64)


def _staircaseTable(scene, tableNode, xColumn: str, yColumn: str, x: np.ndarray, y: np.ndarray, name: str):
    if np.isnan(x).any() or np.isnan(y).any():
        raise InputError(
            f"Step plot of '{tableNode.GetName()}': columns '{xColumn}'/'{yColumn}' have missing values. "
            "Drop those rows first."
        )
    if (np.diff(x) < 0).any():
        raise InputError(
            f"Step plot of '{tableNode.GetName()}': column '{xColumn}' must not decrease; sort the table by it first."
        )
    # Corners of the staircase: (x0, y0), (x1, y0), (x1, y1), (x2, y1), ...
    stepX = np.repeat(x, 2)[1:]
    stepY = np.repeat(y, 2)[:-1]
    steps = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    steps.SetAttribute(STEP_SOURCE_ATTRIBUTE, tableNode.GetID())
    for columnName, values in ((xColumn, stepX), (yColumn, stepY)):
        array = numpy_support.numpy_to_vtk(values, deep=True, array_type=vtk.VTK_DOUBLE)
        array.SetName(columnName)
        steps.AddColumn(array)
    return steps


def _color(value: Sequence[float]) -> tuple[float, float, float]:
    color = tuple(float(c) for c in value)
    if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
        raise InputError(f"Plot colour {tuple(value)} is invalid; give three numbers (r, g, b) in [0, 1].")
    return color
