"""Kaplan–Meier figure of the report: step curves with 95 % bands and censoring marks, the numbers at risk under
the plot, the log-rank p in the title."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.report.figureStyle import COLORS, newFigure, pngDataUri, styled
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult


def logRankText(result: KaplanMeierResult) -> str:
    """``log-rank p = …``, or why the test is undefined."""
    overall = result.logRank.iloc[0]
    if np.isfinite(overall["p"]):
        return f"log-rank p = {overall['p']:.3g}"
    return f"log-rank test {overall['note'] or 'undefined'}"


@styled
def kaplanMeierFigure(
    result: KaplanMeierResult, times: list[float], atRisk: pd.DataFrame, timeLabel: str, title: str
) -> str:
    """The curves of ``result`` with the at-risk table ``atRisk`` (groups × ``times``) under the axes."""
    groups = result.groups
    figure, axes = newFigure(9.0, 5.0 + 0.3 * len(groups), 2, 1, height_ratios=[5.0, 0.6 + 0.3 * len(groups)])
    axis, table = axes[0][0], axes[1][0]
    counts = result.summary.set_index("group")
    for index, group in enumerate(groups):
        color = COLORS[index % len(COLORS)]
        curve = result.curves[result.curves["group"] == group]
        label = f"{group} (n = {int(counts.loc[group, 'n'])}, events = {int(counts.loc[group, 'events'])})"
        axis.step(curve["time"], curve["survival"], where="post", color=color, label=label, linewidth=2)
        axis.fill_between(
            curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", color=color, alpha=0.12, linewidth=0
        )
        marks = result.censoring[result.censoring["group"] == group]
        axis.plot(marks["time"], marks["survival"], "|", color=color, markersize=10, markeredgewidth=1.5)
    end = float(result.curves["time"].max()) or 1.0
    axis.set_xlim(0, end * 1.02)
    axis.set_ylim(-0.02, 1.05)
    axis.set_xticks(times)
    axis.set_xlabel(timeLabel)
    axis.set_ylabel("Survival probability")
    axis.set_title(f"{title} ({logRankText(result)})" if len(groups) > 1 else title)
    axis.legend(loc="lower left", frameon=False)
    table.set_xlim(axis.get_xlim())
    table.set_ylim(-0.6, len(groups) - 0.4)
    table.axis("off")
    table.set_title("Number at risk", loc="left", fontsize=10)
    for row, group in enumerate(groups):
        y = len(groups) - 1 - row
        color = COLORS[row % len(COLORS)]
        table.text(-0.02 * end, y, str(group), ha="right", va="center", color=color, fontsize=10)
        for t in times:
            table.text(t, y, str(int(atRisk.loc[group, t])), ha="center", va="center", fontsize=10)
    return pngDataUri(figure)
