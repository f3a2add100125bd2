"""Settings of the outcome modelling stage."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class OutcomeConfig(StageConfig):
    """How patients are grouped and their survival compared.

    Features are standardized (zero mean, unit variance over the cohort), then
    k-means with ``numberOfClusters`` groups the patients; Kaplan–Meier curves per
    cluster are compared with the log-rank test
    (:meth:`~VirtualBiopsy.outcome.survivalLogic.SurvivalLogic.cluster`).

    :ivar patientColumn: the column that names patients in both tables.
    :ivar timeColumn: follow-up time column of the clinical table.
    :ivar eventColumn: event indicator column (1 = event, 0 = censored).
    :ivar randomSeed: seed of k-means' initialisation.
    """

    numberOfClusters: int = 2
    randomSeed: int = 0
    patientColumn: str = "patient"
    timeColumn: str = "time"
    eventColumn: str = "event"

    def validate(self) -> None:
        requireRange(self, "numberOfClusters", 2, 20)
