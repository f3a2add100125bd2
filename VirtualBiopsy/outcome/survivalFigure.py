"""Kaplan–Meier figures for papers: curves with 95 % bands, censoring marks and an at-risk table (PNG and SVG)."""

from __future__ import annotations

import pathlib

import numpy as np

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.kaplanMeier import KaplanMeierResult

#: Curve colours per group (Okabe–Ito, colour-blind safe).
GROUP_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def atRiskTimes(result: KaplanMeierResult, count: int = 6) -> list[float]:
    """Evenly spaced, rounded times from 0 to the longest follow-up for the at-risk table."""
    from matplotlib.ticker import MaxNLocator

    end = float(result.curves["time"].max())
    ticks = MaxNLocator(nbins=count - 1, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, end)
    return [float(t) for t in ticks if 0.0 <= t <= end]


def logRankText(result: KaplanMeierResult) -> str:
    """``log-rank p = …``, or why the test is undefined."""
    overall = result.logRank.iloc[0]
    if np.isfinite(overall["p"]):
        return f"log-rank p = {overall['p']:.3g}"
    return f"log-rank test {overall['note'].split(':')[0] if overall['note'] else 'undefined'}"


def kaplanMeierFigure(
    result: KaplanMeierResult,
    title: str = "",
    timeLabel: str = "time",
    showBands: bool = True,
    times: list[float] | None = None,
    width: float = 6.4,
    fontSize: float = 8,
):
    """The curves of ``result`` as a matplotlib ``Figure`` (Agg, no pyplot state).

    Each group gets a step curve, its pointwise 95 % band (shaded), ``|`` marks at censoring times, and a row
    of the at-risk table (at ``times``, default :func:`atRiskTimes`) under the axes; the overall log-rank p
    (or why it is undefined) is in the title.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    groups = result.groups
    rowHeight = 0.035 * fontSize
    figure = Figure(figsize=(width, 0.72 * width + rowHeight * len(groups)), dpi=150)
    grid = figure.add_gridspec(2, 1, height_ratios=[4.0, 0.35 + rowHeight * len(groups)], hspace=0.35)
    axes, table = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    counts = result.summary.set_index("group")
    for index, group in enumerate(groups):
        color = GROUP_COLORS[index % len(GROUP_COLORS)]
        curve = result.curves[result.curves["group"] == group]
        label = f"{group} (n = {int(counts.loc[group, 'n'])}, events = {int(counts.loc[group, 'events'])})"
        axes.step(curve["time"], curve["survival"], where="post", color=color, label=label, linewidth=1.6)
        if showBands:
            axes.fill_between(
                curve["time"], curve["ci_lower"], curve["ci_upper"], step="post", color=color, alpha=0.15, linewidth=0
            )
        marks = result.censoring[result.censoring["group"] == group]
        axes.plot(marks["time"], marks["survival"], "|", color=color, markersize=8, markeredgewidth=1.3)
    suffix = f"({logRankText(result)})" if len(groups) > 1 else ""
    axes.set_title("  ".join(part for part in (title, suffix) if part), fontsize=fontSize + 2)
    axes.set_ylim(-0.02, 1.05)
    axes.set_ylabel("Survival probability", fontsize=fontSize + 1)
    axes.tick_params(labelsize=fontSize)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left", fontsize=fontSize, frameon=False)
    times = atRiskTimes(result) if times is None else times
    end = float(result.curves["time"].max())
    axes.set_xlim(0, end * 1.02 if end > 0 else 1)
    axes.set_xticks(times)
    axes.set_xlabel(timeLabel, fontsize=fontSize + 1)
    atRisk = result.atRiskTable(times)
    table.set_xlim(axes.get_xlim())
    table.set_ylim(-0.5, len(groups) - 0.5)
    table.axis("off")
    table.set_title("Number at risk", fontsize=fontSize, loc="left")
    for row, group in enumerate(groups):
        y = len(groups) - 1 - row
        color = GROUP_COLORS[row % len(GROUP_COLORS)]
        table.text(-0.03 * end, y, str(group), ha="right", va="center", fontsize=fontSize, color=color)
        for t, value in zip(times, atRisk.loc[group]):
            table.text(t, y, str(int(value)), ha="center", va="center", fontsize=fontSize)
    figure.subplots_adjust(left=0.16, right=0.97, top=0.93, bottom=0.06)
    return figure


def saveKaplanMeierFigure(
    result: KaplanMeierResult,
    stem: str | pathlib.Path,
    title: str = "",
    timeLabel: str = "time",
    showBands: bool = True,
) -> list[pathlib.Path]:
    """:func:`kaplanMeierFigure` saved as ``<stem>.png`` and ``<stem>.svg``.

    :raises InputError: when either file exists already (nothing is overwritten).
    """
    stem = pathlib.Path(stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise InputError(f"{', '.join(existing)} exist(s) already; nothing is overwritten. Choose another name.")
    figure = kaplanMeierFigure(result, title, timeLabel, showBands)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for path in paths:
        figure.savefig(path, format=path.suffix[1:])
    return paths
