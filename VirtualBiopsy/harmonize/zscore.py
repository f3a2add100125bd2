"""Kept for existing imports: z-score normalization lives in :mod:`VirtualBiopsy.harmonize.normalization.zscore`."""

from VirtualBiopsy.harmonize.normalization.zscore import zScoreNormalize

__all__ = ["zScoreNormalize"]
