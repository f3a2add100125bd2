"""Write an evaluation into a new folder, all at once: CSV tables, ``summary.md`` and figures.

Files: ``site_predictability.csv``, ``kruskal_wallis.csv``, ``kruskal_wallis_summary.csv``,
``downstream.csv`` (with a task), ``summary.md`` (the tables in Markdown, and how they were
made), ``feature_distributions.png`` / ``.svg`` and ``provenance.json`` (settings, seed,
versions, and what the caller adds, e.g. the input files' SHA-256).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from VirtualBiopsy.files import stagedOutputFolder
from VirtualBiopsy.harmonize.evaluation.evaluate import HarmonizationEvaluation
from VirtualBiopsy.harmonize.evaluation.figures import saveDistributionFigure


def writeEvaluation(
    result: HarmonizationEvaluation, outDir: str | os.PathLike, provenance: dict | None = None
) -> list[pathlib.Path]:
    """Write every file into the new or empty folder ``outDir`` (staged, then moved into place).

    :param provenance: more entries for ``provenance.json`` (e.g. ``{"inputs": {...}}``).
    :returns: the paths written, inside ``outDir``.
    :raises InputError: when ``outDir`` is a file or a folder with entries.
    """
    outDir = pathlib.Path(outDir)
    with stagedOutputFolder(outDir, "Evaluation folder") as staging:
        result.sitePredictability.to_csv(staging / "site_predictability.csv", index=False)
        result.kruskalWallis.to_csv(staging / "kruskal_wallis.csv", index=False)
        result.kruskalSummary.to_csv(staging / "kruskal_wallis_summary.csv", index=False)
        if len(result.downstream):
            result.downstream.to_csv(staging / "downstream.csv", index=False)
        (staging / "summary.md").write_text(summaryMarkdown(result), encoding="utf-8")
        saveDistributionFigure(result.tables, result.data.batch, result.topFeatures, staging / "feature_distributions")
        record = {**evaluationProvenance(result), **(provenance or {})}
        (staging / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        names = sorted(path.name for path in staging.iterdir())
    return [outDir / name for name in names]


def evaluationProvenance(result: HarmonizationEvaluation) -> dict:
    """Settings, methods, cohort counts, dropped features and package versions."""
    from VirtualBiopsy import __version__
    from VirtualBiopsy.provenance import packageVersions

    data = result.data
    return {
        "settings": dataclasses.asdict(result.settings),
        "methods": list(result.tables),
        "batch": {"column": data.batch.name, "counts": data.batch.value_counts().sort_index().to_dict()},
        "task": None
        if data.task is None
        else {"column": data.task.name, "counts": data.task.value_counts().sort_index().to_dict()},
        "covariates": [] if data.covariates is None else list(data.covariates.columns),
        "droppedConstantFeatures": data.dropped,
        "versions": {
            "virtualBiopsy": __version__,
            **packageVersions(("numpy", "pandas", "scipy", "scikit-learn", "matplotlib")),
        },
    }


def summaryMarkdown(result: HarmonizationEvaluation) -> str:
    """The tables in Markdown, with the cohort and settings they come from."""
    settings, data = result.settings, result.data
    counts = data.batch.value_counts().sort_index()
    lines = [
        "# Harmonization evaluation",
        "",
        f"Cohort: {len(data.batch)} patients; batch '{data.batch.name}': "
        + ", ".join(f"{name} ({count})" for name, count in counts.items())
        + (
            f"; task '{data.task.name}': "
            + ", ".join(f"{k} ({v})" for k, v in data.task.value_counts().sort_index().items())
            if data.task is not None
            else ""
        )
        + ".",
        f"Methods: {', '.join(result.tables)}. ComBat ({settings.combatMethod}) is fitted with the batch"
        + (f" and the covariates {', '.join(data.covariates.columns)}" if data.covariates is not None else "")
        + ", never with the task labels: inside each training fold for the site predictability, on every patient "
        f"for the other parts. Seed {settings.seed}.",
    ]
    dropped = {name: columns for name, columns in data.dropped.items() if columns}
    if dropped:
        lines.append(
            "Left out as constant over the cohort: "
            + "; ".join(f"{name}: {len(columns)} feature(s)" for name, columns in dropped.items())
            + "."
        )
    site = result.sitePredictability.pivot(index="method", columns="model", values="auc").loc[list(result.tables)]
    sd = result.sitePredictability.pivot(index="method", columns="model", values="aucSd").loc[list(result.tables)]
    first = result.sitePredictability.iloc[0]
    kind = "one-vs-rest macro AUC" if first["batches"] > 2 else "AUC"
    lines += [
        "",
        "## Site predictability (cross-validated AUC of the batch; lower is better, 0.5 = not predictable)",
        "",
        "ComBat (where used), standardization and classifier refitted in each training fold; "
        f"{int(first['repeats'])} × stratified {int(first['folds'])}-fold; {kind} of the pooled out-of-fold "
        "probabilities, mean ± SD over the repeats.",
        "",
    ]
    lines += markdownTable(
        ["method", *site.columns],
        [
            [method, *(f"{site.loc[method, m]:.3f} ± {sd.loc[method, m]:.3f}" for m in site.columns)]
            for method in site.index
        ],
    )
    summary = result.kruskalSummary
    lines += [
        "",
        f"## Kruskal–Wallis across batches (α = {settings.alpha})",
        "",
        "Fraction of features whose distribution differs between batches; lower is better.",
        "",
    ]
    lines += markdownTable(
        [
            "method",
            "features",
            "significant (raw p)",
            "significant (Benjamini–Hochberg)",
            "significant (Bonferroni)",
            "median H",
        ],
        [
            [
                row.method,
                str(row.features),
                f"{row.fractionSignificant:.3f}",
                f"{row.fractionSignificantBH:.3f}",
                f"{row.fractionSignificantBonferroni:.3f}",
                f"{row.medianH:.2f}",
            ]
            for row in summary.itertuples()
        ],
    )
    if len(result.downstream):
        lines += _downstreamSection(result)
    lines += ["", "Figure: feature_distributions.png (.svg): " + ", ".join(result.topFeatures) + ".", ""]
    return "\n".join(lines)


def _downstreamSection(result: HarmonizationEvaluation) -> list[str]:
    table = result.downstream
    task = result.data.task
    assert task is not None, "a downstream table comes from a task"
    positive = table["positiveClass"].iloc[0]
    lines = [
        "",
        f"## Downstream task: '{task.name}' trained on one batch, tested on another",
        "",
        f"Positive class {positive}; threshold (Youden) chosen on out-of-fold scores inside the training batch "
        "(log-odds for the logistic regression, probabilities for the forest). Mean over the pairs, then each "
        "pair.",
        "",
    ]
    mean = table.groupby(["method", "model"], sort=False)[["auc", "accuracy"]].mean().reset_index()
    lines += markdownTable(
        ["method", "model", "AUC", "accuracy"],
        [[row.method, row.model, f"{row.auc:.3f}", f"{row.accuracy:.3f}"] for row in mean.itertuples()],
    )
    lines += [""]
    lines += markdownTable(
        ["train → test", "model", "method", "AUC", "accuracy"],
        [
            [f"{row.train} → {row.test}", row.model, row.method, f"{row.auc:.3f}", f"{row.accuracy:.3f}"]
            for row in table.sort_values(["train", "test", "model"], kind="stable").itertuples()
        ],
    )
    return lines


def markdownTable(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub Markdown table as lines."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]
