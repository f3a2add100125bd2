"""Settings of the Outcome module's Patient summary (kept free of pandas: the module imports it at load)."""

from __future__ import annotations

from dataclasses import dataclass

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireRange


@dataclass
class PatientSummaryConfig(StageConfig):
    """What the patient summary shows.

    :ivar summaryPatient: the patient (as in the tables' patient column).
    :ivar topContributions: how many Shapley contributions are listed, largest magnitude first.
    :ivar patientColumn: the column that names patients in the features table.
    """

    summaryPatient: str = ""
    topContributions: int = 5
    patientColumn: str = "patient"

    def validate(self) -> None:
        requireRange(self, "topContributions", 1, 50)
        if not self.patientColumn.strip():
            raise InputError("PatientSummaryConfig.patientColumn is empty; name the column that names patients.")
