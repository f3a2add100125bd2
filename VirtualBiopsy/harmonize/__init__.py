"""Harmonization: make images from different scanners and sites comparable.

The public API, imported on first use: ``from VirtualBiopsy.harmonize import HarmonizationLogic``.
"""

from VirtualBiopsy.lazyExports import lazyExports

_EXPORTS = {
    "HarmonizationLogic": "logic",
    "HarmonizationConfig": "config",
    "PreprocessingLogic": "preprocessingLogic",
    "PreprocessingConfig": "preprocessingConfig",
    "RegistrationLogic": "preprocessingLogic",
    "RegistrationConfig": "preprocessingConfig",
    "ComBatLogic": "combatLogic",
    "ComBatConfig": "combatConfig",
    "StyleTransferLogic": "styleTransfer.logic",
}

__all__ = list(_EXPORTS)
__getattr__ = lazyExports(__name__, _EXPORTS)
