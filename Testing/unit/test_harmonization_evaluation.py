"""The harmonization evaluation: a known site effect is found and ComBat removes it, no site effect gives
chance, the numbers equal SciPy's and scikit-learn's, and the downstream task gives a constructed answer."""

import numpy as np
import pandas as pd
import pytest
from harmonizationTables import siteTables
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from VirtualBiopsy.harmonize.evaluation import (
    EvaluationSettings,
    downstreamTask,
    evaluateHarmonization,
    kruskalSummary,
    kruskalWallis,
    methodTables,
    prepareTables,
    sitePredictability,
    youdenThreshold,
)
from VirtualBiopsy.harmonize.evaluation.sitePredictability import HarmonizerSpec

LOGISTIC = ("logisticRegression",)


def _data(**options):
    features, clinical = siteTables(**options)
    return prepareTables({"raw": features}, clinical, "site", "grade")


def test_a_known_site_effect_is_predictable_and_combat_brings_it_to_chance():
    data = _data(casesPerSite=15, features=6, shift=2.0, scale=0.5)
    table = data.tables["raw"]
    before = sitePredictability(table, data.batch, LOGISTIC, repeats=2)
    after = sitePredictability(table, data.batch, LOGISTIC, repeats=2, harmonizer=HarmonizerSpec())
    assert before["auc"].iloc[0] > 0.95
    assert abs(after["auc"].iloc[0] - 0.5) < 0.15
    harmonized = methodTables(data, ["none", "combat"])
    testsBefore = kruskalSummary(kruskalWallis(harmonized["none"], data.batch))
    testsAfter = kruskalSummary(kruskalWallis(harmonized["combat"], data.batch))
    assert testsBefore["medianH"] > 15 and testsAfter["medianH"] < 2
    assert testsBefore["fractionSignificantBH"] >= 0.5 and testsAfter["fractionSignificantBH"] == 0.0


@pytest.mark.slow
def test_no_site_effect_gives_an_auc_near_one_half():
    aucs, significant = [], []
    for seed in range(6):  # one cohort's cross-validated AUC scatters around 0.5 (0.28 to 0.56 here)
        data = _data(casesPerSite=15, features=6, shift=0.0, scale=0.0, seed=seed)
        aucs.append(sitePredictability(data.tables["raw"], data.batch, LOGISTIC, repeats=3)["auc"].iloc[0])
        significant.append(kruskalSummary(kruskalWallis(data.tables["raw"], data.batch))["fractionSignificantBH"])
    assert abs(np.mean(aucs) - 0.5) < 0.1 and max(aucs) < 0.7
    assert np.mean(significant) < 0.1


@pytest.mark.parametrize("sites", [2, 3])
def test_site_auc_equals_scikit_learn_cross_validation(sites):
    data = _data(casesPerSite=12, sites=sites, features=5, shift=0.5, scale=0.2, seed=1)
    values, labels = data.tables["raw"].to_numpy(), data.batch.to_numpy()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=10000))
    split = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    probabilities = cross_val_predict(pipeline, values, labels, cv=split, method="predict_proba")
    classes = sorted(set(labels))
    # one-vs-rest macro AUC by hand: each batch against the rest, averaged
    expected = np.mean([roc_auc_score(labels == name, probabilities[:, k]) for k, name in enumerate(classes)])
    if sites == 2:
        expected = roc_auc_score(labels == classes[1], probabilities[:, 1])
    result = sitePredictability(data.tables["raw"], data.batch, LOGISTIC, repeats=1, folds=5, seed=7)
    assert result["auc"].iloc[0] == pytest.approx(expected, abs=1e-12)
    assert result["folds"].iloc[0] == 5 and result["batches"].iloc[0] == sites


