"""The cohort page's figures: segmentation QA, harmonization effect, feature correlations, Cox forest plot, ROC
curves and the Shapley summary. Each returns a PNG data URI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from VirtualBiopsy.cohort.report.figureStyle import COLORS, newFigure, pngDataUri, shortFeatureName, styled

#: Features shown in the Shapley summary.
SHOWN_FEATURES = 12


@styled
def qaDistributionFigure(qa: pd.DataFrame) -> str:
    """Dice and HD95 over the cohort: a box per metric with every patient as a dot."""
    figure, axes = newFigure(9.5, 3.4, 1, 2)
    rng = np.random.default_rng(0)
    for axis, (column, label, color) in zip(
        axes[0],
        (
            ("dice", "Dice coefficient (no unit)", COLORS[0]),
            ("hausdorff95Mm", "Hausdorff distance, 95th pct. (mm)", COLORS[1]),
        ),
    ):
        values = pd.to_numeric(qa.get(column, pd.Series(dtype=float)), errors="coerce").dropna().to_numpy(float)
        if len(values):
            axis.boxplot(values, orientation="horizontal", widths=0.5, showfliers=False, medianprops={"color": "black"})
            axis.scatter(values, 1 + rng.uniform(-0.15, 0.15, len(values)), color=color, s=28, zorder=3, alpha=0.85)
        else:
            axis.text(0.5, 0.5, "no values", ha="center", va="center", transform=axis.transAxes)
        axis.set_yticks([])
        axis.set_xlabel(label)
        axis.set_title(f"{label.split(' (')[0]} (n = {len(values)})")
    if "dice" in qa.columns:
        axes[0][0].set_xlim(-0.02, 1.02)
    return pngDataUri(figure)


@styled
def siteEffectFigure(before: np.ndarray, after: np.ndarray) -> str:
    """Per-feature site-effect p-values (Kruskal–Wallis) before and after ComBat, as −log10 p histograms."""
    figure, axes = newFigure(8.0, 3.4)
    axis = axes[0][0]
    values = [-np.log10(np.clip(p, 1e-300, 1)) for p in (before, after)]
    top = max(float(np.max(v)) if len(v) else 1.0 for v in values)
    bins = np.linspace(0, max(top, -np.log10(0.05)) * 1.05, 30)
    for data, label, color in zip(values, ("before ComBat", "after ComBat"), COLORS):
        axis.hist(data, bins=bins, alpha=0.6, color=color, label=f"{label} (n = {len(data)} features)")
    axis.axvline(-np.log10(0.05), color="black", linestyle="--", linewidth=1, label="p = 0.05")
    axis.set(xlabel="Site effect per feature, −log10 p (Kruskal–Wallis)", ylabel="Features (count)")
    axis.set_title("Differences between sites, before and after harmonization")
    axis.legend()
    return pngDataUri(figure)


@styled
def correlationFigure(absoluteCorrelations: np.ndarray, threshold: float) -> str:
    """Histogram of the absolute Spearman correlation of every pair of features."""
    figure, axes = newFigure(8.0, 3.2)
    axis = axes[0][0]
    axis.hist(absoluteCorrelations, bins=np.linspace(0, 1, 41), color=COLORS[0])
    axis.axvline(threshold, color=COLORS[1], linestyle="--", linewidth=1.2, label=f"|ρ| = {threshold:g}")
    axis.set(xlabel="Absolute Spearman correlation |ρ| of a pair of features", ylabel="Feature pairs (count)")
    axis.set_title(f"Correlation between features ({len(absoluteCorrelations)} pairs)")
    axis.legend()
    return pngDataUri(figure)


@styled
def forestFigure(coefficients: pd.DataFrame) -> str:
    """Hazard ratio per covariate with its 95 % confidence interval, on a log axis."""
    rows = coefficients.iloc[::-1]
    figure, axes = newFigure(8.0, 1.2 + 0.5 * len(rows))
    axis = axes[0][0]
    y = np.arange(len(rows))
    hr = rows["hr"].to_numpy(float)
    low, high = rows["ci_lower"].to_numpy(float), rows["ci_upper"].to_numpy(float)
    axis.errorbar(
        hr, y, xerr=[hr - low, high - hr], fmt="s", color=COLORS[0], ecolor=COLORS[0], capsize=4, markersize=7
    )
    axis.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    axis.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_yticks(y, [str(name) for name in rows["covariate"]])
    axis.set_ylim(-0.6, len(rows) - 0.4)
    axis.set(xlabel="Hazard ratio (95 % CI, log scale; > 1: higher risk)")
    axis.set_title("Cox model: hazard ratios")
    axis.grid(axis="y", visible=False)
    return pngDataUri(figure)


@styled
def rocFigure(roc: pd.DataFrame, performance: pd.DataFrame | None, titles: dict[str, str]) -> str:
    """The mean cross-validated ROC curve of each model (``roc.csv``) with its ±1 SD band."""
    figure, axes = newFigure(6.2, 5.4)
    axis = axes[0][0]
    aucs = performance.set_index("model") if performance is not None and "model" in performance.columns else None
    for index, (model, curve) in enumerate(roc.groupby("model", sort=False)):
        color = COLORS[index % len(COLORS)]
        fpr, mean = curve["fpr"].to_numpy(float), curve["tpr_mean"].to_numpy(float)
        spread = curve["tpr_sd"].to_numpy(float) if "tpr_sd" in curve.columns else np.zeros_like(mean)
        label = titles.get(str(model), str(model))
        if aucs is not None and model in aucs.index and "auc_mean" in aucs.columns:
            label += f": AUC {aucs.at[model, 'auc_mean']:.2f} ± {aucs.at[model, 'auc_sd']:.2f}"
        axis.plot(fpr, mean, color=color, label=label, linewidth=1.8)
        axis.fill_between(fpr, np.clip(mean - spread, 0, 1), np.clip(mean + spread, 0, 1), color=color, alpha=0.15)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.9, label="chance")
    axis.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="False-positive rate (1 − specificity)",
        ylabel="True-positive rate (sensitivity)",
    )
    axis.set_title("Cross-validated ROC (mean ± 1 SD over folds)")
    axis.legend(loc="lower right")
    return pngDataUri(figure)


@styled
def shapSummaryFigure(shap: pd.DataFrame, features: pd.DataFrame | None, quantity: str) -> str:
    """Per feature (largest mean |Shapley value| at the top), each patient's value as a dot coloured by the
    feature's rank in the cohort."""
    order = shap.abs().mean().sort_values(ascending=False).index[:SHOWN_FEATURES][::-1]
    figure, axes = newFigure(9.5, 1.4 + 0.42 * len(order))
    axis = axes[0][0]
    rng = np.random.default_rng(0)
    scatter = None
    for index, name in enumerate(order):
        values = shap[name].to_numpy(float)
        if features is not None and name in features.columns:
            colour = features[name].reindex(shap.index).rank(pct=True).to_numpy(float)
        else:
            colour = np.full(len(values), 0.5)
        scatter = axis.scatter(
            values, index + rng.uniform(-0.22, 0.22, len(values)), c=colour, cmap="coolwarm", vmin=0, vmax=1, s=22
        )
    axis.axvline(0, color="grey", linewidth=0.9)
    axis.set_yticks(range(len(order)), [shortFeatureName(str(name)) for name in order], fontsize=9)
    axis.set_xlabel(f"Shapley value ({quantity})")
    axis.set_title(f"Feature contributions over the cohort (top {len(order)} of {shap.shape[1]} features)")
    axis.grid(axis="y", visible=False)
    if scatter is not None:
        bar = figure.colorbar(scatter, ax=axis, ticks=[0, 1], shrink=0.8)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("Feature value (cohort rank)")
    return pngDataUri(figure)
