"""Feature exploration against a two-class outcome (the analyses of precision-medicine-toolbox):
missing values, distributions, Spearman correlation, Mann–Whitney U with Bonferroni correction,
univariate ROC AUC, correlation with tumour volume and a basic statistics table.

The names below are imported on first use, so that the Slicer module can import
:mod:`.config` at start-up without pandas, scipy or matplotlib.
"""

import importlib

_SOURCES = {
    "ExplorationConfig": "config",
    "findVolumeColumn": "correlation", "spearmanMatrix": "correlation", "volumeCorrelationTable": "correlation",
    "saveCorrelationHeatmap": "figures", "saveDistributionsFigure": "figures",
    "MissingValueResult": "missingValues", "constantFeatures": "missingValues",
    "handleMissingValues": "missingValues", "missingValueReport": "missingValues",
    "ExplorationOptions": "report", "ExplorationResult": "report", "exploreFeatures": "report",
    "basicStatistics": "statistics", "writeStatistics": "statistics",
    "ExplorationData": "tables", "prepareExploration": "tables",
    "univariateTable": "univariate",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
