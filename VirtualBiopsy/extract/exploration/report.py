"""An exploration run: features + a two-class outcome → tables and figures in a new folder.

Files written into ``outDir`` (which must be new or empty; everything appears at once, or nothing)::

    missing_values.csv        per feature: missing count and fraction (before handling)
    features_prepared.csv     the features analysed (after dropping and imputing)
    statistics.csv / .xlsx    count, missing, mean, SD, median, quartiles, IQR, min, max; all and per class
    univariate.csv            Mann–Whitney U, p, Bonferroni p, ROC AUC and direction per feature
    spearman.csv              Spearman correlation matrix
    spearman_heatmap.png      its heatmap
    volume_correlation.csv    ρ with tumour volume, flagged when |ρ| > threshold (when a volume column exists)
    distributions.png         per-class distributions of the features with the smallest p-values
    summary.json              classes, counts, options, dropped/constant/flagged features, notes
"""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass, field

import pandas as pd

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.exploration.config import ExplorationOptions
from VirtualBiopsy.extract.exploration.correlation import (
    findVolumeColumn,
    spearmanMatrix,
    volumeCorrelationTable,
)
from VirtualBiopsy.extract.exploration.figures import (
    saveCorrelationHeatmap,
    saveDistributionsFigure,
)
from VirtualBiopsy.extract.exploration.missingValues import (
    constantFeatures,
    handleMissingValues,
    missingValueReport,
)
from VirtualBiopsy.extract.exploration.statistics import (
    basicStatistics,
    writeStatistics,
)
from VirtualBiopsy.extract.exploration.tables import PATIENT_COLUMN, prepareExploration
from VirtualBiopsy.extract.exploration.univariate import univariateTable
from VirtualBiopsy.files import stagedOutputFolder
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


@dataclass
class ExplorationResult:
    """Tables of an exploration run and the files written (name → path)."""

    univariate: pd.DataFrame
    statistics: pd.DataFrame
    correlation: pd.DataFrame
    volumeCorrelation: pd.DataFrame | None
    summary: dict
    files: dict[str, pathlib.Path] = field(default_factory=dict)


def exploreFeatures(
    features: pd.DataFrame,
    clinical: pd.DataFrame,
    outcome: str,
    outDir: str | os.PathLike,
    options: ExplorationOptions | None = None,
    patientColumn: str = PATIENT_COLUMN,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExplorationResult:
    """Explore ``features`` against ``clinical[outcome]`` and write the tables and figures into ``outDir``.

    :raises InputError: for a non-empty ``outDir`` or any input :func:`~.tables.prepareExploration`,
        :func:`~.missingValues.handleMissingValues` or :func:`~.correlation.findVolumeColumn` refuses.
    :raises CancelledError: when cancelled between steps; nothing is written.
    """
    options = options or ExplorationOptions()
    progress = progress or noProgress
    step = _Steps(progress, cancel, total=6)
    with stagedOutputFolder(outDir, "Exploration folder") as staging:
        step("Checking the tables")
        data = prepareExploration(features, clinical, outcome, patientColumn, options.positiveClass)
        volumeColumn = findVolumeColumn(data.features.columns, options.volumeColumn)
        missing = missingValueReport(data.features)
        handled = handleMissingValues(data.features, options.maxMissingFraction, options.imputation)
        constant = constantFeatures(handled.features)
        analysed = handled.features.drop(columns=constant)
        if analysed.shape[1] == 0:
            raise InputError(f"All {handled.features.shape[1]} remaining features are constant; nothing to explore.")
        files = {
            "missingValues": staging / "missing_values.csv",
            "features": staging / "features_prepared.csv",
            "statisticsCsv": staging / "statistics.csv",
            "statisticsXlsx": staging / "statistics.xlsx",
            "univariate": staging / "univariate.csv",
            "spearman": staging / "spearman.csv",
            "heatmap": staging / "spearman_heatmap.png",
            "distributions": staging / "distributions.png",
            "summary": staging / "summary.json",
        }
        missing.to_csv(files["missingValues"], lineterminator="\n")
        handled.features.to_csv(files["features"], lineterminator="\n")
        step("Basic statistics")
        statistics = basicStatistics(handled.features, data.outcome)
        writeStatistics(statistics, files["statisticsCsv"], files["statisticsXlsx"])
        step("Mann–Whitney U and ROC AUC")
        univariate = univariateTable(analysed, data.isPositive, options.alpha)
        univariate.to_csv(files["univariate"], lineterminator="\n")
        step("Spearman correlation")
        correlation = spearmanMatrix(analysed)
        correlation.to_csv(files["spearman"], lineterminator="\n")
        saveCorrelationHeatmap(correlation, files["heatmap"])
        volumeTable = None
        if volumeColumn is not None and volumeColumn in analysed.columns:
            files["volumeCorrelation"] = staging / "volume_correlation.csv"
            volumeTable = volumeCorrelationTable(analysed, volumeColumn, options.volumeThreshold)
            volumeTable.to_csv(files["volumeCorrelation"], lineterminator="\n")
        step("Distributions figure")
        ranked = univariate.sort_values(["pValue", "aucBest"], ascending=[True, False], kind="stable").index
        saveDistributionsFigure(
            analysed, data.outcome, files["distributions"], list(ranked), options.distributionFeatures
        )
        step("Summary")
        summary = _summary(data, options, volumeColumn, handled, constant, univariate, volumeTable, outcome)
        files["summary"].write_text(json.dumps(summary, indent=2, default=_jsonValue) + "\n", encoding="utf-8")
        if cancel is not None:
            cancel.raiseIfCancelled()
    outDir = pathlib.Path(outDir).expanduser()
    progress(1.0, f"Wrote the exploration to {outDir}")
    return ExplorationResult(
        univariate=univariate,
        statistics=statistics,
        correlation=correlation,
        volumeCorrelation=volumeTable,
        summary=summary,
        files={name: outDir / path.name for name, path in files.items()},
    )


class _Steps:
    def __init__(self, progress: ProgressCallback, cancel: CancelToken | None, total: int) -> None:
        self.progress, self.cancel, self.total, self.done = progress, cancel, total, 0

    def __call__(self, message: str) -> None:
        if self.cancel is not None:
            self.cancel.raiseIfCancelled()
        self.progress(self.done / self.total, message)
        self.done += 1


def _summary(
    data,
    options: ExplorationOptions,
    volumeColumn: str | None,
    handled,
    constant: list[str],
    univariate: pd.DataFrame,
    volumeTable: pd.DataFrame | None,
    outcome: str,
) -> dict:
    counts = data.outcome.value_counts()
    return {
        "virtualBiopsyVersion": __version__,
        "outcome": outcome,
        "negativeClass": data.negativeClass,
        "positiveClass": data.positiveClass,
        "patients": {str(value): int(counts[value]) for value in (data.negativeClass, data.positiveClass)},
        "featuresIn": int(data.features.shape[1]),
        "featuresAnalysed": int(univariate.shape[0]),
        "options": {**vars(options), "positiveClass": data.positiveClass, "volumeColumn": volumeColumn},
        "droppedForMissingValues": handled.dropped,
        "imputedValues": handled.imputed,
        "constantFeatures": constant,
        "significantFeatures": [str(f) for f in univariate.index[univariate["significant"]]],
        "volumeCorrelatedFeatures": []
        if volumeTable is None
        else [str(f) for f in volumeTable.index[volumeTable["flagged"]]],
        "notes": data.notes + ([] if volumeColumn else ["No tumour-volume column found; volume correlation skipped."]),
    }


def _jsonValue(value: object) -> object:
    return value.item() if hasattr(value, "item") else str(value)
