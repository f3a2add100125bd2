"""Figures of the classifiers (matplotlib, PNG and SVG): mean ROC curves, per-patient SHAP
waterfalls and the cohort's SHAP summary."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import temporarySibling
from VirtualBiopsy.outcome.classification.models import MODEL_TITLES
from VirtualBiopsy.outcome.classification.shapley import ShapleyExplanation
from VirtualBiopsy.outcome.classification.validation import ROC_GRID, CrossValidation

#: Colour-blind-safe colours (Okabe–Ito).
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
#: Features shown in the waterfall and summary plots; the rest are summed into one bar.
SHOWN_FEATURES = 12


def saveRocFigure(
    validations: dict[str, CrossValidation], performance: pd.DataFrame, stem: str | os.PathLike
) -> list[pathlib.Path]:
    """Mean ROC curve per model over the folds × repeats with a ±1 SD band; ``STEM.png`` and ``STEM.svg``.

    :param performance: the comparison table (``model``, ``auc_mean``, ``auc_sd``) for the legend.
    """
    figure, axes = _figure((5.6, 5.2))
    table = performance.set_index("model")
    for index, (name, validation) in enumerate(validations.items()):
        color = COLORS[index % len(COLORS)]
        mean = validation.rocTruePositive.mean(axis=0)
        spread = validation.rocTruePositive.std(axis=0)
        mean[-1] = 1.0
        auc, spread = table.at[name, "auc_mean"], table.at[name, "auc_sd"]
        label = f"{MODEL_TITLES.get(name, name)}: AUC {auc:.2f} ± {spread:.2f}"
        axes.plot(ROC_GRID, mean, color=color, label=label)
        axes.fill_between(ROC_GRID, np.clip(mean - spread, 0, 1), np.clip(mean + spread, 0, 1), color=color, alpha=0.15)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="Chance")
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False-positive rate (1 − specificity)",
        ylabel="True-positive rate (sensitivity)",
        title="Cross-validated ROC (mean ± 1 SD over folds)",
    )
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, stem)


def saveWaterfallFigure(explanation: ShapleyExplanation, patient: str, stem: str | os.PathLike) -> list[pathlib.Path]:
    """One patient's Shapley values as a waterfall from the base value to the model output.

    :raises InputError: for a patient the explanation does not hold.
    """
    if patient not in explanation.values.index:
        raise InputError(f"Patient '{patient}' is not among the explained patients; choose one of the feature table's.")
    row = explanation.values.loc[patient]
    order = row.abs().sort_values(ascending=False).index
    shown, rest = list(order[:SHOWN_FEATURES]), list(order[SHOWN_FEATURES:])
    contributions = [(name, float(row[name])) for name in shown]
    if rest:
        contributions.append((f"{len(rest)} other features", float(row[rest].sum())))
    contributions.reverse()  # largest at the top
    figure, axes = _figure((7.0, 0.9 + 0.38 * len(contributions)))
    position = explanation.baseValue + sum(value for _, value in contributions)
    start = explanation.baseValue
    for index, (name, value) in enumerate(contributions):
        axes.barh(index, value, left=start, color=COLORS[1] if value > 0 else COLORS[0])
        axes.text(start + value, index, f" {value:+.3g}", va="center", ha="left" if value >= 0 else "right", fontsize=7)
        start += value
    axes.set_yticks(range(len(contributions)), [name for name, _ in contributions], fontsize=7)
    ends = np.cumsum([explanation.baseValue] + [value for _, value in contributions])
    low, high = float(ends.min()), float(ends.max())
    pad = 0.18 * (high - low) or 1.0
    axes.set_xlim(low - pad, high + pad)  # room for the value labels (bars' sticky edges defeat margins)
    axes.axvline(explanation.baseValue, color="grey", linestyle="--", linewidth=0.8)
    axes.axvline(position, color="black", linewidth=0.8)
    axes.set(
        xlabel=explanation.quantity,
        title=f"{patient}: base {explanation.baseValue:.3g} → output {float(explanation.modelOutput[patient]):.3g}",
    )
    return _save(figure, stem)


def saveSummaryFigure(
    explanation: ShapleyExplanation, features: pd.DataFrame, stem: str | os.PathLike
) -> list[pathlib.Path]:
    """Cohort summary (beeswarm-like): per feature, each patient's Shapley value as a dot coloured
    by the feature's value (rank within the cohort), features by mean |value|."""
    values = explanation.values
    order = values.abs().mean().sort_values(ascending=False).index[:SHOWN_FEATURES][::-1]
    figure, axes = _figure((7.0, 1.0 + 0.42 * len(order)))
    rng = np.random.default_rng(0)
    scatter = None
    for index, name in enumerate(order):
        shap = values[name].to_numpy(dtype=float)
        colour = features.loc[values.index, name].rank(pct=True).to_numpy(dtype=float)
        jitter = rng.uniform(-0.25, 0.25, size=len(shap))
        scatter = axes.scatter(shap, index + jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=12, linewidths=0)
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set_yticks(range(len(order)), list(order), fontsize=7)
    axes.set(xlabel=f"Shapley value ({explanation.quantity})", title="Feature contributions over the cohort")
    if scatter is not None:
        bar = figure.colorbar(scatter, ax=axes, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("Feature value (cohort rank)")
    return _save(figure, stem)


def _figure(size: tuple[float, float]):
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=120, layout="constrained")
    return figure, figure.subplots()


def _save(figure, stem: str | os.PathLike) -> list[pathlib.Path]:
    stem = pathlib.Path(stem)
    paths = [stem.with_name(f"{stem.name}.{suffix}") for suffix in ("png", "svg")]
    for path in paths:
        if path.exists():
            raise InputError(f"{path} exists already; nothing is overwritten. Choose another output folder.")
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text, editable for papers
        for path in paths:
            with temporarySibling(path) as temporary:
                figure.savefig(temporary, format=path.suffix[1:])
    return paths
