"""The ComBat estimates (Johnson, Li & Rabinovic 2007; Fortin et al. 2017, 2018), on arrays.

Arrays are cases × features.  The steps and their conventions follow R's
``sva::ComBat`` (and neuroCombat, which copies it) so that results agree to rounding:

1. ordinary least squares of every feature on the design (one indicator column per
   batch, then the covariate columns); with a reference batch its indicator column is
   all ones (it becomes the intercept);
2. the grand mean (batch coefficients weighted by batch size, or the reference batch's
   coefficient) and the pooled variance (mean squared residual over all cases, or over
   the reference batch's cases);
3. standardized data ``(y − grand mean − covariate effect) / √pooled variance``;
4. per batch: γ̂ by least squares of the standardized data on the batch columns,
   δ̂² its sample variance (n − 1) within the batch;
5. empirical Bayes: γ ~ N(γ̄, τ²) and δ² ~ inverse-gamma(a, b) by the method of moments
   over features, then the posterior means by sva's fixed-point iteration ("parametric"),
   or the Monte-Carlo-free integration over the other features' (γ̂, δ̂²)
   ("nonparametric"); "meanonly" shrinks γ̂ alone as sva's ``mean.only`` does
   (``postmean`` with n = 1 and δ² = 1) and keeps δ* = 1;
6. the reference batch gets γ* = 0, δ* = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.harmonize.combat.inputs import listed
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

#: Empirical Bayes methods.
METHODS = ("parametric", "nonparametric", "meanonly")
#: sva's convergence criterion of the parametric iteration (largest relative change).
CONVERGENCE = 1e-4
#: The parametric iteration gives up (ModelError) after this many rounds.
MAXIMUM_ITERATIONS = 10_000


@dataclass
class Estimates:
    """What a fit estimates; arrays are float64.

    :ivar grandMean: (features,) the standardization's mean at covariates 0.
    :ivar pooledVariance: (features,) the standardization's variance.
    :ivar covariateCoefficients: (covariate columns, features) OLS coefficients.
    :ivar gammaStar: (batches, features) additive batch effects on the standardized scale.
    :ivar deltaStar: (batches, features) multiplicative batch effects (variances).
    :ivar iterations: (batches,) rounds of the parametric iteration (0 for other methods).
    :ivar standardized: (cases, features) the standardized training data.
    """

    grandMean: np.ndarray
    pooledVariance: np.ndarray
    covariateCoefficients: np.ndarray
    gammaStar: np.ndarray
    deltaStar: np.ndarray
    iterations: np.ndarray
    standardized: np.ndarray


def estimate(
    values: np.ndarray,
    batchCodes: np.ndarray,
    batchNames: list[str],
    covariateColumns: np.ndarray,
    method: str = "parametric",
    reference: int | None = None,
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
    featureNames: list[str] | None = None,
) -> Estimates:
    """Fit ComBat to ``values`` (cases × features).

    :param batchCodes: (cases,) index into ``batchNames`` of each case's batch.
    :param covariateColumns: (cases, columns) the covariate part of the design.
    :param reference: index of the reference batch, or ``None``.
    :param featureNames: the features' names, for error messages.
    :raises InputError: for a confounded design, or a variance of zero where ComBat divides by it.
    """
    nBatch = len(batchNames)
    design = batchDesign(batchCodes, nBatch, reference)
    full = np.hstack([design, covariateColumns])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        if covariateColumns.shape[1] and np.linalg.matrix_rank(covariateColumns) < covariateColumns.shape[1]:
            raise InputError(
                "The covariates are confounded with each other (their design columns are linearly "
                "dependent); remove one or more of them."
            )
        raise InputError(
            "At least one covariate is confounded with the batch (it can be predicted from the batch "
            "alone, e.g. a level found in one batch only or a constant); remove it or refit without it."
        )
    coefficients = np.linalg.solve(full.T @ full, full.T @ values)
    counts = np.bincount(batchCodes, minlength=nBatch).astype(np.float64)
    if reference is None:
        grandMean = (counts / len(values)) @ coefficients[:nBatch]
        rows = np.ones(len(values), dtype=bool)
    else:
        grandMean = coefficients[reference]
        rows = batchCodes == reference
    residuals = values[rows] - full[rows] @ coefficients
    pooledVariance = np.mean(residuals**2, axis=0)
    names = featureNames or [f"#{i + 1}" for i in range(values.shape[1])]
    _requirePositive(pooledVariance, names, "pooled residual variance", "fully explained by batch and covariates")
    covariateCoefficients = coefficients[nBatch:]
    standMean = grandMean + covariateColumns @ covariateCoefficients
    standardized = (values - standMean) / np.sqrt(pooledVariance)

    gammaHat = np.linalg.solve(design.T @ design, design.T @ standardized)
    deltaHat = np.vstack([np.var(standardized[batchCodes == b], axis=0, ddof=1) for b in range(nBatch)])
    if method != "meanonly":
        _requirePositive(
            deltaHat.min(axis=0),
            names,
            "within-batch variance of the standardized data",
            "fitted exactly by the covariates within a batch",
        )
    progress(0.2, "ComBat: standardized; estimating batch effects")
    gammaStar = np.empty_like(gammaHat)
    deltaStar = np.ones_like(deltaHat)
    iterations = np.zeros(nBatch, dtype=np.int64)
    for b in range(nBatch):
        if cancel:
            cancel.raiseIfCancelled()
        batchData = standardized[batchCodes == b]
        gammaBar, tauSquared = gammaHat[b].mean(), gammaHat[b].var(ddof=1)
        if method == "meanonly":
            gammaStar[b] = posteriorMean(gammaHat[b], gammaBar, 1.0, 1.0, tauSquared)
        elif method == "parametric":
            a, bPrior = inverseGammaPrior(deltaHat[b], batchNames[b])
            gammaStar[b], deltaStar[b], iterations[b] = parametricSolution(
                batchData, gammaHat[b], deltaHat[b], gammaBar, tauSquared, a, bPrior, batchNames[b]
            )
        elif method == "nonparametric":
            gammaStar[b], deltaStar[b] = nonParametricSolution(batchData, gammaHat[b], deltaHat[b], cancel)
        else:
            raise InputError(f"ComBat method '{method}' is unknown; choose one of {', '.join(METHODS)}.")
        progress(0.2 + 0.75 * (b + 1) / nBatch, f"ComBat: batch {b + 1} of {nBatch}")
    if reference is not None:
        gammaStar[reference], deltaStar[reference] = 0.0, 1.0
    return Estimates(grandMean, pooledVariance, covariateCoefficients, gammaStar, deltaStar, iterations, standardized)


def batchDesign(batchCodes: np.ndarray, nBatch: int, reference: int | None = None) -> np.ndarray:
    """One indicator column per batch; the reference batch's column is all ones (sva's ``ref.batch``)."""
    design = (batchCodes[:, None] == np.arange(nBatch)[None, :]).astype(np.float64)
    if reference is not None:
        design[:, reference] = 1.0
    return design


def adjust(
    values: np.ndarray,
    batchCodes: np.ndarray,
    covariateColumns: np.ndarray,
    grandMean: np.ndarray,
    pooledVariance: np.ndarray,
    covariateCoefficients: np.ndarray,
    gammaStar: np.ndarray,
    deltaStar: np.ndarray,
) -> np.ndarray:
    """Harmonized values: standardize, remove the batch's (γ*, δ*), and undo the standardization.

    Works on any number of cases, one at a time included: every case only needs its own
    batch and covariates.
    """
    scale = np.sqrt(pooledVariance)
    standMean = grandMean + covariateColumns @ covariateCoefficients
    standardized = (values - standMean) / scale
    return (standardized - gammaStar[batchCodes]) / np.sqrt(deltaStar[batchCodes]) * scale + standMean


def posteriorMean(gammaHat, gammaBar, n, deltaSquared, tauSquared):
    """sva's ``postmean``: the posterior mean of γ under the normal prior."""
    return (tauSquared * n * gammaHat + deltaSquared * gammaBar) / (tauSquared * n + deltaSquared)


