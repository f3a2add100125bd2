"""Settings of a feature exploration, as plain fields a GUI, a YAML file or the command line can hold.

The Outcome module's Feature exploration parameter pack mirrors this config field for field; the patient
column is that of the cohort's tables (``OutcomeConfig.patientColumn``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice, requireRange

#: Ways to fill the gaps left after dropping mostly-missing features (see :mod:`.missingValues`).
IMPUTATIONS = ("median", "none")

#: Most features one distributions figure may show.
MAXIMUM_DISTRIBUTION_FEATURES = 64


@dataclass
class ExplorationOptions:
    """Choices of an exploration run (recorded in ``summary.json``).

    :ivar maxMissingFraction: drop features missing in more than this fraction of patients.
    :ivar imputation: ``median`` or ``none`` (see :func:`~.missingValues.handleMissingValues`).
    :ivar positiveClass: the outcome class AUCs refer to (default: the larger sorted value).
    :ivar volumeColumn: the tumour-volume feature (default: auto-detected, see :func:`~.correlation.findVolumeColumn`).
    :ivar volumeThreshold: flag features whose |ρ| with volume exceeds it.
    :ivar alpha: family-wise significance level of the Bonferroni-corrected tests.
    :ivar distributionFeatures: how many features (smallest p first) the distributions figure shows.
    """

    maxMissingFraction: float = 0.2
    imputation: str = "median"
    positiveClass: object = None
    volumeColumn: str | None = None
    volumeThreshold: float = 0.75
    alpha: float = 0.05
    distributionFeatures: int = 16


@dataclass
class ExplorationConfig(StageConfig):
    """What to compare and how (see :class:`ExplorationOptions`).

    :ivar outcomeColumn: the clinical column with the two outcome classes; empty means not chosen
        yet (a run then refuses to start).
    :ivar positiveClass: the outcome class AUCs refer to, as text (``"1"`` names 1, 1.0 or ``"1"``);
        empty: the larger of the two sorted values.
    :ivar maxMissingFraction: drop features missing in more than this fraction of patients.
    :ivar imputation: ``median`` or ``none``.
    :ivar volumeColumn: the tumour-volume feature; empty: found by name
        (``*original_shape_MeshVolume``, else ``*VoxelVolume``).
    :ivar volumeThreshold: flag features whose |Spearman ρ| with volume exceeds it.
    :ivar alpha: family-wise significance level of the Bonferroni-corrected tests.
    :ivar distributionFeatures: how many features (smallest p first) the distributions figure shows.
    :ivar outputFolder: a new or empty folder for the files; empty: a new folder in the system's
        temporary folder.
    """

    outcomeColumn: str = ""
    positiveClass: str = ""
    maxMissingFraction: float = 0.2
    imputation: str = "median"
    volumeColumn: str = ""
    volumeThreshold: float = 0.75
    alpha: float = 0.05
    distributionFeatures: int = 16
    outputFolder: str = ""

    def validate(self) -> None:
        for name in ("maxMissingFraction", "volumeThreshold", "alpha"):
            if math.isnan(getattr(self, name)):
                raise InputError(f"ExplorationConfig.{name} is NaN; give a number.")
        requireRange(self, "maxMissingFraction", 0.0, 1.0)
        requireChoice(self, "imputation", IMPUTATIONS)
        requireRange(self, "volumeThreshold", 0.0, 1.0)
        if not (0.0 < self.alpha < 1.0):
            raise InputError(
                f"ExplorationConfig.alpha is {self.alpha}; give a significance level between 0 and 1 "
                "(exclusive), e.g. 0.05."
            )
        requireRange(self, "distributionFeatures", 1, MAXIMUM_DISTRIBUTION_FEATURES)
        for name in ("outcomeColumn", "positiveClass", "volumeColumn", "outputFolder"):
            value = getattr(self, name)
            if value != value.strip():
                raise InputError(f"ExplorationConfig.{name} is {value!r}, with spaces around it; remove them.")

    def explorationOptions(self, classValues: Iterable | None = None) -> ExplorationOptions:
        """The library's options for :func:`~VirtualBiopsy.extract.exploration.report.exploreFeatures`.

        :param classValues: the values of the outcome column; when given, :attr:`positiveClass` is
            turned into the one it names (``"1"`` → ``1`` of an integer column, ``1.0`` of a real one,
            ``True`` of a boolean one).
        :raises InputError: for an empty :attr:`outcomeColumn`, or a :attr:`positiveClass` that names
            none of ``classValues``.
        """
        if not self.outcomeColumn:
            raise InputError(
                "No outcome column was chosen (ExplorationConfig.outcomeColumn is empty); name the "
                "clinical column that holds the two outcome classes."
            )
        positiveClass: object = self.positiveClass or None
        if positiveClass is not None and classValues is not None:
            positiveClass = matchClass(self.positiveClass, classValues, self.outcomeColumn)
        return ExplorationOptions(
            maxMissingFraction=self.maxMissingFraction,
            imputation=self.imputation,
            positiveClass=positiveClass,
            volumeColumn=self.volumeColumn or None,
            volumeThreshold=self.volumeThreshold,
            alpha=self.alpha,
            distributionFeatures=self.distributionFeatures,
        )


def matchClass(text: str, classValues: Iterable, outcomeColumn: str = "outcome") -> object:
    """The value of ``classValues`` that ``text`` names: the same text, else the same number.

    :raises InputError: when no value matches (the values are listed).
    """
    values = list(dict.fromkeys(value for value in classValues if not _isMissing(value)))
    for value in values:
        if str(value).strip() == text:
            return value
    number = _number(text)
    if number is not None:
        for value in values:
            if _number(value) == number:
                return value
    ordered = sorted(values, key=_sortKey)
    shown = ", ".join(repr(_plainValue(value)) for value in ordered[:10]) or "none"
    raise InputError(
        f"Positive class {text!r} is not a value of the outcome column '{outcomeColumn}' (values: "
        f"{shown}); give one of them, or leave it empty for the larger one."
    )


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sortKey(value: object) -> tuple:
    number = _number(value)
    return (0, number, "") if number is not None else (1, 0.0, str(value))


def _isMissing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except TypeError:  # pandas.NA
        return True


def _plainValue(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
