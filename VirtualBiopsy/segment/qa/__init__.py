"""Segmentation QA: overlap and surface metrics, cohort tables and agreement maps (pure numpy/SimpleITK/scipy)."""

from VirtualBiopsy.segment.qa.agreement import (
    AGREEMENT_COLORS,
    AGREEMENT_NAMES,
    agreementMap,
)
from VirtualBiopsy.segment.qa.cohortQa import CohortQaResult, compareCohort
from VirtualBiopsy.segment.qa.cohortTables import (
    caseMetricRows,
    metricsTable,
    summarizeMetrics,
)
from VirtualBiopsy.segment.qa.metrics import (
    COLUMNS,
    DEFAULT_TOLERANCE_MM,
    SegmentationMetrics,
    computeMetrics,
)
from VirtualBiopsy.segment.qa.qaManifest import QaCase, readQaManifest

__all__ = [
    "AGREEMENT_COLORS",
    "AGREEMENT_NAMES",
    "COLUMNS",
    "DEFAULT_TOLERANCE_MM",
    "CohortQaResult",
    "QaCase",
    "SegmentationMetrics",
    "agreementMap",
    "caseMetricRows",
    "compareCohort",
    "computeMetrics",
    "metricsTable",
    "readQaManifest",
    "summarizeMetrics",
]
