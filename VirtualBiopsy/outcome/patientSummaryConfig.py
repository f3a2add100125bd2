"""Settings of the Outcome module's Patient summary (kept free of pandas: the module imports it at load)."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class PatientSummaryConfig(StageConfig):
    """What the patient summary shows.

    :ivar summaryPatient: the patient (as in the tables' patient column).
    :ivar topContributions: how many Shapley contributions are listed, largest magnitude first.
    """

    summaryPatient: str = ""
    topContributions: int = 5

    def validate(self) -> None:
        requireRange(self, "topContributions", 1, 50)
