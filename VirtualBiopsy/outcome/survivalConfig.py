"""Settings of the Outcome module's Survival panel (Kaplan–Meier groups and the Cox model).

The time, event and patient columns are :class:`~VirtualBiopsy.outcome.config.OutcomeConfig`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class SurvivalConfig(StageConfig):
    """Kaplan–Meier grouping and Cox model settings (see :class:`~VirtualBiopsy.outcome.survivalLogic.SurvivalLogic`).

    :ivar groupColumn: column whose values split the Kaplan–Meier curves; empty: one curve.
    :ivar covariates: columns of the Cox model.
    :ivar penalizer: L2 penalty of the Cox model (0: none).
    :ivar riskPercentile: percentile of the prognostic index that splits low from high risk.
    :ivar cindexBootstrap: bootstrap samples of the C-index confidence interval.
    """

    groupColumn: str = ""
    covariates: list[str] = field(default_factory=list)
    penalizer: float = 0.0
    riskPercentile: float = 50.0
    cindexBootstrap: int = 1000

    def validate(self) -> None:
        requireRange(self, "penalizer", 0.0, 1e6)
        requireRange(self, "riskPercentile", 1.0, 99.0)
        requireRange(self, "cindexBootstrap", 0, 100000)
        blank = [name for name in self.covariates if not str(name).strip()]
        if blank:
            raise InputError(f"SurvivalConfig.covariates has an empty name ({self.covariates}); name each column.")
        if len(set(self.covariates)) != len(self.covariates):
            raise InputError(f"SurvivalConfig.covariates lists a column twice ({self.covariates}); give each once.")