def posteriorVariance(sumSquares, n, a, b):
    """sva's ``postvar``: the posterior mean of δ² under the inverse-gamma prior."""
    return (0.5 * sumSquares + b) / (n / 2.0 + a - 1.0)


def inverseGammaPrior(deltaHat: np.ndarray, batchName: str) -> tuple[float, float]:
    """The method-of-moments (a, b) of the inverse-gamma prior of δ² (sva's ``aprior``, ``bprior``).

    :raises InputError: when δ̂² is the same for every feature (no spread to fit a prior to).
    """
    mean, variance = deltaHat.mean(), deltaHat.var(ddof=1)
    if not (variance > 0 and np.isfinite(variance)):
        raise InputError(
            f"Batch '{batchName}': every feature has the same within-batch variance, so the parametric "
            "prior of the scale effects cannot be estimated; use --method meanonly or nonparametric, "
            "or add features."
        )
    return (2 * variance + mean**2) / variance, (mean * variance + mean**3) / variance


def parametricSolution(
    batchData: np.ndarray,
    gammaHat: np.ndarray,
    deltaHat: np.ndarray,
    gammaBar: float,
    tauSquared: float,
    a: float,
    b: float,
    batchName: str = "",
) -> tuple[np.ndarray, np.ndarray, int]:
    """sva's ``it.sol``: alternate the posterior means of γ and δ² until the relative change is below 1e-4.

    The change is ``|new − old| / old`` as in sva (the sign of ``old`` is kept), so the
    same number of rounds is taken.

    :returns: (γ*, δ*², rounds).
    :raises ModelError: when it has not converged after :data:`MAXIMUM_ITERATIONS` rounds.
    """
    n = batchData.shape[0]
    gammaOld, deltaOld = gammaHat, deltaHat
    with np.errstate(divide="ignore", invalid="ignore"):
        for count in range(1, MAXIMUM_ITERATIONS + 1):
            gammaNew = posteriorMean(gammaHat, gammaBar, n, deltaOld, tauSquared)
            sumSquares = np.sum((batchData - gammaNew) ** 2, axis=0)
            deltaNew = posteriorVariance(sumSquares, n, a, b)
            change = np.nanmax(
                np.concatenate([np.abs(gammaNew - gammaOld) / gammaOld, np.abs(deltaNew - deltaOld) / deltaOld])
            )
            gammaOld, deltaOld = gammaNew, deltaNew
            if not change > CONVERGENCE:
                return gammaNew, deltaNew, count
    raise ModelError(
        f"Batch '{batchName}': the parametric ComBat estimates did not converge in {MAXIMUM_ITERATIONS} "
        f"rounds (last relative change {change:.3g}); try --method nonparametric."
    )


