"""Kaplan–Meier figure of a cohort's clusters."""

from __future__ import annotations

import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError


def saveKaplanMeierFigure(
    curves: dict[int, pd.DataFrame],
    patients: pd.DataFrame,
    logRankPValue: float,
    path: str | pathlib.Path,
    timeLabel: str = "time",
    eventColumn: str = "event",
    timeColumn: str = "time",
) -> pathlib.Path:
    """Draw one step curve per cluster with censoring ticks and the log-rank p-value; save a PNG.

    :param curves: cluster → Kaplan–Meier curve (columns time, survival).
    :param patients: per patient: ``timeColumn``, ``eventColumn`` and ``cluster``.
    :raises InputError: when ``path`` exists already (nothing is overwritten).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = pathlib.Path(path)
    if path.exists():
        raise InputError(f"{path} exists already; choose another output path.")
    figure = Figure(figsize=(6.4, 4.4), dpi=120)
    axes = figure.subplots()
    for cluster, curve in curves.items():
        members = patients[patients["cluster"] == cluster]
        line = axes.step(curve["time"], curve["survival"], where="post", label=f"Cluster {cluster} (n={len(members)})")[0]
        censored = members[members[eventColumn] == 0][timeColumn].to_numpy(dtype=float)
        survivalAtCensoring = [curve["survival"][curve["time"] <= t].iloc[-1] for t in censored]
        axes.plot(censored, survivalAtCensoring, "|", color=line.get_color(), markersize=8)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel(timeLabel)
    axes.set_ylabel("Survival probability")
    axes.set_title(f"Kaplan–Meier by cluster (log-rank p = {logRankPValue:.3g})")
    axes.legend(loc="lower left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
