"""``virtual-biopsy outcome km|cox|signature|cluster`` on the virtual cohort's clinical model and synthetic features."""

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy import cli
from VirtualBiopsy.data.survival import sampleOutcome, samplePatient


def virtualClinical(n=60, seed=11):
    """Clinical rows drawn from the virtual cohort's clinical and survival model, and latent aggressiveness."""
    rng = np.random.default_rng(seed)
    rows, latent = [], []
    for index in range(n):
        patient = samplePatient(rng, 3)
        outcome = sampleOutcome(rng, patient)
        rows.append(
            {
                "patient": f"VB{index + 1:04d}",
                "site": f"site{patient.siteIndex}",
                "grade": patient.grade,
                "time": outcome.time,
                "event": outcome.event,
                "age": patient.age,
                "highGrade": int(patient.grade == "HGG"),
            }
        )
        latent.append(patient.aggressiveness)
    return pd.DataFrame(rows), np.array(latent)


def syntheticFeatures(clinical, latent, seed=12):
    """Radiomics-like features: two blocks driven by aggressiveness and by noise, plus a constant one."""
    rng = np.random.default_rng(seed)
    n = len(latent)
    other = rng.normal(size=n)
    return pd.DataFrame(
        {
            "patient": clinical["patient"],
            "label": 1,
            "T1c_firstorder_Mean": 100 + 20 * latent + rng.normal(0, 3, n),
            "T1c_firstorder_Median": 98 + 19 * latent + rng.normal(0, 3, n),
            "T2_glcm_Contrast": 5 + latent + rng.normal(0, 0.5, n),
            "T2_shape_Sphericity": 0.6 + 0.05 * other + rng.normal(0, 0.01, n),
            "T2_glszm_ZoneEntropy": 3 + other + rng.normal(0, 0.3, n),
            "T1c_shape_Flat": 1.0,
        }
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    clinical, latent = virtualClinical()
    clinical.to_csv(folder / "clinical.csv", index=False)
    syntheticFeatures(clinical, latent).to_csv(folder / "features.csv", index=False)
    return folder


def _run(argv, capsys):
    status = cli.main(["outcome", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_km_by_group_equals_lifelines(tables, tmp_path, capsys):
    from lifelines.statistics import multivariate_logrank_test

    out = tmp_path / "km"
    status, printed, _ = _run(
        [
            "km",
            "--table",
            tables / "clinical.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--group",
            "grade",
            "--out",
            out,
        ],
        capsys,
    )
    assert status == 0 and "2 group(s)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["km.csv", "km.png", "km.svg", "logrank.csv", "median.csv"]
    km = pd.read_csv(out / "km.csv")
    assert list(km.columns[:6]) == ["group", "time", "survival", "ci_lower", "ci_upper", "at_risk"]
    assert set(km["group"]) == {"HGG", "LGG"}
    clinical = pd.read_csv(tables / "clinical.csv")
    reference = multivariate_logrank_test(clinical["time"], clinical["grade"], clinical["event"])
    logrank = pd.read_csv(out / "logrank.csv").set_index("test")
    assert logrank.loc["overall", "p"] == pytest.approx(reference.p_value, rel=1e-12)
    assert (out / "km.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (out / "km.svg").read_bytes()[:400]


def test_cox_writes_model_and_risk_groups(tables, tmp_path, capsys):
    from lifelines import CoxPHFitter

    out = tmp_path / "cox"
    status, printed, _ = _run(
        [
            "cox",
            "--table",
            tables / "clinical.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "age,highGrade",
            "--penalizer",
            "0.01",
            "--bootstrap",
            "100",
            "--out",
            out,
        ],
        capsys,
    )
    assert status == 0 and "C-index" in printed
    coefficients = pd.read_csv(out / "coefficients.csv")
    assert list(coefficients.columns[:6]) == ["covariate", "coef", "hr", "ci_lower", "ci_upper", "se"]
    clinical = pd.read_csv(tables / "clinical.csv")
    reference = CoxPHFitter(penalizer=0.01).fit(clinical[["age", "highGrade", "time", "event"]], "time", "event")
    np.testing.assert_allclose(coefficients.set_index("covariate")["hr"], reference.hazard_ratios_, rtol=1e-9)
    cindex = pd.read_csv(out / "cindex.csv").iloc[0]
    assert cindex["cindex"] == pytest.approx(reference.concordance_index_, rel=1e-12)
    risk = pd.read_csv(out / "risk_groups.csv")
    assert len(risk) == 60 and (risk["risk_group"] == "high risk").sum() == 30
    assert {"ph_test.csv", "risk_km.png", "risk_km.svg", "risk_logrank.csv"} <= {p.name for p in out.iterdir()}


def test_signature_then_cluster(tables, tmp_path, capsys):
    signature = tmp_path / "signature"
    status, printed, _ = _run(
        [
            "signature",
            "--features",
            tables / "features.csv",
            "--correlation-threshold",
            "0.9",
            "--factors",
            "2",
            "--out",
            signature,
        ],
        capsys,
    )
    assert status == 0
    selection = pd.read_csv(signature / "selection.csv").set_index("feature")
    assert selection.loc["T1c_shape_Flat", "step"] == "variance"
    pair = selection.loc[["T1c_firstorder_Mean", "T1c_firstorder_Median"], "step"]
    assert sorted(pair) == ["correlation", "kept"]  # r ≈ 0.99: one of the pair is dropped
    kept = pd.read_csv(signature / "kept_features.csv")["feature"].tolist()
    assert kept == list(selection.index[selection["step"] == "kept"]) and len(kept) == 3
    assert pd.read_csv(signature / "loadings.csv")["feature"].tolist() == kept
    scores = pd.read_csv(signature / "scores.csv")
    assert list(scores.columns) == ["patient", "factor1", "factor2"] and len(scores) == 60

    out = tmp_path / "cluster"
    status, printed, _ = _run(
        [
            "cluster",
            "--features",
            signature / "scores.csv",
            "--clinical",
            tables / "clinical.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--k",
            "3",
            "--out",
            out,
        ],
        capsys,
    )
    assert status == 0 and "3 clusters" in printed
    clusters = pd.read_csv(out / "clusters.csv")
    assert sorted(clusters["cluster"].unique()) == [0, 1, 2] and clusters["silhouette"].between(-1, 1).all()
    assert len(pd.read_csv(out / "logrank.csv")) == 4  # overall and three pairs
    assert {"km.png", "km.svg", "median.csv", "silhouette.csv"} <= {p.name for p in out.iterdir()}


def test_signature_with_lasso_and_rfe(tables, tmp_path, capsys):
    base = ["signature", "--features", tables / "features.csv", "--factors", "0", "--clinical", tables / "clinical.csv"]
    status, printed, _ = _run(
        [*base, "--select", "rfe", "--keep", "1", "--target", "highGrade", "--out", tmp_path / "rfe"], capsys
    )
    assert status == 0 and "by rfe, 1 kept" in printed
    selection = pd.read_csv(tmp_path / "rfe" / "selection.csv").set_index("feature")
    assert sorted(selection.loc[selection["step"].isin(["kept", "rfe"]), "supervised"]) == [1, 2, 3]
    assert not (tmp_path / "rfe" / "loadings.csv").exists()
    status, printed, _ = _run(
        [
            *base,
            "--select",
            "lasso",
            "--time",
            "time",
            "--event",
            "event",
            "--penalizer",
            "0.05",
            "--out",
            tmp_path / "lasso",
        ],
        capsys,
    )
    assert status == 0 and "by lasso" in printed
    selection = pd.read_csv(tmp_path / "lasso" / "selection.csv").set_index("feature")
    assert set(selection["step"]) <= {"kept", "lasso", "variance", "correlation"}
    assert (selection.loc[selection["step"] == "kept", "supervised"].abs() >= 1e-3).all()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["signature", "--features", "{t}/features.csv", "--target", "grade"], "only apply with --select"),
        (
            [
                "signature",
                "--features",
                "{t}/features.csv",
                "--select",
                "rfe",
                "--clinical",
                "{t}/clinical.csv",
                "--target",
                "highGrade",
            ],
            "needs --keep N",
        ),
        (
            [
                "signature",
                "--features",
                "{t}/features.csv",
                "--select",
                "lasso",
                "--clinical",
                "{t}/clinical.csv",
                "--time",
                "time",
            ],
            "either --time and --event",
        ),
        (["km", "--table", "{t}/clinical.csv", "--time", "months", "--event", "event"], "no --time column 'months'"),
        (["km", "--table", "{t}/nope.csv", "--time", "time", "--event", "event"], "Survival table not found"),
        (["km", "--table", "{t}/clinical.csv", "--time", "time", "--event", "age"], "0 \\(censored\\) or 1"),
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--covariates", "grade"],
            "must be numeric",
        ),
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--covariates", "weight"],
            "no covariate column\\(s\\) weight",
        ),
        (["signature", "--features", "{t}/features.csv", "--factors", "9"], "9 factors asked for but only"),
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--bootstrap", "-1"],
            "--bootstrap is -1",
        ),
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--l1-ratio", "2"],
            "--l1-ratio is 2.0",
        ),
        (
            ["km", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--group", "stage"],
            "no --group column 'stage'",
        ),
        (
            [
                "cluster",
                "--features",
                "{t}/features.csv",
                "--clinical",
                "{t}/clinical.csv",
                "--time",
                "time",
                "--event",
                "event",
            ],
            "constant over the 60 patients: T1c_shape_Flat",
        ),
        (
            [
                "cluster",
                "--features",
                "{t}/features.csv",
                "--clinical",
                "{t}/clinical.csv",
                "--time",
                "time",
                "--event",
                "event",
                "--drop-constant",
                "--k",
                "61",
            ],
            "OutcomeConfig.numberOfClusters is 61",
        ),
        # the Survival panel's config: the same refusals as the panel
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--risk-percentile", "100"],
            "SurvivalConfig.riskPercentile is 100.0",
        ),
        (["km", "--table", "{t}/clinical.csv", "--time", "time", "--event", "time"], "both 'time'"),
        (
            ["cox", "--table", "{t}/clinical.csv", "--time", "time", "--event", "event", "--covariates", "age,age"],
            "lists a column twice",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tables, tmp_path, capsys, argv, message):
    import re

    out = tmp_path / "out"
    status, printed, error = _run([a.format(t=tables) for a in argv] + ["--out", out], capsys)
    assert status == 2 and not out.exists() and list(tmp_path.iterdir()) == []
    assert len(error.strip().splitlines()) == 1 and re.search(message, error), error


