"""Feature distributions per batch, before and after each harmonization method (PNG and SVG)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def saveDistributionFigure(
    tables: Mapping[str, pd.DataFrame],
    batch: pd.Series,
    features: Sequence[str],
    stem: pathlib.Path,
) -> list[pathlib.Path]:
    """One panel per feature (row) and method (column): a box and the points of each batch.

    A feature that a method's table lacks leaves its panel empty with a note. Each panel has
    its own value axis (methods change the units).

    :param stem: the path without suffix; ``STEM.png`` and ``STEM.svg`` are written.
    :returns: the two paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    methods = list(tables)
    batches = sorted(set(batch))
    labels = batch.to_numpy()
    figure = Figure(figsize=(2.6 * len(methods) + 0.6, 2.2 * len(features) + 0.6), dpi=110, layout="constrained")
    axes = figure.subplots(len(features), len(methods), squeeze=False)
    jitter = np.random.default_rng(0)
    for row, feature in enumerate(features):
        for column, method in enumerate(methods):
            axis = axes[row][column]
            if feature not in tables[method].columns:
                axis.text(0.5, 0.5, "not in this table", ha="center", va="center", transform=axis.transAxes)
                axis.set_xticks([])
            else:
                values = tables[method][feature].to_numpy(dtype=np.float64)
                groups = [values[labels == name] for name in batches]
                axis.boxplot(groups, showfliers=False, widths=0.6)
                for position, group in enumerate(groups, start=1):
                    axis.plot(position + jitter.uniform(-0.15, 0.15, len(group)), group, ".", alpha=0.6, markersize=4)
                axis.set_xticks(range(1, len(batches) + 1), batches, fontsize=7)
            axis.tick_params(axis="y", labelsize=7)
            if row == 0:
                axis.set_title(method, fontsize=9)
            if column == 0:
                axis.set_ylabel(_short(feature), fontsize=7)
    figure.suptitle("Feature distributions per batch (most batch-dependent features before harmonization)", fontsize=9)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path)
    return paths


def _short(feature: str, width: int = 28) -> str:
    """A feature name broken over lines to fit beside a panel."""
    parts, lines, line = feature.split("_"), [], ""
    for part in parts:
        if line and len(line) + len(part) + 1 > width:
            lines.append(line)
            line = part
        else:
            line = f"{line}_{part}" if line else part
    return "\n".join([*lines, line])
