"""Feature exploration against a two-class outcome (the analyses of precision-medicine-toolbox):
missing values, distributions, Spearman correlation, Mann–Whitney U with Bonferroni correction,
univariate ROC AUC, correlation with tumour volume and a basic statistics table.

The names below are imported on first use, so that the Slicer module can import
:mod:`.config` at start-up without pandas, scipy or matplotlib.
"""

from VirtualBiopsy.lazyExports import lazyExports

_SOURCES = {
    "ExplorationConfig": "config",
    "findVolumeColumn": "correlation",
    "spearmanMatrix": "correlation",
    "volumeCorrelationTable": "correlation",
    "saveCorrelationHeatmap": "figures",
    "saveDistributionsFigure": "figures",
    "MissingValueResult": "missingValues",
    "constantFeatures": "missingValues",
    "handleMissingValues": "missingValues",
    "missingValueReport": "missingValues",
    "ExplorationOptions": "config",
    "ExplorationResult": "report",
    "exploreFeatures": "report",
    "basicStatistics": "statistics",
    "writeStatistics": "statistics",
    "ExplorationData": "tables",
    "prepareExploration": "tables",
    "univariateTable": "univariate",
}

__all__ = sorted(_SOURCES)

__getattr__ = lazyExports(__name__, _SOURCES)
