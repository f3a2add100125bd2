"""Segmentation: tumour masks for the clinician to review in the Segment Editor.

The public API, imported on first use: ``from VirtualBiopsy.segment import SegmentationLogic``.
"""

from VirtualBiopsy.lazyExports import lazyExports

_EXPORTS = {
    "SegmentationLogic": "logic",
    "SegmentationConfig": "config",
    "ReviewLogic": "review",
    "ModelSegmentationLogic": "modelLogic",
}

__all__ = list(_EXPORTS)
__getattr__ = lazyExports(__name__, _EXPORTS)
