"""Exploration figures (PNG, matplotlib's Agg backend): distributions per class and a correlation heatmap."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Feature names are written on the heatmap's axes only up to this many features.
MAX_LABELLED_FEATURES = 40


def saveDistributionsFigure(
    features: pd.DataFrame,
    outcome: pd.Series,
    path: str | pathlib.Path,
    featureNames: Sequence[str] | None = None,
    maxFeatures: int = 16,
) -> pathlib.Path:
    """Box plots with the individual patients per outcome class, one panel per feature.

    :param featureNames: the features to draw, in order (default: the first ``maxFeatures`` columns).
    :raises InputError: when ``path`` exists already or a named feature is absent.
    """
    names = list(featureNames if featureNames is not None else features.columns)[:maxFeatures]
    absent = [name for name in names if name not in features.columns]
    if absent:
        raise InputError(f"Feature(s) {', '.join(absent)} are not in the table; name existing columns.")
    if not names:
        raise InputError("No feature to draw; give at least one feature column.")
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    figure, path = _newFigure(path, 3.0 * columns, 2.6 * rows)
    classes = sorted(outcome.unique(), key=str)
    rng = np.random.default_rng(0)
    for number, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, number + 1)
        groups = [features.loc[(outcome == value).to_numpy(), name].dropna().to_numpy() for value in classes]
        axes.boxplot(groups, showfliers=False, widths=0.5)
        for position, values in enumerate(groups, start=1):
            axes.plot(position + rng.uniform(-0.12, 0.12, len(values)), values, "o", markersize=3, alpha=0.6)
        axes.set_xticks(range(1, len(classes) + 1), [f"{outcome.name}={value}" for value in classes], fontsize=7)
        axes.set_title(_shortName(name), fontsize=8)
        axes.tick_params(axis="y", labelsize=7)
    return _save(figure, path)


def saveCorrelationHeatmap(
    matrix: pd.DataFrame, path: str | pathlib.Path, title: str = "Spearman correlation"
) -> pathlib.Path:
    """Heatmap of a correlation matrix on a fixed −1…1 diverging scale (NaN cells grey).

    :raises InputError: when ``path`` exists already or the matrix is empty.
    """
    if matrix.empty:
        raise InputError("The correlation matrix is empty; there is no feature to draw.")
    size = min(14.0, 4.0 + 0.18 * len(matrix))
    figure, path = _newFigure(path, size, size * 0.85)
    axes = figure.add_subplot(1, 1, 1)
    import matplotlib

    colours = matplotlib.colormaps["RdBu_r"].with_extremes(bad="lightgrey")
    values = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
    image = axes.imshow(values, cmap=colours, vmin=-1.0, vmax=1.0, interpolation="nearest")
    if len(matrix) <= MAX_LABELLED_FEATURES:
        labels = [_shortName(str(name)) for name in matrix.columns]
        axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
        axes.set_yticks(range(len(labels)), labels, fontsize=6)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_xlabel(f"{len(matrix)} features (in the order of spearman.csv)")
    figure.colorbar(image, ax=axes, shrink=0.8, label="ρ")
    axes.set_title(title)
    return _save(figure, path)


def _newFigure(path: str | pathlib.Path, width: float, height: float) -> tuple[Figure, pathlib.Path]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = pathlib.Path(path)
    if path.exists():
        raise InputError(f"{path} exists already; choose another output path.")
    return Figure(figsize=(width, height), dpi=110), path


def _save(figure, path: pathlib.Path) -> pathlib.Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def _shortName(name: str) -> str:
    return name.replace("original_", "")
