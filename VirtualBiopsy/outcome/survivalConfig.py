"""Settings of survival analyses (Kaplan–Meier groups and the Cox model): the Outcome module's Survival panel,
``virtual-biopsy outcome km``/``cox`` and the pipeline's Cox analysis build this one config."""

from __future__ import annotations

from dataclasses import dataclass, field

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class SurvivalConfig(StageConfig):
    """Kaplan–Meier grouping and Cox model settings (see :class:`~VirtualBiopsy.outcome.survivalLogic.SurvivalLogic`).

    :ivar timeColumn: follow-up time column of the survival table.
    :ivar eventColumn: event indicator column (1 = event, 0 = censored).
    :ivar patientColumn: the column that names patients (the index of the Cox outputs).
    :ivar groupColumn: column whose values split the Kaplan–Meier curves; empty: one curve.
    :ivar covariates: columns of the Cox model.
    :ivar penalizer: penalty of the Cox model (lifelines' ``penalizer``; 0: none).
    :ivar l1Ratio: share of L1 in the penalty (lifelines' ``l1_ratio``; 1 = LASSO).
    :ivar riskPercentile: percentile of the prognostic index that splits low from high risk.
    :ivar cindexBootstrap: bootstrap samples of the C-index confidence interval (0: none).
    :ivar randomSeed: seed of the C-index bootstrap.
    """

    timeColumn: str = "time"
    eventColumn: str = "event"
    patientColumn: str = "patient"
    groupColumn: str = ""
    covariates: list[str] = field(default_factory=list)
    penalizer: float = 0.0
    l1Ratio: float = 0.0
    riskPercentile: float = 50.0
    cindexBootstrap: int = 1000
    randomSeed: int = 0

    def validate(self) -> None:
        for name in ("timeColumn", "eventColumn", "patientColumn"):
            if not getattr(self, name).strip():
                raise InputError(f"SurvivalConfig.{name} is empty; name the column of the survival table.")
        if self.timeColumn == self.eventColumn:
            raise InputError(
                f"SurvivalConfig.timeColumn and eventColumn are both '{self.timeColumn}'; name two different columns."
            )
        requireRange(self, "penalizer", 0.0, 1e6)
        requireRange(self, "l1Ratio", 0.0, 1.0)
        requireRange(self, "riskPercentile", 1.0, 99.0)
        requireRange(self, "cindexBootstrap", 0, 100000)
        requireRange(self, "randomSeed", 0)
        blank = [name for name in self.covariates if not str(name).strip()]
        if blank:
            raise InputError(f"SurvivalConfig.covariates has an empty name ({self.covariates}); name each column.")
        if len(set(self.covariates)) != len(self.covariates):
            raise InputError(f"SurvivalConfig.covariates lists a column twice ({self.covariates}); give each once.")
