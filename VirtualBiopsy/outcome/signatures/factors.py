"""Factor analysis with varimax rotation: latent factors of a radiomic signature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from VirtualBiopsy.errors import InputError


@dataclass
class FactorResult:
    """A varimax-rotated factor model of standardized features.

    :ivar loadings: features × factors (``factor1`` …), scikit-learn's ``components_`` transposed.
    :ivar scores: patients × factors, scikit-learn's ``transform`` of the standardized features.
    :ivar mean: each feature's mean used to standardize.
    :ivar scale: each feature's standard deviation (ddof = 0) used to standardize.
    :ivar noiseVariance: each feature's unique (noise) variance.
    """

    loadings: pd.DataFrame
    scores: pd.DataFrame
    mean: pd.Series
    scale: pd.Series
    noiseVariance: pd.Series


def kaiserFactorCount(features: pd.DataFrame) -> int:
    """Number of eigenvalues of the features' correlation matrix above 1 (Kaiser's rule), at least 1."""
    eigenvalues = np.linalg.eigvalsh(
        np.corrcoef(features.to_numpy(dtype=float), rowvar=False).reshape(features.shape[1], features.shape[1])
    )
    return max(1, int((eigenvalues > 1.0).sum()))


def varimaxFactors(features: pd.DataFrame, factors: int | None = None, seed: int = 0) -> FactorResult:
    """Fit scikit-learn's ``FactorAnalysis(rotation="varimax")`` on z-scored features.

    :param factors: number of factors; Kaiser's rule (:func:`kaiserFactorCount`) when None.
    :param seed: ``random_state`` of scikit-learn's randomized SVD.
    :raises InputError: for non-finite or constant features, or more factors than features.
    """
    from sklearn.decomposition import FactorAnalysis

    values = features.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise InputError("Factor analysis needs finite feature values; impute or drop missing ones first.")
    mean, scale = values.mean(axis=0), values.std(axis=0)
    constant = [str(c) for c, s in zip(features.columns, scale) if s == 0]
    if constant:
        raise InputError(f"Feature(s) {', '.join(constant[:10])} are constant and cannot be standardized; remove them.")
    factors = kaiserFactorCount(features) if factors is None else int(factors)
    if not 1 <= factors <= features.shape[1]:
        raise InputError(
            f"{factors} factor(s) asked for {features.shape[1]} feature(s); give between 1 and "
            f"{features.shape[1]} factors."
        )
    if len(features) < 3:
        raise InputError(f"Factor analysis needs at least 3 patients; got {len(features)}.")
    standardized = (values - mean) / scale
    model = FactorAnalysis(n_components=factors, rotation="varimax", random_state=seed).fit(standardized)
    names = [f"factor{i + 1}" for i in range(factors)]
    return FactorResult(
        loadings=pd.DataFrame(model.components_.T, index=features.columns, columns=names),
        scores=pd.DataFrame(model.transform(standardized), index=features.index, columns=names),
        mean=pd.Series(mean, index=features.columns),
        scale=pd.Series(scale, index=features.columns),
        noiseVariance=pd.Series(model.noise_variance_, index=features.columns),
    )