def nonParametricSolution(
    batchData: np.ndarray,
    gammaHat: np.ndarray,
    deltaHat: np.ndarray,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """sva's ``int.eprior``: each feature's (γ*, δ*²) averages the other features' (γ̂, δ̂²),
    weighted by the likelihood of this feature's standardized values under them.

    The likelihood is computed in logarithms (sva multiplies densities, which underflow to
    0/0 for large batches); where sva's product does not underflow the results are equal.
    """
    n, p = batchData.shape
    gammaStar, deltaStar = np.empty(p), np.empty(p)
    logNormalizer = -0.5 * n * np.log(2 * np.pi * deltaHat)
    for feature in range(p):
        if cancel is not None and feature % 64 == 0:
            cancel.raiseIfCancelled()
        sumSquares = np.sum((batchData[:, feature][:, None] - gammaHat[None, :]) ** 2, axis=0)
        logLikelihood = logNormalizer - sumSquares / (2 * deltaHat)
        logLikelihood[feature] = -np.inf
        weights = np.exp(logLikelihood - logLikelihood.max())
        gammaStar[feature] = np.sum(gammaHat * weights) / np.sum(weights)
        deltaStar[feature] = np.sum(deltaHat * weights) / np.sum(weights)
    return gammaStar, deltaStar


def _requirePositive(values: np.ndarray, names: list[str], what: str, cause: str) -> None:
    bad = [names[i] for i in np.flatnonzero(~(values > 0))]
    if bad:
        raise InputError(
            f"The {what} is 0 for feature(s) {listed(bad)} ({cause}); ComBat divides by it. Drop those features."
        )
