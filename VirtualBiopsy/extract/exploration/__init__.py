"""Feature exploration against a two-class outcome (the analyses of precision-medicine-toolbox):
missing values, distributions, Spearman correlation, Mann–Whitney U with Bonferroni correction,
univariate ROC AUC, correlation with tumour volume and a basic statistics table."""

from VirtualBiopsy.extract.exploration.correlation import findVolumeColumn, spearmanMatrix, volumeCorrelationTable
from VirtualBiopsy.extract.exploration.figures import saveCorrelationHeatmap, saveDistributionsFigure
from VirtualBiopsy.extract.exploration.missingValues import (
    MissingValueResult, constantFeatures, handleMissingValues, missingValueReport)
from VirtualBiopsy.extract.exploration.report import ExplorationOptions, ExplorationResult, exploreFeatures
from VirtualBiopsy.extract.exploration.statistics import basicStatistics, writeStatistics
from VirtualBiopsy.extract.exploration.tables import ExplorationData, prepareExploration
from VirtualBiopsy.extract.exploration.univariate import univariateTable

__all__ = [
    "ExplorationData", "ExplorationOptions", "ExplorationResult", "MissingValueResult", "basicStatistics",
    "constantFeatures", "exploreFeatures", "findVolumeColumn", "handleMissingValues", "missingValueReport",
    "prepareExploration", "saveCorrelationHeatmap", "saveDistributionsFigure", "spearmanMatrix", "univariateTable",
    "volumeCorrelationTable", "writeStatistics",
]