def test_all_censored_km_is_fine_and_cox_refused(tables, tmp_path, capsys):
    censored = pd.read_csv(tables / "clinical.csv").assign(event=0)
    censored.to_csv(tmp_path / "censored.csv", index=False)
    status, printed, _ = _run(
        [
            "km",
            "--table",
            tmp_path / "censored.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--group",
            "grade",
            "--out",
            tmp_path / "km",
        ],
        capsys,
    )
    assert status == 0 and "log-rank undefined: no events" in printed
    assert pd.read_csv(tmp_path / "km" / "logrank.csv")["p"].isna().all()
    status, _, error = _run(
        [
            "cox",
            "--table",
            tmp_path / "censored.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--covariates",
            "age",
            "--out",
            tmp_path / "cox",
        ],
        capsys,
    )
    assert status == 2 and "undefined: no events" in error and not (tmp_path / "cox").exists()


def test_existing_output_folder_is_not_touched(tables, tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    status, _, error = _run(
        ["km", "--table", tables / "clinical.csv", "--time", "time", "--event", "event", "--out", out], capsys
    )
    assert status == 2 and "is not empty" in error and [p.name for p in out.iterdir()] == ["keep.txt"]


def test_one_patient_per_cluster_silhouette_undefined(tmp_path, capsys):
    clinical, latent = virtualClinical(4)
    clinical.to_csv(tmp_path / "c.csv", index=False)
    syntheticFeatures(clinical, latent).drop(columns="T1c_shape_Flat").to_csv(tmp_path / "f.csv", index=False)
    status, printed, _ = _run(
        [
            "cluster",
            "--features",
            tmp_path / "f.csv",
            "--clinical",
            tmp_path / "c.csv",
            "--time",
            "time",
            "--event",
            "event",
            "--k",
            "4",
            "--out",
            tmp_path / "out",
        ],
        capsys,
    )
    assert status == 0 and "silhouette undefined" in printed
    silhouette = pd.read_csv(tmp_path / "out" / "silhouette.csv").iloc[0]
    assert np.isnan(silhouette["mean_silhouette"]) and "one patient per cluster" in silhouette["note"]
