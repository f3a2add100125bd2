"""Outcome modelling: patient groups, survival analysis and predictions with their evidence.

The public API, imported on first use: ``from VirtualBiopsy.outcome import SurvivalLogic``.
"""

from VirtualBiopsy.lazyExports import lazyExports

_EXPORTS = {
    "SurvivalLogic": "survivalLogic",
    "SurvivalConfig": "survivalConfig",
    "OutcomeConfig": "config",
    "ClassificationLogic": "classificationLogic",
    "ClassificationConfig": "classification.config",
    "ClassifierPanelConfig": "classification.panelConfig",
    "DeepOutcomeLogic": "deep.logic",
    "DeepOutcomeConfig": "deep.config",
    "PatientSummaryLogic": "patientSummaryLogic",
    "PatientSummaryConfig": "patientSummaryConfig",
}

__all__ = list(_EXPORTS)
__getattr__ = lazyExports(__name__, _EXPORTS)
