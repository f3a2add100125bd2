"""The measured effect of harmonization on a cohort's feature tables (pure pandas, SciPy, scikit-learn).

For each method (the features as given, ComBat, features of image-level normalizations,
those with ComBat; see :mod:`.methods`):

- :func:`sitePredictability`: cross-validated AUC of predicting the batch from the features;
- :func:`kruskalWallis`: per-feature Kruskal–Wallis test across batches, summarized by
  :func:`kruskalSummary`;
- :func:`downstreamTask`: a task classifier trained on one batch and tested on another.

:func:`prepareTables` checks and aligns the inputs, :func:`evaluateHarmonization` runs it all
and :func:`writeEvaluation` writes the tables, ``summary.md`` and the figures.
"""

from VirtualBiopsy.harmonize.evaluation.downstream import (
    downstreamTask,
    youdenThreshold,
)
from VirtualBiopsy.harmonize.evaluation.evaluate import (
    EvaluationSettings,
    HarmonizationEvaluation,
    evaluateHarmonization,
)
from VirtualBiopsy.harmonize.evaluation.kruskalWallis import (
    kruskalSummary,
    kruskalWallis,
)
from VirtualBiopsy.harmonize.evaluation.methods import (
    availableMethods,
    methodTables,
    parseMethods,
)
from VirtualBiopsy.harmonize.evaluation.report import summaryMarkdown, writeEvaluation
from VirtualBiopsy.harmonize.evaluation.sitePredictability import (
    MODELS,
    batchAuc,
    makeClassifier,
    sitePredictability,
)
from VirtualBiopsy.harmonize.evaluation.tables import EvaluationData, prepareTables

__all__ = [
    "MODELS",
    "EvaluationData",
    "EvaluationSettings",
    "HarmonizationEvaluation",
    "availableMethods",
    "batchAuc",
    "downstreamTask",
    "evaluateHarmonization",
    "kruskalSummary",
    "kruskalWallis",
    "makeClassifier",
    "methodTables",
    "parseMethods",
    "prepareTables",
    "sitePredictability",
    "summaryMarkdown",
    "writeEvaluation",
    "youdenThreshold",
]
