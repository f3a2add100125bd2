"""A patient page's plots: the patient's key features on the cohort's histograms and its Shapley waterfall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.report.figureStyle import COLORS, featureUnit, newFigure, pngDataUri, shortFeatureName, styled

#: Features shown in the waterfall; the rest are summed into one bar.
SHOWN_FEATURES = 12


def percentile(values: pd.Series, value: float) -> float:
    """The patient's percentile in the cohort: the share of patients with a lower value, ties counted half."""
    values = values.dropna().to_numpy(float)
    return 100.0 * (np.sum(values < value) + 0.5 * np.sum(values == value)) / len(values)


@styled
def featureHistogramsFigure(features: pd.DataFrame, patient: str, names: list[str]) -> str:
    """One histogram per feature of ``names`` over the cohort, the patient's value marked."""
    columns = 3
    rows = int(np.ceil(len(names) / columns))
    figure, axes = newFigure(12.5, 3.0 * rows, rows, columns)
    for index, axis in enumerate(axes.flat):
        if index >= len(names):
            axis.set_visible(False)
            continue
        name = names[index]
        values = pd.to_numeric(features[name], errors="coerce")
        value = float(values.get(patient, np.nan))
        axis.hist(values.dropna(), bins=min(20, max(5, len(values) // 2)), color=COLORS[0], alpha=0.75)
        if np.isfinite(value):
            axis.axvline(
                value,
                color=COLORS[1],
                linewidth=2.5,
                label=f"this patient: {value:,.0f}" if abs(value) >= 1000 else f"this patient: {value:.4g}",
            )
            axis.legend(loc="upper right", fontsize=9, frameon=False)
            share = f", percentile {percentile(values, value):.0f}"
        else:
            share = ", no value"
        axis.set_title(f"{shortFeatureName(name, 40)}{share}", fontsize=10)
        unit = featureUnit(name)
        axis.set_xlabel(f"value ({unit})" if unit else "value (no unit)")
        axis.set_ylabel("patients (count)")
    return pngDataUri(figure)


@styled
def waterfallFigure(values: pd.Series, baseValue: float, quantity: str, patient: str) -> str:
    """The patient's Shapley values as a waterfall from the base value to the model's output."""
    order = values.abs().sort_values(ascending=False).index
    shown, rest = list(order[:SHOWN_FEATURES]), list(order[SHOWN_FEATURES:])
    contributions = [(shortFeatureName(str(name)), float(values[name])) for name in shown]
    if rest:
        contributions.append((f"{len(rest)} other features", float(values[rest].sum())))
    contributions.reverse()  # largest at the top
    figure, axes = newFigure(10.0, 1.4 + 0.4 * len(contributions))
    axis = axes[0][0]
    start = baseValue
    for index, (_, value) in enumerate(contributions):
        axis.barh(index, value, left=start, color=COLORS[1] if value > 0 else COLORS[0], height=0.7)
        axis.text(
            start + value, index, f" {value:+.3g} ", va="center", ha="left" if value >= 0 else "right", fontsize=9
        )
        start += value
    ends = np.cumsum([baseValue] + [value for _, value in contributions])
    low, high = float(ends.min()), float(ends.max())
    pad = 0.2 * (high - low) or 1.0
    axis.set_xlim(low - pad, high + pad)
    axis.set_yticks(range(len(contributions)), [name for name, _ in contributions], fontsize=9)
    axis.axvline(baseValue, color="grey", linestyle="--", linewidth=1, label=f"base value {baseValue:.3g}")
    axis.axvline(start, color="black", linewidth=1, label=f"this patient {start:.3g}")
    axis.set_xlabel(quantity)
    axis.set_title(f"{patient}: how each feature moves the output from the base value")
    figure.legend(loc="outside lower center", ncols=2, frameon=False)
    axis.grid(axis="y", visible=False)
    return pngDataUri(figure)
