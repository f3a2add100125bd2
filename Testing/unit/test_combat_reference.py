"""ComBat against independent implementations: R's sva::ComBat (fixtures made by
scripts/combatReference.py) and combatlearn 2.3.0 where its estimator is the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from combatCohort import SVA_VARIANTS, referenceCohort, svaResult

from VirtualBiopsy.harmonize.combat import fitAndHarmonize


def _relative(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference) / np.abs(reference)))


@pytest.mark.parametrize("variant", SVA_VARIANTS)
def test_fit_matches_sva(variant):
    features, site, covariates = referenceCohort()
    method, reference = SVA_VARIANTS[variant]
    _, harmonized = fitAndHarmonize(features, site, covariates, method, reference)
    expected = svaResult(variant)
    assert list(harmonized.columns) == list(expected.columns) and harmonized.index.equals(expected.index)
    assert _relative(harmonized.to_numpy(), expected.to_numpy()) <= 1e-9  # the issue asks for 1e-6
    assert _relative(harmonized.to_numpy(), features.to_numpy()) > 1e-2  # and the data did change


@pytest.mark.parametrize("variant", SVA_VARIANTS)
def test_one_patient_at_a_time_reproduces_the_fit(variant):
    features, site, covariates = referenceCohort()
    model, harmonized = fitAndHarmonize(features, site, covariates, *SVA_VARIANTS[variant])
    onePerCall = pd.concat(
        [model.apply(features.iloc[[row]], site.iloc[[row]], covariates.iloc[[row]]) for row in range(len(features))]
    )
    np.testing.assert_allclose(onePerCall.to_numpy(), harmonized.to_numpy(), rtol=1e-10, atol=0)
    reversedRows = model.apply(features.iloc[::-1], site.iloc[::-1], covariates.iloc[::-1])
    np.testing.assert_allclose(reversedRows.loc[features.index].to_numpy(), harmonized.to_numpy(), rtol=1e-10, atol=0)


def test_reference_batch_is_returned_unchanged_bit_for_bit():
    features, site, covariates = referenceCohort()
    model, harmonized = fitAndHarmonize(features, site, covariates, "parametric", "B")
    inB = (site == "B").to_numpy()
    assert np.array_equal(harmonized[inB].to_numpy(), features[inB].to_numpy())
    assert np.array_equal(model.apply(features[inB], site[inB], covariates[inB]).to_numpy(), features[inB].to_numpy())
    assert np.all(model.gammaStar[model.batches.index("B")] == 0) and np.all(model.deltaStar[1] == 1)


@pytest.mark.parametrize("reference", [None, "B"])
def test_standardization_matches_combatlearn(reference):
    """combatlearn's 'fortin' engine fits the same OLS standardization (grand mean, pooled variance,
    covariate coefficients). Its empirical Bayes step pools the priors across batches for each feature,
    not across features within a batch as Johnson et al. and sva do, so γ* and δ* differ by design
    (up to 22% on this cohort) and are compared with sva only."""
    from combatlearn.core import ComBatModel as CombatlearnModel

    features, site, covariates = referenceCohort()
    theirs = CombatlearnModel(method="fortin", reference_batch=reference, eps=0.0)
    theirs.fit(
        features, batch=site, discrete_covariates=covariates[["grade"]], continuous_covariates=covariates[["age"]]
    )
    ours, _ = fitAndHarmonize(features, site, covariates, "parametric", reference)
    assert theirs._nonbatch_columns == ["grade_low", "age"] and ours.designColumns == ["age", "grade=low"]
    assert _relative(ours.grandMean, theirs._grand_mean.to_numpy()) < 1e-9
    assert _relative(ours.pooledVariance, theirs._pooled_var.to_numpy()) < 1e-9
    assert _relative(ours.covariateCoefficients, theirs._beta_hat_nonbatch[::-1]) < 1e-9


def test_fit_is_equivariant_to_feature_units_and_batch_names():
    """Rescaling or shifting a feature rescales or shifts its harmonized values; renaming batches changes nothing."""
    features, site, covariates = referenceCohort()
    _, base = fitAndHarmonize(features, site, covariates, "nonparametric")
    scaled = features * 1000.0 + 5.0
    _, harmonizedScaled = fitAndHarmonize(scaled, site, covariates, "nonparametric")
    np.testing.assert_allclose(harmonizedScaled.to_numpy(), base.to_numpy() * 1000.0 + 5.0, rtol=1e-9)
    renamed = site.map({"A": "z-site", "B": "a-site", "C": "m-site"})
    _, harmonizedRenamed = fitAndHarmonize(features, renamed, covariates, "nonparametric")
    np.testing.assert_allclose(harmonizedRenamed.to_numpy(), base.to_numpy(), rtol=1e-12)


def test_fixture_inputs_are_what_the_reference_script_makes():
    """The committed inputs come from scripts/combatReference.py (its seed), so the fixtures can be remade."""
    import importlib.util

    from combatCohort import DATA

    path = DATA.parents[2] / "scripts" / "combatReference.py"
    spec = importlib.util.spec_from_file_location("combatReference", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    features, clinical = script.syntheticCohort()
    pd.testing.assert_frame_equal(features, pd.read_csv(DATA / "features.csv", dtype={"patient": str}))
    pd.testing.assert_frame_equal(clinical, pd.read_csv(DATA / "clinical.csv", dtype={"patient": str, "site": str}))


def _svaIntegration(batchData: np.ndarray, gammaHat: np.ndarray, deltaHat: np.ndarray, dtype) -> np.ndarray:
    """sva's int.eprior as written (products of densities, no logarithms), in ``dtype``."""
    batchData, gammaHat, deltaHat = (np.asarray(a, dtype=dtype) for a in (batchData, gammaHat, deltaHat))
    n = batchData.shape[0]
    stars = []
    for feature in range(batchData.shape[1]):
        others = np.arange(len(gammaHat)) != feature
        g, d = gammaHat[others], deltaHat[others]
        sumSquares = np.sum((batchData[:, feature][:, None] - g[None, :]) ** 2, axis=0)
        with np.errstate(all="ignore"):
            likelihood = 1 / (2 * np.pi * d) ** (n / 2) * np.exp(-sumSquares / (2 * d))
            stars.append((np.sum(g * likelihood) / np.sum(likelihood), np.sum(d * likelihood) / np.sum(likelihood)))
    return np.array(stars, dtype=np.float64).T


def test_nonparametric_integration_survives_where_svas_products_underflow():
    """With 600 cases sva's density products underflow to 0/0 in float64; in 80-bit long double
    they do not, and the logarithmic form used here agrees with them."""
    from VirtualBiopsy.harmonize.combat.estimation import nonParametricSolution

    if np.finfo(np.longdouble).maxexp <= np.finfo(np.float64).maxexp:
        pytest.skip("long double is not wider than double on this platform")
    generator = np.random.default_rng(5)
    batchData = generator.normal(0.3, 1.2, (600, 12)) + generator.normal(0, 0.2, 12)
    gammaHat, deltaHat = batchData.mean(axis=0), batchData.var(axis=0, ddof=1)
    assert np.isnan(_svaIntegration(batchData, gammaHat, deltaHat, np.float64)).all()
    wide = _svaIntegration(batchData, gammaHat, deltaHat, np.longdouble)
    ours = np.array(nonParametricSolution(batchData, gammaHat, deltaHat))
    assert np.isfinite(wide).all()
    np.testing.assert_allclose(ours, wide, rtol=1e-12)
