"""Settings of "fit ComBat on a cohort table and harmonize it" (the module's ComBat panel).

Maps onto :meth:`~VirtualBiopsy.harmonize.combatLogic.ComBatLogic.fit`; the defaults are its defaults,
with the batch column of the virtual cohort's clinical table (``site``).
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
    """

    batchColumn: str = "site"
    combatCovariates: str = ""
    combatMethod: str = "parametric"
    referenceBatch: str = ""
    combatModelFile: str = ""

    def validate(self) -> None:
        """:raises InputError: naming the bad setting, its value and the fix."""
        if not self.batchColumn.strip():
            raise InputError("ComBatConfig.batchColumn is empty; name the clinical column of the batch, e.g. 'site'.")
        requireChoice(self, "combatMethod", COMBAT_METHODS)
        names = self.covariates
        if any(not name for name in names):
            raise InputError(f"ComBatConfig.combatCovariates is '{self.combatCovariates}', with an empty name; give "
                             "column names separated by commas, e.g. 'age,sex'.")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InputError(f"ComBatConfig.combatCovariates repeats {', '.join(repeated)}; give each covariate once.")
        if self.batchColumn.strip() in names:
            raise InputError(f"ComBatConfig.combatCovariates includes the batch column '{self.batchColumn.strip()}'; "
                             "ComBat removes the batch effect, so leave it out of the covariates.")
        modelFile = self.combatModelFile.strip()
        if modelFile and not modelFile.lower().endswith(MODEL_FILE_SUFFIXES):
            raise InputError(f"ComBatConfig.combatModelFile is '{modelFile}'; give a .json file name, e.g. "
                             "combat-model.json.")

    @property
    def covariates(self) -> list[str]:
        """The covariate column names ([] for none)."""
        text = self.combatCovariates.strip()
        return [name.strip() for name in text.split(",")] if text else []

    @property
    def modelPath(self) -> pathlib.Path | None:
        """Where the fitted model is saved, or ``None``."""
        text = self.combatModelFile.strip()
        return pathlib.Path(text).expanduser() if text else None

    def fitArguments(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`ComBatLogic.fit` (without the table nodes)."""
        return {"batchColumn": self.batchColumn.strip(), "covariates": self.covariates, "method": self.combatMethod,
                "referenceBatch": self.referenceBatch.strip() or None}
