"""``virtual-biopsy combat fit|apply`` on small CSV files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from combatCohort import DATA, referenceCohort, svaResult

from VirtualBiopsy.cli import main
from VirtualBiopsy.harmonize.combat import ComBatModel, fitAndHarmonize


@pytest.fixture
def tables(tmp_path):
    """The reference cohort with a ``label`` and a text column among the features, and a clinical table
    with other columns and its rows in another order."""
    features = pd.read_csv(DATA / "features.csv", dtype=str)
    features.insert(1, "label", "1")
    features["note"] = ["first", *[""] * 34, "last, quoted"]
    clinical = pd.read_csv(DATA / "clinical.csv", dtype=str).assign(event="0").iloc[::-1]
    features.to_csv(tmp_path / "features.csv", index=False)
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    return tmp_path / "features.csv", tmp_path / "clinical.csv"


def _fit(features, clinical, out, *options):
    return main(
        [
            "combat",
            "fit",
            "--features",
            str(features),
            "--clinical",
            str(clinical),
            "--batch",
            "site",
            "--covariates",
            "age,grade",
            "--pass-through",
            "label,note",
            *options,
            "--out",
            str(out),
        ]
    )


def _apply(model, features, clinical, out, *options):
    return main(
        [
            "combat",
            "apply",
            "--model",
            str(model),
            "--features",
            str(features),
            "--clinical",
            str(clinical),
            *options,
            "--out",
            str(out),
        ]
    )


def test_fit_then_apply_keeps_columns_rows_and_pass_through_text(tables, tmp_path, capsys):
    features, clinical = tables
    assert _fit(features, clinical, tmp_path / "model.json") == 0
    assert _apply(tmp_path / "model.json", features, clinical, tmp_path / "harmonized.csv") == 0
    assert "Harmonized 36 row(s), 10 features" in capsys.readouterr().out
    before = pd.read_csv(features, dtype=str, keep_default_na=False)
    after = pd.read_csv(tmp_path / "harmonized.csv", dtype=str, keep_default_na=False)
    assert list(after.columns) == list(before.columns)
    pd.testing.assert_frame_equal(after[["patient", "label", "note"]], before[["patient", "label", "note"]])
    expected = fitAndHarmonize(*referenceCohort())[1]
    np.testing.assert_allclose(after[expected.columns].astype(float).to_numpy(), expected.to_numpy(), rtol=1e-10)
    assert ComBatModel.load(tmp_path / "model.json").batchName == "site"


@pytest.mark.parametrize(
    "variant,options", [("reference", ["--reference-batch", "B"]), ("nonparametric", ["--method", "nonparametric"])]
)
def test_cli_matches_sva(tables, tmp_path, variant, options):
    features, clinical = tables
    assert _fit(features, clinical, tmp_path / "model.json", *options) == 0
    assert _apply(tmp_path / "model.json", features, clinical, tmp_path / "out.csv") == 0
    expected = svaResult(variant)
    result = pd.read_csv(tmp_path / "out.csv", dtype={"patient": str}).set_index("patient")[expected.columns]
    np.testing.assert_allclose(result.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_one_new_patient_per_file(tables, tmp_path):
    features, clinical = tables
    assert _fit(features, clinical, tmp_path / "model.json") == 0
    assert _apply(tmp_path / "model.json", features, clinical, tmp_path / "all.csv") == 0
    everyone = pd.read_csv(tmp_path / "all.csv", dtype={"patient": str}).set_index("patient")
    table = pd.read_csv(features, dtype=str, keep_default_na=False)
    for row in (0, 20, 35):
        table.iloc[[row]].to_csv(tmp_path / f"one{row}.csv", index=False)
        assert _apply(tmp_path / "model.json", tmp_path / f"one{row}.csv", clinical, tmp_path / f"out{row}.csv") == 0
        one = pd.read_csv(tmp_path / f"out{row}.csv", dtype={"patient": str}).set_index("patient")
        assert len(one) == 1
        np.testing.assert_allclose(
            one.iloc[0, 1:-1].astype(float), everyone.loc[one.index[0]].iloc[1:-1].astype(float), rtol=1e-10
        )


def test_unseen_batch_fallback_leaves_rows_as_they_were(tables, tmp_path):
    features, clinical = tables
    assert _fit(features, clinical, tmp_path / "model.json") == 0
    table = pd.read_csv(clinical, dtype=str)
    table.loc[table.patient.isin(["VC001", "VC002"]), "site"] = "D"
    table.to_csv(tmp_path / "newsite.csv", index=False)
    assert (
        _apply(
            tmp_path / "model.json",
            features,
            tmp_path / "newsite.csv",
            tmp_path / "out.csv",
            "--unseen-batch",
            "reference",
        )
        == 0
    )
    before = pd.read_csv(features, dtype=str, keep_default_na=False)
    after = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(after.iloc[:2], before.iloc[:2])
    assert (after.iloc[2:, 2:12] != before.iloc[2:, 2:12]).all().all()


def _edited(path, target, edit):
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table)
    table.to_csv(target, index=False)
    return target


FIT_PROBLEMS = {
    "no batch column": (lambda f, c, d: ([], ["--batch", "scanner"]), "no column scanner"),
    "unknown covariate": (lambda f, c, d: ([], ["--covariates", "age,sex"]), "no column sex"),
    "empty feature cell": (
        lambda f, c, d: (
            [("features", _edited(f, d / "f.csv", lambda t: t.__setitem__("feature02", ["", *t.feature02[1:]])))],
            [],
        ),
        r"missing or infinite value\(s\) in feature\(s\) feature02 \(rows VC001\)",
    ),
    "text feature": (lambda f, c, d: ([], ["--pass-through", "label"]), r"'note' holds text that is not a number"),
    "batch of one": (
        lambda f, c, d: (
            [("clinical", _edited(c, d / "c.csv", lambda t: t.__setitem__("site", ["Z", *t.site[1:]])))],
            [],
        ),
        r"'Z' \(1 case\) have a single case",
    ),
    "missing covariate": (
        lambda f, c, d: ([("clinical", _edited(c, d / "c.csv", lambda t: t.__setitem__("age", ["", *t.age[1:]])))], []),
        r"Covariate 'age' is missing for row\(s\) VC036",
    ),
    "unknown patient": (
        lambda f, c, d: ([("clinical", _edited(c, d / "c.csv", lambda t: t.drop(index=5, inplace=True)))], []),
        r"Patient\(s\) VC031 of the feature table are not in the clinical",
    ),
    "repeated patient": (
        lambda f, c, d: (
            [("clinical", _edited(c, d / "c.csv", lambda t: t.__setitem__("patient", ["VC002", *t.patient[1:]])))],
            [],
        ),
        r"lists patient\(s\) VC002 more than once",
    ),
    "unknown reference": (lambda f, c, d: ([], ["--reference-batch", "Q"]), "reference batch 'Q' is not among"),
    "missing file": (lambda f, c, d: ([("features", d / "absent.csv")], []), "Feature table not found"),
    "batch as covariate": (
        lambda f, c, d: ([], ["--covariates", "site"]),
        "combatCovariates includes the batch column 'site'",
    ),
}


@pytest.mark.parametrize("problem", FIT_PROBLEMS)
def test_fit_bad_input_exits_2_with_one_line_and_writes_nothing(tables, tmp_path, capsys, problem):
    features, clinical = tables
    edit, message = FIT_PROBLEMS[problem]
    work = tmp_path / "edits"
    work.mkdir()
    replaced, extra = edit(features, clinical, work)
    paths = {"features": features, "clinical": clinical, **dict(replaced)}
    listing = sorted(p.name for p in tmp_path.rglob("*"))
    capsys.readouterr()
    assert _fit(paths["features"], paths["clinical"], tmp_path / "model.json", *extra) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("virtual-biopsy combat: error: ")
    assert re.search(message, error), error
    assert sorted(p.name for p in tmp_path.rglob("*")) == listing


def test_apply_bad_input_exits_2_with_one_line_and_writes_nothing(tables, tmp_path, capsys):
    features, clinical = tables
    assert _fit(features, clinical, tmp_path / "model.json") == 0
    (tmp_path / "exists.csv").write_text("keep me")
    problems = [
        ([tmp_path / "absent.json", features, clinical, tmp_path / "out.csv"], "not found"),
        (
            [
                tmp_path / "model.json",
                features,
                _edited(clinical, tmp_path / "d.csv", lambda t: t.__setitem__("site", ["D", *t.site[1:]])),
                tmp_path / "out.csv",
            ],
            r"Batch\(es\) D were not in the ComBat fit",
        ),
        (
            [
                tmp_path / "model.json",
                features,
                _edited(clinical, tmp_path / "g.csv", lambda t: t.__setitem__("grade", ["medium", *t.grade[1:]])),
                tmp_path / "out.csv",
            ],
            r"level\(s\) medium",
        ),
        (
            [
                tmp_path / "model.json",
                _edited(features, tmp_path / "f.csv", lambda t: t.drop(columns="feature03", inplace=True)),
                clinical,
                tmp_path / "out.csv",
            ],
            r"lacks the model's feature\(s\) feature03",
        ),
        ([tmp_path / "model.json", features, clinical, tmp_path / "exists.csv"], "exists already"),
        ([tmp_path / "model.json", features, clinical, tmp_path / "out.txt"], "must name a .csv file"),
        ([features, features, clinical, tmp_path / "out.csv"], "not valid JSON"),
    ]
    listing = sorted(p.name for p in tmp_path.iterdir())
    for arguments, message in problems:
        capsys.readouterr()
        assert _apply(*arguments) == 2, message
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and re.search(message, error), error
        assert sorted(p.name for p in tmp_path.iterdir()) == listing
    assert (tmp_path / "exists.csv").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("words", [["combat", "--help"], ["combat", "fit", "--help"], ["combat", "apply", "--help"]])
def test_help(words, capsys):
    with pytest.raises(SystemExit) as stop:
        main(words)
    assert stop.value.code == 0 and "--" in capsys.readouterr().out


def test_typed_tables_and_csv_text_name_batches_alike():
    """A table node's numbers (field strength 3.0) and a CSV file's text ('3') are the same batch."""
    from VirtualBiopsy.harmonize.combat.cohortTables import fitTables, harmonizeTable

    features = pd.read_csv(DATA / "features.csv", dtype={"patient": str})
    clinical = pd.read_csv(DATA / "clinical.csv", dtype={"patient": str})
    clinical["tesla"] = clinical.site.map({"A": 1.5, "B": 3.0, "C": 3.0})
    model = fitTables(features, clinical, "tesla", ["age", "grade"])
    assert model.batches == ("1.5", "3") and model.batchName == "tesla"
    asText = clinical.astype(str).assign(tesla=clinical.tesla.map({1.5: "1.5", 3.0: "3"}))
    fromText = harmonizeTable(model, features.astype(str), asText)
    fromNumbers = harmonizeTable(model, features, clinical)
    np.testing.assert_array_equal(fromText.iloc[:, 1:].astype(float).to_numpy(), fromNumbers.iloc[:, 1:].to_numpy())


def test_numbers_read_from_text_are_exact_and_non_numbers_named():
    from VirtualBiopsy.harmonize.combat.cohortTables import parseNumbers

    generator = np.random.default_rng(1)
    exact = generator.normal(0, 1e3, 2000)
    numbers, bad = parseNumbers(pd.Series([repr(float(value)) for value in exact]))
    assert np.array_equal(numbers, exact) and bad.empty  # pandas.to_numeric misses some by one ulp
    numbers, bad = parseNumbers(pd.Series([" 2.5 ", "", None, "1_000", "abc", True, 7, np.nan]))
    assert numbers[0] == 2.5 and numbers[6] == 7.0 and np.isnan(numbers[[1, 2, 3, 4, 5, 7]]).all()
    assert bad.index.tolist() == [3, 4, 5]
