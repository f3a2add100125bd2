"""Segmentation QA: overlap and surface metrics, cohort tables and agreement maps (pure numpy/SimpleITK/scipy)."""

from VirtualBiopsy.segment.qa.agreement import AGREEMENT_COLORS, AGREEMENT_NAMES, agreementMap
from VirtualBiopsy.segment.qa.metrics import COLUMNS, DEFAULT_TOLERANCE_MM, SegmentationMetrics, computeMetrics

__all__ = [
    "AGREEMENT_COLORS",
    "AGREEMENT_NAMES",
    "COLUMNS",
    "DEFAULT_TOLERANCE_MM",
    "SegmentationMetrics",
    "agreementMap",
    "computeMetrics",
]
