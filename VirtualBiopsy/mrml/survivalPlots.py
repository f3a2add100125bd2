"""Kaplan–Meier charts as plot nodes: a step curve per group, its 95 % band as dashed steps, censoring marks."""

from __future__ import annotations

import pandas as pd
import slicer

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.plots import plotChart, plotSeriesFromTable
from VirtualBiopsy.mrml.tables import dataFrameToTableNode

#: Curve colours per group (Okabe–Ito, colour-blind safe), as RGB in [0, 1].
GROUP_COLORS = [
    (0.0, 0.447, 0.698),
    (0.835, 0.369, 0.0),
    (0.0, 0.62, 0.451),
    (0.8, 0.475, 0.655),
    (0.902, 0.624, 0.0),
    (0.337, 0.706, 0.914),
    (0.941, 0.894, 0.259),
    (0.0, 0.0, 0.0),
]

_CURVE_COLUMNS = ("group", "time", "survival", "ci_lower", "ci_upper")


def kaplanMeierChart(
    scene: "slicer.vtkMRMLScene",
    curves: pd.DataFrame,
    censoring: pd.DataFrame,
    name: str,
    title: str = "",
    timeLabel: str = "time",
    showBands: bool = True,
) -> tuple["slicer.vtkMRMLPlotChartNode", list["slicer.vtkMRMLNode"]]:
    """A chart with one survival step curve per group, dashed band limits and censoring crosses.

    :param curves: ``group``, ``time``, ``survival``, ``ci_lower``, ``ci_upper`` (rows of a group by time).
    :param censoring: ``group``, ``time``, ``survival`` of the censoring marks.
    :returns: the chart node and every node made for it (tables, step tables, series), for the hierarchy.
    :raises InputError: for missing columns or no curve.
    """
    absent = [c for c in _CURVE_COLUMNS if c not in curves.columns]
    if absent or curves.empty:
        raise InputError(
            f"Kaplan–Meier curves need the columns {', '.join(_CURVE_COLUMNS)} and at least one row; "
            f"missing: {', '.join(absent) or 'rows'}."
        )
    made: list = []
    series = []
    for index, (group, curve) in enumerate(curves.groupby("group", sort=False)):
        color = GROUP_COLORS[index % len(GROUP_COLORS)]
        table = dataFrameToTableNode(curve[list(_CURVE_COLUMNS[1:])].reset_index(drop=True), scene, f"{name} {group}")
        made.append(table)
        lines = [("survival", f"{group}", slicer.vtkMRMLPlotSeriesNode.LineStyleSolid)]
        if showBands:
            lines += [
                (column, f"{group} 95% CI {column[3:]}", slicer.vtkMRMLPlotSeriesNode.LineStyleDash)
                for column in ("ci_lower", "ci_upper")
            ]
        for column, label, style in lines:
            node = plotSeriesFromTable(table, "time", column, label, plotType="step", color=color)
            node.SetLineStyle(style)
            made += [node.GetTableNode(), node]
            series.append(node)
        marks = censoring[censoring["group"] == group][["time", "survival"]].reset_index(drop=True)
        if len(marks):
            marksTable = dataFrameToTableNode(marks.astype(float), scene, f"{name} {group} censored")
            node = plotSeriesFromTable(
                marksTable, "time", "survival", f"{group} censored", plotType="scatter", color=color
            )
            node.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleCross)
            made += [marksTable, node]
            series.append(node)
    chart = plotChart(scene, series, name, title=title, xAxisTitle=timeLabel, yAxisTitle="Survival probability")
    chart.SetYAxisRange(0.0, 1.05)
    chart.YAxisRangeAutoOff()
    return chart, [*dict.fromkeys(made), chart]
