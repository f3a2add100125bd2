"""Settings of ComBat on feature tables: the module's ComBat panel, ``virtual-biopsy combat fit|apply``
and :class:`~VirtualBiopsy.harmonize.combatLogic.ComBatLogic` share them.

The defaults are those of :func:`~VirtualBiopsy.harmonize.combat.cohortTables.fitTables` and
:func:`~VirtualBiopsy.harmonize.combat.cohortTables.harmonizeTable`, with the batch column of the virtual
cohort's clinical table (``site``).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.settings import StageConfig, requireChoice

#: ComBat's empirical Bayes variants: :data:`VirtualBiopsy.harmonize.combat.estimation.METHODS` (a test checks it),
#: spelled out here so that the config loads without pandas (the Slicer module imports it when it loads).
COMBAT_METHODS = ("parametric", "nonparametric", "meanonly")
#: What happens to patients of a batch the model was not fitted on
#: (:data:`VirtualBiopsy.harmonize.combat.model.UNSEEN_BATCH_CHOICES`, a test checks it).
UNSEEN_BATCH_CHOICES = ("error", "reference")
#: Suffixes of a ComBat model file.
MODEL_FILE_SUFFIXES = (".json",)


@dataclass
class ComBatConfig(StageConfig):
    """Fit ComBat on a features table with a clinical table and harmonize the features.

    :ivar batchColumn: clinical column of the batch (site, scanner, field strength).
    :ivar combatCovariates: clinical columns whose effect is preserved, comma-separated ("" for none).
    :ivar combatMethod: ``parametric``, ``nonparametric`` or ``meanonly`` empirical Bayes.
    :ivar referenceBatch: batch left unchanged, the others mapped onto it ("" for none).
    :ivar combatModelFile: new JSON file that receives the fitted model ("" to keep it in memory only).
    :ivar categoricalCovariates: covariates taken as categories even when their values are numbers (e.g. a
        numeric grade), comma-separated ("" for none); each must be one of ``combatCovariates``.
    :ivar passThroughColumns: feature-table columns that are not features, comma-separated ("" for none;
        ``patient`` always is).
    :ivar unseenBatch: a batch the model was not fitted on: ``error`` (refuse it) or ``reference`` (leave its
        patients unchanged).
    """

    batchColumn: str = "site"
    combatCovariates: str = ""
    combatMethod: str = "parametric"
    referenceBatch: str = ""
    combatModelFile: str = ""
    categoricalCovariates: str = ""
    passThroughColumns: str = "label"
    unseenBatch: str = "error"

    def validate(self) -> None:
        """:raises InputError: naming the bad setting, its value and the fix."""
        if not self.batchColumn.strip():
            raise InputError("ComBatConfig.batchColumn is empty; name the clinical column of the batch, e.g. 'site'.")
        requireChoice(self, "combatMethod", COMBAT_METHODS)
        names = self.covariates
        if any(not name for name in names):
            raise InputError(
                f"ComBatConfig.combatCovariates is '{self.combatCovariates}', with an empty name; give "
                "column names separated by commas, e.g. 'age,sex'."
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InputError(f"ComBatConfig.combatCovariates repeats {', '.join(repeated)}; give each covariate once.")
        if self.batchColumn.strip() in names:
            raise InputError(
                f"ComBatConfig.combatCovariates includes the batch column '{self.batchColumn.strip()}'; "
                "ComBat removes the batch effect, so leave it out of the covariates."
            )
        categorical = _names(self.categoricalCovariates)
        notCovariates = [name for name in categorical if name not in names]
        if any(not name for name in categorical) or notCovariates:
            raise InputError(
                f"ComBatConfig.categoricalCovariates is '{self.categoricalCovariates}'; give covariates "
                f"of combatCovariates ('{self.combatCovariates}') separated by commas, e.g. 'grade'."
            )
        if any(not name for name in _names(self.passThroughColumns)):
            raise InputError(
                f"ComBatConfig.passThroughColumns is '{self.passThroughColumns}', with an empty name; "
                "give column names separated by commas, e.g. 'label'."
            )
        requireChoice(self, "unseenBatch", UNSEEN_BATCH_CHOICES)
        modelFile = self.combatModelFile.strip()
        if modelFile and not modelFile.lower().endswith(MODEL_FILE_SUFFIXES):
            raise InputError(
                f"ComBatConfig.combatModelFile is '{modelFile}'; give a .json file name, e.g. combat-model.json."
            )

    @property
    def covariates(self) -> list[str]:
        """The covariate column names ([] for none)."""
        return _names(self.combatCovariates)

    @property
    def modelPath(self) -> pathlib.Path | None:
        """Where the fitted model is saved, or ``None``."""
        text = self.combatModelFile.strip()
        return pathlib.Path(text).expanduser() if text else None

    def fitArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.combat.cohortTables.fitTables` (without the tables)."""
        return {
            "batchColumn": self.batchColumn.strip(),
            "covariates": self.covariates,
            "method": self.combatMethod,
            "referenceBatch": self.referenceBatch.strip() or None,
            "categorical": _names(self.categoricalCovariates),
            "passThrough": _names(self.passThroughColumns),
        }

    def applyArguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~VirtualBiopsy.harmonize.combat.cohortTables.harmonizeTable` (without the
        model and the tables)."""
        return {"batchColumn": self.batchColumn.strip(), "unseenBatch": self.unseenBatch}


def _names(text: str) -> list[str]:
    """Comma-separated names, stripped ("" for none; an empty name between commas stays, for validation)."""
    text = text.strip()
    return [name.strip() for name in text.split(",")] if text else []
