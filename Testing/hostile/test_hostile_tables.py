"""Hostile tables: numbers written the ways spreadsheets write them never change a result silently.

A survival table whose age covariate matters (:mod:`tablesInputs`) is broken one cell at a time (comma decimals,
units, thousands separators, stray text, signs) and given to every command that reads clinical or feature tables:
each refuses with exit 2, naming the line, column and value and the fix. Read as the user says it is written
(``--decimal ,``, a byte-order mark, quoted cells) it gives the very numbers of the plain file.
"""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest
from hostile import assertRefused, guarded, runCommand
from tablesInputs import survivalRows, withCell, writeImage, writeTable

#: Row 4 of the data is line 6 of the file (header on line 1).
ROW, LINE = 4, 6


def cox(table: pathlib.Path, out: pathlib.Path, *extra: str) -> list:
    return ["outcome", "cox", "--table", table, "--time", "time", "--event", "event", "--bootstrap", "0", *extra]


def commandLine(command: str, table: pathlib.Path, folder: pathlib.Path) -> list:
    """``command`` reading ``table`` (as clinical and, where it takes one, feature table), writing under ``folder``."""
    out = folder / "out"
    both = ["--features", table, "--clinical", table]
    return {
        "cox": [*cox(table, out), "--out", out],
        "km": ["outcome", "km", "--table", table, "--time", "time", "--event", "event", "--out", out],
        "cluster": ["outcome", "cluster", *both, "--time", "time", "--event", "event", "--out", out],
        "signature": ["outcome", "signature", "--features", table, "--out", out],
        "classify": ["outcome", "classify", *both, "--target", "sex", "--out", out],
        "explore": ["explore", *both, "--outcome", "sex", "--out", out],
        "combat": ["combat", "fit", *both, "--batch", "sex", "--out", folder / "combat.json"],
        "run": ["run", "--check", "--manifest", _cohort(folder), "--clinical", table],
    }[command]


def _cohort(folder: pathlib.Path) -> pathlib.Path:
    """Two cases whose ids are the table's first two patients; the manifest beside their images."""
    cohort = folder / "in" / "cohort"
    for patient in ("001", "002"):
        writeImage(cohort / patient / "T1c.nrrd")
        writeImage(cohort / patient / "mask.nrrd")
    manifest = cohort / "manifest.csv"
    manifest.write_text("patient,T1c,mask\n" + "".join(f"{p},{p}/T1c.nrrd,{p}/mask.nrrd\n" for p in ("001", "002")))
    return manifest


def run(tmp_path: pathlib.Path, rows, argv, **writing):
    """Write the table into ``tmp_path/in``, then run ``argv(table)`` guarded (inputs unchanged, no identifier
    leaked into ``tmp_path/out``)."""
    table = writeTable(tmp_path / "in" / "clinical.csv", rows, **writing)
    command = argv(table)
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        return runCommand(*command)


@pytest.fixture(scope="module")
def rows():
    return survivalRows()


@pytest.fixture(scope="module")
def reference(rows, tmp_path_factory):
    """The Cox model of the plain table: its output folder."""
    folder = tmp_path_factory.mktemp("reference")
    table = writeTable(folder / "clinical.csv", rows)
    result = runCommand(*cox(table, folder / "out"), "--out", folder / "out")
    assert result.code == 0, result.output
    return folder / "out"


CELLS = [
    ("age", "63,5", "a comma in a number", "--decimal ,"),
    ("age", "1,234", "a comma in a number", "--decimal ,"),
    ("age", "63 y", "a unit or other text after the number", "write plain numbers"),
    ("age", "12 mm", "a unit or other text after the number", "write plain numbers"),
    ("age", "5%", "a unit or other text after the number", "write plain numbers"),
    ("age", "1 234", "a thousands separator", "write plain numbers"),
    ("age", "1'234", "a thousands separator", "write plain numbers"),
    ("age", "unknown", "text in a column of numbers", "--text-columns COLUMN"),
    ("age", "#N/A", "text in a column of numbers", "leave a cell empty (or NA)"),
    ("age", "<50", "a sign before the number", "write plain numbers"),
    ("age", "−5", "a sign before the number", "write plain numbers"),
    ("time", "12,5", "a comma in a number", "--decimal ,"),
    ("event", "yes", "not 0 (censored) or 1 (event)", "write plain numbers"),
]


@pytest.mark.parametrize(("column", "cell", "reason", "fix"), CELLS, ids=[f"{c}={v}" for c, v, _, _ in CELLS])
def test_cox_refuses_a_number_written_another_way(rows, tmp_path, column, cell, reason, fix):
    broken = withCell(rows, ROW, column, cell)
    result = run(tmp_path, broken, lambda table: [*cox(table, tmp_path / "out"), "--out", tmp_path / "out"])
    assertRefused(result, f"line {LINE}, column {column}: {cell!r}: {reason}", fix, "clinical.csv")
    assert not (tmp_path / "out").exists()