def test_kruskal_wallis_equals_scipy_with_hand_made_corrections():
    data = _data(casesPerSite=8, features=7, shift=0.4, scale=0.3, seed=2)
    table = kruskalWallis(data.tables["raw"], data.batch)
    groups = [data.batch == name for name in data.batches]
    for feature in data.tables["raw"].columns:
        reference = stats.kruskal(*(data.tables["raw"].loc[group, feature] for group in groups))
        assert table.loc[feature, "H"] == pytest.approx(reference.statistic, rel=1e-12)
        assert table.loc[feature, "p"] == pytest.approx(reference.pvalue, rel=1e-12)
    p = table["p"].to_numpy()
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    benjaminiHochberg = np.empty_like(p)
    benjaminiHochberg[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    np.testing.assert_allclose(table["pBenjaminiHochberg"], benjaminiHochberg, rtol=1e-12)
    np.testing.assert_allclose(table["pBonferroni"], np.minimum(p * len(p), 1), rtol=1e-12)
    summary = kruskalSummary(table, alpha=0.05)
    assert summary["fractionSignificantBH"] == np.mean(benjaminiHochberg < 0.05)
    assert summary["medianH"] == pytest.approx(np.median(table["H"]))


def test_kruskal_wallis_is_invariant_to_monotone_transforms():
    data = _data(casesPerSite=8, features=4, seed=4)
    table = data.tables["raw"]
    transformed = np.exp(table) * 3 + 7
    np.testing.assert_allclose(
        kruskalWallis(transformed, data.batch)["H"], kruskalWallis(table, data.batch)["H"], rtol=1e-12
    )


def test_youden_threshold_known_answers():
    # J = 0, 0.5, 0, 0.5, 0 at thresholds inf, 0.8, 0.4, 0.35, 0.1: the highest best one
    assert youdenThreshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.8
    assert youdenThreshold(np.array([0, 1, 0, 1]), np.array([0.2, 0.3, 0.6, 0.9])) == 0.9
    # nothing better than chance: everything negative
    assert youdenThreshold(np.array([1, 0]), np.array([0.2, 0.7])) > 0.7


def _shiftedPair() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two batches of 10; two features that both carry the grade (3 and 2 units), batch B shifted by +30 and +20."""
    rng = np.random.default_rng(5)
    rows, clinical = [], []
    for site, shift in (("A", 0.0), ("B", 1.0)):
        for case in range(10):
            high = case % 2
            values = np.array([3.0, 2.0]) * high + 0.1 * rng.standard_normal(2) + shift * np.array([30.0, 20.0])
            rows.append({"patient": f"{site}{case}", "f0": values[0], "f1": values[1]})
            clinical.append({"patient": f"{site}{case}", "site": site, "grade": "HGG" if high else "LGG"})
    return pd.DataFrame(rows), pd.DataFrame(clinical)


def test_downstream_constructed_answer_before_and_after_combat():
    features, clinical = _shiftedPair()
    data = prepareTables({"raw": features}, clinical, "site", "grade")
    tables = methodTables(data, ["none", "combat"])
    before = downstreamTask(tables["none"], data.batch, data.task, models=LOGISTIC)
    after = downstreamTask(tables["combat"], data.batch, data.task, models=LOGISTIC)
    assert list(zip(before["train"], before["test"])) == [("A", "B"), ("B", "A")]
    # the ranking survives the shift, the threshold does not: every test case falls on one side
    assert before["auc"].tolist() == [1.0, 1.0] and before["accuracy"].tolist() == [0.5, 0.5]
    assert after["auc"].tolist() == [1.0, 1.0] and after["accuracy"].tolist() == [1.0, 1.0]
    assert set(before["positiveClass"]) == {"LGG"} and before["trainCases"].tolist() == [10, 10]
    only = downstreamTask(tables["none"], data.batch, data.task, pairs=[("B", "A")], models=LOGISTIC)
    assert only[["auc", "accuracy"]].to_numpy().tolist() == [[1.0, 0.5]]


def test_combat_for_the_evaluation_never_sees_the_task_labels():
    features, clinical = siteTables(casesPerSite=10, features=5, seed=6)
    shuffled = clinical.assign(grade=np.random.default_rng(0).permutation(clinical["grade"].to_numpy()))
    first = methodTables(prepareTables({"raw": features}, clinical, "site", "grade"), ["combat"])["combat"]
    second = methodTables(prepareTables({"raw": features}, shuffled, "site", "grade"), ["combat"])["combat"]
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.slow
def test_named_tables_methods_and_their_order():
    features, clinical = siteTables(casesPerSite=8, features=4, seed=7)
    scaled = features.assign(**{f"f{k}": features[f"f{k}"] * 10 for k in range(4)}).iloc[::-1]  # other row order
    data = prepareTables({"raw": features, "scaled": scaled}, clinical, "site", "grade")
    tables = methodTables(data, ["scaled", "none", "scaled+combat"])
    assert list(tables) == ["scaled", "none", "scaled+combat"]
    np.testing.assert_allclose(tables["scaled"].to_numpy(), tables["none"].to_numpy() * 10, rtol=1e-12)
    assert list(tables["scaled"].index) == list(features["patient"])
    result = evaluateHarmonization(data, EvaluationSettings(methods=["none", "scaled"], models=LOGISTIC, repeats=1))
    site = result.sitePredictability.set_index("method")["auc"]
    assert site["none"] == pytest.approx(site["scaled"], abs=1e-9)  # standardization inside the folds
    assert list(result.downstream["method"].unique()) == ["none", "scaled"]
    assert len(result.topFeatures) == 4


def test_combat_inside_the_folds_equals_a_hand_made_loop():
    from VirtualBiopsy.harmonize.combat import fitComBat

    data = _data(casesPerSite=10, features=4, shift=1.0, scale=0.3, seed=10)
    table, labels = data.tables["raw"], data.batch
    probabilities = np.zeros((len(labels), 3))
    for train, test in StratifiedKFold(n_splits=5, shuffle=True, random_state=2).split(table, labels):
        model = fitComBat(table.iloc[train], labels.iloc[train])
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=10000))
        pipeline.fit(model.apply(table.iloc[train], labels.iloc[train]).to_numpy(), labels.to_numpy()[train])
        probabilities[test] = pipeline.predict_proba(model.apply(table.iloc[test], labels.iloc[test]).to_numpy())
    expected = roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
    result = sitePredictability(table, labels, LOGISTIC, repeats=1, seed=2, harmonizer=HarmonizerSpec())
    assert result["auc"].iloc[0] == pytest.approx(expected, abs=1e-9)


def test_without_a_task_there_is_no_downstream_table(tmp_path):
    from VirtualBiopsy.harmonize.evaluation import writeEvaluation

    features, clinical = siteTables(casesPerSite=6, sites=2, features=3, seed=11)
    data = prepareTables({"raw": features}, clinical, "site")
    result = evaluateHarmonization(data, EvaluationSettings(models=LOGISTIC, repeats=1, topFeatures=2))
    assert result.downstream.empty and list(result.kruskalSummary["method"]) == ["none", "combat"]
    names = {path.name for path in writeEvaluation(result, tmp_path / "out")}
    assert "downstream.csv" not in names and "summary.md" in names
    assert "Downstream" not in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")


def test_progress_reaches_one_and_cancel_stops_the_evaluation():
    from VirtualBiopsy.errors import CancelledError
    from VirtualBiopsy.progress import CancelToken

    features, clinical = siteTables(casesPerSite=6, sites=2, features=3, seed=12)
    data = prepareTables({"raw": features}, clinical, "site", "grade")
    settings = EvaluationSettings(models=LOGISTIC, repeats=1, topFeatures=1)
    reports = []
    evaluateHarmonization(data, settings, progress=lambda fraction, message: reports.append(fraction))
    assert reports[-1] == 1.0 and reports == sorted(reports) and min(reports) >= 0
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        evaluateHarmonization(data, settings, cancel=token)
