"""ComBat's effects (site removed, covariates kept), one-at-a-time use, unseen batches and the model file."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from combatCohort import gradeCohort, referenceCohort

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat import (
    METHODS,
    ComBatModel,
    fitAndHarmonize,
    fitComBat,
)

OTHERS = ["f1", "f2", "f3", "f4", "f5"]


@pytest.mark.parametrize("method", METHODS)
def test_site_effect_shrinks(method):
    features, site, covariates = gradeCohort()
    _, harmonized = fitAndHarmonize(features, site, covariates, method)

    def gap(table):
        return (table[site == "A"].mean() - table[site == "B"].mean())[OTHERS].abs()

    def logSpread(table):
        return np.log(table[site == "B"].std() / table[site == "A"].std())[OTHERS].abs()

    assert gap(harmonized).mean() < 0.25 * gap(features).mean()
    if method == "meanonly":  # location only: every batch is shifted, spreads stay as they were
        np.testing.assert_allclose(logSpread(harmonized), logSpread(features), rtol=1e-10)
    else:
        assert logSpread(harmonized).mean() < 0.5 * logSpread(features).mean()


@pytest.mark.parametrize("method", METHODS)
def test_covariate_difference_is_kept(method):
    """Two cases of one batch whose feature differs by the fitted grade effect, and whose grade differs,
    stay exactly that far apart; the fitted effect is the simulated one (3); and the cohort's
    high − low difference, confounded by the site mix before, comes close to it."""
    features, site, covariates = gradeCohort(gradeEffect=3.0)
    model, harmonized = fitAndHarmonize(features, site, covariates, method)
    effect = model.covariateCoefficients[model.designColumns.index("grade=low")]
    assert abs(-effect[0] - 3.0) < 0.5
    for batch in ("A", "B"):
        high = features.iloc[[0]].copy()
        low = high + effect
        pair = pd.concat([high, low]).set_axis(["high", "low"])
        out = model.apply(
            pair, pd.Series([batch] * 2, index=pair.index), pd.DataFrame({"grade": ["high", "low"]}, index=pair.index)
        )
        np.testing.assert_allclose((out.loc["high"] - out.loc["low"]).to_numpy(), -effect, rtol=1e-10)

    def difference(table):
        return table.driven[covariates.grade == "high"].mean() - table.driven[covariates.grade == "low"].mean()

    assert abs(difference(harmonized) - 3.0) < 0.5 * abs(difference(features) - 3.0)


def test_meanonly_keeps_the_within_site_covariate_coefficient_exactly():
    features, site, covariates = gradeCohort()
    _, harmonized = fitAndHarmonize(features, site, covariates, "meanonly")
    design = np.column_stack([site == "A", site == "B", covariates.grade == "high"]).astype(float)
    before = np.linalg.lstsq(design, features.to_numpy(), rcond=None)[0][2]
    after = np.linalg.lstsq(design, harmonized.to_numpy(), rcond=None)[0][2]
    np.testing.assert_allclose(after, before, rtol=1e-10)


def test_apply_keeps_the_callers_column_order_and_index():
    features, site, covariates = referenceCohort()
    model, harmonized = fitAndHarmonize(features, site, covariates)
    shuffled = features[list(reversed(features.columns))]
    out = model.apply(shuffled, site, covariates.assign(extra=1.0))  # other covariate columns are ignored
    assert list(out.columns) == list(shuffled.columns) and out.index.equals(features.index)
    np.testing.assert_allclose(out[features.columns].to_numpy(), harmonized.to_numpy(), rtol=1e-12)


def test_inputs_are_not_modified():
    features, site, covariates = referenceCohort()
    copies = features.copy(), site.copy(), covariates.copy()
    model = fitComBat(features, site, covariates, "nonparametric", referenceBatch="A")
    model.apply(features, site, covariates)
    pd.testing.assert_frame_equal(features, copies[0])
    pd.testing.assert_series_equal(site, copies[1])
    pd.testing.assert_frame_equal(covariates, copies[2])


def test_unseen_batch_is_refused_naming_it_and_the_known_batches():
    features, site, covariates = referenceCohort()
    model = fitComBat(features, site, covariates)
    new = site.iloc[:2].map(lambda _: "Z")
    with pytest.raises(InputError, match=r"Batch\(es\) Z .*known batches: A, B, C"):
        model.apply(features.iloc[:2], new, covariates.iloc[:2])
    with pytest.raises(InputError, match="unseenBatch is 'maybe'"):
        model.apply(features.iloc[:2], new, covariates.iloc[:2], unseenBatch="maybe")


def test_unseen_batch_reference_fallback_leaves_those_cases_unchanged(caplog):
    features, site, covariates = referenceCohort()
    model, harmonized = fitAndHarmonize(features, site, covariates)
    mixed = site.copy()
    mixed.iloc[:3] = "Z"
    with caplog.at_level(logging.WARNING, logger="VirtualBiopsy.harmonize.combat.model"):
        out = model.apply(features, mixed, covariates, unseenBatch="reference")
    assert np.array_equal(out.iloc[:3].to_numpy(), features.iloc[:3].to_numpy())
    np.testing.assert_allclose(out.iloc[3:].to_numpy(), harmonized.iloc[3:].to_numpy(), rtol=1e-12)
    assert "3 case(s)" in caplog.text and "Z" in caplog.text and "VC00" not in caplog.text


def test_unknown_covariate_level_is_refused():
    features, site, covariates = referenceCohort()
    model = fitComBat(features, site, covariates)
    with pytest.raises(InputError, match=r"level\(s\) medium .*known levels: high, low"):
        model.apply(features.iloc[:1], site.iloc[:1], covariates.iloc[:1].assign(grade="medium"))


@pytest.mark.parametrize("method,reference", [("parametric", None), ("nonparametric", "C"), ("meanonly", "A")])
def test_save_and_load_round_trip_bit_for_bit(tmp_path, method, reference):
    features, site, covariates = referenceCohort()
    model = fitComBat(features, site, covariates, method, reference)
    path = model.save(tmp_path / "model.json")
    loaded = ComBatModel.load(path)
    for name in ("grandMean", "pooledVariance", "covariateCoefficients", "gammaStar", "deltaStar", "iterations"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name)), name
    for name in (
        "method",
        "features",
        "batches",
        "batchCounts",
        "referenceBatch",
        "covariates",
        "inputHash",
        "libraryVersion",
        "batchName",
    ):
        assert getattr(loaded, name) == getattr(model, name), name
    assert np.array_equal(
        loaded.apply(features, site, covariates).to_numpy(), model.apply(features, site, covariates).to_numpy()
    )
    assert loaded.save(tmp_path / "again.json").read_bytes() == path.read_bytes()
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schemaVersion"] == 1 and data["features"] == list(features.columns)
    assert data["covariates"][1] == {"name": "grade", "kind": "categorical", "levels": ["high", "low"]}
    assert data["inputHash"].startswith("sha256:") and data["batchName"] == "site"


def test_input_hash_depends_on_the_data():
    features, site, covariates = referenceCohort()
    base = fitComBat(features, site, covariates).inputHash
    assert fitComBat(features, site, covariates).inputHash == base
    changed = features.copy()
    changed.iloc[0, 0] = np.nextafter(changed.iloc[0, 0], np.inf)
    assert fitComBat(changed, site, covariates).inputHash != base
    assert fitComBat(features, site, covariates.assign(age=covariates.age + 1)).inputHash != base


def test_fit_reports_progress_and_can_be_cancelled():
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    features, site, covariates = referenceCohort()
    fractions = []
    fitComBat(features, site, covariates, "nonparametric", progress=lambda fraction, _: fractions.append(fraction))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions) and len(fractions) >= 4
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        fitComBat(features, site, covariates, cancel=token)
