"""ComBat harmonization of feature tables (Johnson et al. 2007; Fortin et al. 2017, 2018)
that applies a fitted model to new cases, one patient at a time if need be.

Pure numpy / pandas: :func:`fitComBat` fits, :meth:`ComBatModel.apply` harmonizes,
:meth:`ComBatModel.save` / :meth:`ComBatModel.load` keep the model in a versioned JSON file.
"""

from VirtualBiopsy.harmonize.combat.estimation import METHODS
from VirtualBiopsy.harmonize.combat.inputs import CovariateEncoding
from VirtualBiopsy.harmonize.combat.model import (
    UNSEEN_BATCH_CHOICES,
    ComBatModel,
    fitAndHarmonize,
    fitComBat,
)

__all__ = ["METHODS", "UNSEEN_BATCH_CHOICES", "ComBatModel", "CovariateEncoding", "fitAndHarmonize", "fitComBat"]
