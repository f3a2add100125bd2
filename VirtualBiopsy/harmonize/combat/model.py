"""A fitted ComBat model that harmonizes new cases, one at a time if need be."""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.harmonize.combat import estimation
from VirtualBiopsy.harmonize.combat.inputs import (
    CovariateEncoding,
    checkBatch,
    checkCovariates,
    checkFeatures,
    covariateDesign,
    encodingsFor,
    listed,
)
from VirtualBiopsy.harmonize.combat.modelFile import loadModel, saveModel
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

#: What :meth:`ComBatModel.apply` does with a case from a batch the model was not fitted on.
UNSEEN_BATCH_CHOICES = ("error", "reference")


@dataclass(frozen=True, eq=False)
class ComBatModel:
    """The parameters of a ComBat fit: enough to harmonize any case of a known batch.

    A case ``y`` of batch ``b`` with covariate design row ``x`` is standardized,
    ``z = (y − m) / s`` with ``m = grandMean + x·covariateCoefficients`` and
    ``s = √pooledVariance``, and becomes ``s·(z − γ*_b) / √δ*_b + m``.

    :ivar batchName: the name of the batch variable (e.g. the clinical column ``site``), or ``None``.
    :ivar method: ``"parametric"``, ``"nonparametric"`` or ``"meanonly"``.
    :ivar features: the feature names, in the fitted order.
    :ivar batches: the batch labels (text), sorted.
    :ivar batchCounts: training cases per batch.
    :ivar referenceBatch: the batch left unchanged, or ``None``.
    :ivar covariates: how each covariate is encoded.
    :ivar grandMean: (features,); :ivar pooledVariance: (features,).
    :ivar covariateCoefficients: (covariate design columns, features).
    :ivar gammaStar: (batches, features); :ivar deltaStar: (batches, features).
    :ivar iterations: (batches,) rounds of the parametric iteration.
    :ivar inputHash: ``sha256:`` of the training features, batches and covariates.
    :ivar libraryVersion: the Virtual Biopsy version that fitted it.
    """

    method: str
    features: tuple[str, ...]
    batches: tuple[str, ...]
    batchCounts: tuple[int, ...]
    referenceBatch: str | None
    covariates: tuple[CovariateEncoding, ...]
    grandMean: np.ndarray
    pooledVariance: np.ndarray
    covariateCoefficients: np.ndarray
    gammaStar: np.ndarray
    deltaStar: np.ndarray
    iterations: np.ndarray
    inputHash: str
    libraryVersion: str
    batchName: str | None = None

    def __post_init__(self) -> None:
        for name in ("grandMean", "pooledVariance", "covariateCoefficients", "gammaStar", "deltaStar", "iterations"):
            array = np.array(getattr(self, name))
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def covariateNames(self) -> list[str]:
        """The covariates the model needs, in order."""
        return [encoding.name for encoding in self.covariates]

    @property
    def designColumns(self) -> list[str]:
        """The names of the covariate design columns (rows of :attr:`covariateCoefficients`)."""
        return [column for encoding in self.covariates for column in encoding.columns]

    def apply(
        self,
        features: pd.DataFrame,
        batch: pd.Series,
        covariates: pd.DataFrame | None = None,
        unseenBatch: str = "error",
    ) -> pd.DataFrame:
        """Harmonize cases of known batches (any number of rows, one included).

        :param features: cases × the model's features (any column order; the result keeps it).
        :param batch: each case's batch, with the features' index.
        :param covariates: the model's covariates (other columns are ignored), with the features' index.
        :param unseenBatch: ``"error"`` refuses a batch the model was not fitted on; ``"reference"``
            treats such a case as a case of the reference batch: γ* = 0 and δ* = 1, so its
            standardization is undone exactly and its values are returned unchanged (no batch
            adjustment at all; with a reference batch this is what that batch gets; without one,
            the case stays on its own scanner's scale). A warning is logged with the number of cases.
        :returns: the harmonized features, same index and columns as ``features``; cases of the
            reference batch are returned unchanged, bit for bit.
        :raises InputError: for an unseen batch (naming it and the known ones), a missing or unknown
            covariate level, or features that fail :func:`checkFeatures`.
        """
        if unseenBatch not in UNSEEN_BATCH_CHOICES:
            raise InputError(f"unseenBatch is '{unseenBatch}'; choose one of {', '.join(UNSEEN_BATCH_CHOICES)}.")
        values = checkFeatures(features, self.features)
        position = {str(column): index for index, column in enumerate(features.columns)}
        order = [position[name] for name in self.features]
        values = values[:, order]
        labels = checkBatch(batch, features.index)
        unseen = sorted(set(labels) - set(self.batches))
        if unseen and unseenBatch == "error":
            raise InputError(
                f"Batch(es) {listed(unseen)} were not in the ComBat fit (known batches: "
                f"{', '.join(self.batches)}); harmonize only cases of known batches, refit with these "
                "cases, or ask for the reference-batch fallback (unseenBatch='reference', "
                "--unseen-batch reference), which leaves such cases unchanged."
            )
        if unseen:
            logger.warning(
                "ComBat: %d case(s) of batch(es) not in the fit (%s) are left unchanged (reference-batch fallback).",
                int(labels.isin(unseen).sum()),
                ", ".join(unseen),
            )
        design = covariateDesign(checkCovariates(covariates, features.index, self.covariateNames), self.covariates)
        unchanged = labels.isin(unseen).to_numpy()
        if self.referenceBatch is not None:
            unchanged |= (labels == self.referenceBatch).to_numpy()
        codes = labels.map({name: code for code, name in enumerate(self.batches)}).fillna(-1).to_numpy(dtype=int)
        result = values.copy()
        adjusted = ~unchanged
        if adjusted.any():
            result[adjusted] = estimation.adjust(
                values[adjusted],
                codes[adjusted],
                design[adjusted],
                self.grandMean,
                self.pooledVariance,
                self.covariateCoefficients,
                self.gammaStar,
                self.deltaStar,
            )
        inverse = np.argsort(order)
        return pd.DataFrame(result[:, inverse], index=features.index, columns=features.columns)

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the model to a new JSON file (atomically; an existing file is never replaced).

        :raises InputError: when ``path`` exists.
        """
        return saveModel(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ComBatModel":
        """Read a model written by :meth:`save`.

        :raises InputError: for a missing, malformed or newer-schema file.
        """
        return loadModel(path, cls)


def fitComBat(
    features: pd.DataFrame,
    batch: pd.Series,
    covariates: pd.DataFrame | None = None,
    method: str = "parametric",
    referenceBatch: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ComBatModel:
    """Fit ComBat on a cohort (cases × features) with one batch label per case.

    :param covariates: biological covariates to preserve (numeric columns enter linearly, text
        and boolean columns and those named in ``categorical`` as one-hot levels), or ``None``.
    :param method: ``"parametric"``, ``"nonparametric"`` or ``"meanonly"`` (see
        :mod:`~VirtualBiopsy.harmonize.combat.estimation`).
    :param referenceBatch: a batch to leave unchanged and map the others onto.
    :raises InputError: for any input :mod:`~VirtualBiopsy.harmonize.combat.inputs` refuses, a batch
        of one case, a feature constant within a batch, fewer than two features or batches, or a
        covariate confounded with the batch.
    """
    return fitAndHarmonize(features, batch, covariates, method, referenceBatch, categorical, progress, cancel)[0]


def fitAndHarmonize(
    features: pd.DataFrame,
    batch: pd.Series,
    covariates: pd.DataFrame | None = None,
    method: str = "parametric",
    referenceBatch: str | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[ComBatModel, pd.DataFrame]:
    """:func:`fitComBat`, and the training cases harmonized in one go (as ``sva::ComBat`` returns them)."""
    from VirtualBiopsy import __version__

    progress = progress or noProgress
    if method not in estimation.METHODS:
        raise InputError(f"ComBat method '{method}' is unknown; choose one of {', '.join(estimation.METHODS)}.")
    values = checkFeatures(features)
    names = [str(column) for column in features.columns]
    if len(names) < 2:
        raise InputError(f"ComBat needs at least 2 features to estimate its priors across features; got {len(names)}.")
    labels = checkBatch(batch, features.index)
    covariates = checkCovariates(covariates, features.index)
    encodings = encodingsFor(covariates, tuple(categorical))
    design = covariateDesign(covariates, encodings)
    batches = tuple(sorted(set(labels)))
    counts = labels.value_counts()
    if len(batches) < 2:
        raise InputError(f"Only one batch ({listed(batches)}) is present; ComBat needs cases from at least 2 batches.")
    small = [f"'{name}' ({counts[name]} case)" for name in batches if counts[name] < 2]
    if small:
        raise InputError(
            f"Batch(es) {listed(small)} have a single case; ComBat needs at least 2 cases per batch to "
            "estimate its scale. Merge it into a similar batch or leave it out of the fit (it can still "
            "be harmonized later with the reference-batch fallback)."
        )
    if referenceBatch is not None and str(referenceBatch) not in batches:
        raise InputError(
            f"The reference batch '{referenceBatch}' is not among the batches ({', '.join(batches)}); name one of them."
        )
    codes = np.array([batches.index(label) for label in labels])
    _requireVariationWithinBatches(values, codes, batches, names)
    if cancel:
        cancel.raiseIfCancelled()
    reference = None if referenceBatch is None else batches.index(str(referenceBatch))
    fit = estimation.estimate(values, codes, list(batches), design, method, reference, progress, cancel, names)
    parameters = (fit.grandMean, fit.pooledVariance, fit.covariateCoefficients, fit.gammaStar, fit.deltaStar)
    if not all(np.all(np.isfinite(array)) for array in parameters):
        raise ModelError(
            "ComBat produced non-finite estimates (features on extreme scales?); rescale the features "
            "(e.g. log of volumes) and refit."
        )
    model = ComBatModel(
        method=method,
        features=tuple(names),
        batches=batches,
        batchCounts=tuple(int(counts[b]) for b in batches),
        referenceBatch=None if reference is None else batches[reference],
        covariates=tuple(encodings),
        grandMean=fit.grandMean,
        pooledVariance=fit.pooledVariance,
        covariateCoefficients=fit.covariateCoefficients,
        gammaStar=fit.gammaStar,
        deltaStar=fit.deltaStar,
        iterations=fit.iterations,
        inputHash=inputHash(values, names, labels, covariates),
        libraryVersion=__version__,
        batchName=None if batch.name is None else str(batch.name),
    )
    scale = np.sqrt(fit.pooledVariance)
    standMean = fit.grandMean + design @ fit.covariateCoefficients
    harmonized = (fit.standardized - fit.gammaStar[codes]) / np.sqrt(fit.deltaStar[codes]) * scale + standMean
    if reference is not None:
        harmonized[codes == reference] = values[codes == reference]
    progress(1.0, "ComBat fitted")
    return model, pd.DataFrame(harmonized, index=features.index, columns=features.columns)


def inputHash(values: np.ndarray, names: list[str], labels: pd.Series, covariates: pd.DataFrame) -> str:
    """``sha256:`` of the training data: feature names and float64 values, batch labels and covariates."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(names).encode())
    digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    digest.update("\x1f".join(labels).encode())
    digest.update(covariates.to_csv(index=False).encode())
    return "sha256:" + digest.hexdigest()


def _requireVariationWithinBatches(
    values: np.ndarray, codes: np.ndarray, batches: tuple[str, ...], names: list[str]
) -> None:
    """Refuse features that are constant within a batch (sva leaves them unadjusted; we ask)."""
    problems = []
    for code, name in enumerate(batches):
        rows = values[codes == code]
        constant = np.flatnonzero(np.all(rows == rows[0], axis=0))
        if constant.size:
            problems.append(f"batch '{name}': {listed(names[i] for i in constant)}")
    if problems:
        raise InputError(
            "Some features are constant within a batch, so their batch scale is zero ("
            + "; ".join(problems[:4])
            + (" ..." if len(problems) > 4 else "")
            + "). Drop those features before ComBat (sva would leave them unharmonized)."
        )
