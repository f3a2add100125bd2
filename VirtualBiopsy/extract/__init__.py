"""Extraction: radiomics and other quantitative features of a segmented tumour.

The public API, imported on first use: ``from VirtualBiopsy.extract import ExtractionLogic``.
"""

from VirtualBiopsy.lazyExports import lazyExports

_EXPORTS = {
    "ExtractionLogic": "logic",
    "ExtractionConfig": "config",
    "RadiomicsPreprocessing": "preprocessing",
    "ExplorationLogic": "exploration.logic",
}

__all__ = list(_EXPORTS)
__getattr__ = lazyExports(__name__, _EXPORTS)
