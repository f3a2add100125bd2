"""Headless runs over a cohort of patients: ``run`` (the whole pipeline, resumable, on Dask), its settings,
ledger, tables and report.

The public API, imported on first use: ``from VirtualBiopsy.cohort import run, PipelineConfig``.
"""

from VirtualBiopsy.lazyExports import lazyExports

_EXPORTS = {
    "run": "cohortRun",
    "RunResult": "cohortRun",
    "PipelineConfig": "pipelineConfig",
    "checkCohort": "cohortCheck",
    "runDemo": "demo",
}

__all__ = list(_EXPORTS)
__getattr__ = lazyExports(__name__, _EXPORTS)