COMMANDS = ["km", "cluster", "signature", "classify", "explore", "combat", "run"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_table_reader_refuses_a_comma_decimal(rows, tmp_path, command):
    broken = withCell(rows, ROW, "age", "63,5")
    result = run(tmp_path, broken, lambda table: commandLine(command, table, tmp_path))
    assertRefused(result, f"line {LINE}, column age: '63,5'", "--decimal ,")
    assert not (tmp_path / "out").exists() and not (tmp_path / "combat.json").exists()


def test_the_testers_comma_file_is_refused_not_modelled_without_age(rows, tmp_path):
    result = run(
        tmp_path, rows, lambda t: [*cox(t, tmp_path / "out"), "--out", tmp_path / "out"], decimal=",", separator=";"
    )
    assertRefused(result, "120 cell(s)", "column age: '", "pass --decimal , if the whole file uses comma decimals")


@pytest.mark.parametrize(
    "writing",
    [{"decimal": ",", "separator": ";"}, {"decimal": ",", "separator": ","}, {"bom": True}],
    ids=["comma-semicolon", "comma-quoted", "bom"],
)
def test_the_same_table_written_another_way_gives_the_same_cox_model(rows, reference, tmp_path, writing):
    option = ["--decimal", ","] if writing.get("decimal") == "," else []
    out = tmp_path / "out"
    result = run(tmp_path, rows, lambda table: [*cox(table, out), *option, "--out", out], **writing)
    assert result.code == 0, result.output
    for name in ("coefficients.csv", "cindex.csv", "risk_groups.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    coefficients = pd.read_csv(out / "coefficients.csv")
    assert coefficients["covariate"].tolist() == ["age", "grade"], "age is never dropped"
    assert pd.read_csv(out / "risk_groups.csv", dtype=str)["patient"].tolist()[:2] == ["001", "002"]


def test_a_dot_in_a_comma_decimal_file_is_refused(rows, tmp_path):
    broken = withCell(rows, ROW, "age", "63.5")
    table = writeTable(tmp_path / "in" / "clinical.csv", broken, decimal=",", separator=";")
    table.write_text(table.read_text(encoding="utf-8").replace("63,5", "63.5"), encoding="utf-8")
    with guarded([tmp_path / "in"], [tmp_path / "out"]):
        result = runCommand(*cox(table, tmp_path / "out"), "--decimal", ",", "--out", tmp_path / "out")
    assertRefused(result, f"line {LINE}, column age: '63.5': a dot in a number", "--decimal .")


def test_text_columns_left_out_of_default_covariates_are_named(rows, reference, tmp_path):
    out = tmp_path / "out"
    result = run(tmp_path, rows, lambda table: [*cox(table, out), "--out", out])
    assert result.code == 0, result.output
    assert "left out, not numeric: sex, name" in result.stdout
    assert "WARNING" in result.stderr and "text column(s) sex, name left out" in result.stderr
    explicit = runCommand(
        *cox(tmp_path / "in" / "clinical.csv", out), "--covariates", "age,grade", "--out", tmp_path / "b"
    )
    assert explicit.code == 0 and (tmp_path / "b" / "cindex.csv").read_bytes() == (out / "cindex.csv").read_bytes()


def test_a_named_text_covariate_is_refused(rows, tmp_path):
    result = run(
        tmp_path, rows, lambda t: [*cox(t, tmp_path / "out"), "--covariates", "age,sex", "--out", tmp_path / "out"]
    )
    assertRefused(result, "Cox covariates must be numeric; these are not: sex", "Encode them as numbers")


def test_a_category_column_is_read_as_text_when_asked(rows, tmp_path):
    staged = withCell(rows, ROW, "grade", "2a")
    out = tmp_path / "out"
    refused = run(tmp_path, staged, lambda t: [*cox(t, out), "--out", out])
    assertRefused(refused, f"line {LINE}, column grade: '2a'", "--text-columns COLUMN")
    result = run(tmp_path, staged, lambda t: [*cox(t, out), "--text-columns", "grade", "--out", out])
    assert result.code == 0, result.output
    assert "Covariates: age; left out, not numeric: grade, sex, name" in result.stdout


@pytest.mark.parametrize("token", ["NA", "N/A", "null", ""])
def test_missing_covariates_are_refused_not_dropped(rows, tmp_path, token):
    broken = withCell(rows, ROW, "age", token)
    result = run(tmp_path, broken, lambda t: [*cox(t, tmp_path / "out"), "--out", tmp_path / "out"])
    assertRefused(result, "Cox covariate(s) age have missing or infinite values", "impute them")


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("cox", "Patient id(s) 001 repeat in column 'patient'"),
        ("run", "patient listed more than once"),
        ("classify", "more than once"),
    ],
)
def test_duplicate_patients_are_refused(rows, tmp_path, command, words):
    duplicated = withCell(rows, ROW, "patient", "001")
    result = run(tmp_path, duplicated, lambda table: commandLine(command, table, tmp_path))
    assertRefused(result, words)
