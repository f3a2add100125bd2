"""Hostile inputs of the harmonization evaluation: each gets a clear InputError naming the problem."""

import numpy as np
import pytest
from harmonizationTables import siteTables

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.evaluation import (
    downstreamTask,
    parseMethods,
    prepareTables,
    sitePredictability,
)


@pytest.fixture
def tables():
    return siteTables(casesPerSite=4, features=3, seed=8)


def test_a_valid_cohort_is_aligned_on_the_first_table(tables):
    features, clinical = tables
    data = prepareTables(
        {"raw": features, "other": features.iloc[::-1]}, clinical.iloc[::-1], "site", "grade", covariates=["age"]
    )
    assert list(data.tables["other"].index) == list(features["patient"]) == list(data.batch.index)
    assert data.batches == ["SiteA", "SiteB", "SiteC"] and sorted(set(data.task)) == ["HGG", "LGG"]
    assert data.covariates["age"].dtype == np.float64


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f, c: (f, c.assign(site="SiteA")), "Only one batch"),
        (lambda f, c: (f.iloc[:9], c), "single case"),
        (lambda f, c: (f, c.assign(grade=c["grade"].where(c.index != 2))), "empty for patient"),
        (lambda f, c: (f, c.assign(grade=["A", "B", "C"] * 4)), "exactly two"),
        (lambda f, c: (f.assign(f1=f["f1"].astype(object).where(f.index != 1, "high")), c), "not a number"),
        (lambda f, c: (f.assign(f2=f["f2"].where(f.index != 3, np.inf)), c), "missing or infinite"),
        (lambda f, c: (f.assign(f0=f["f0"].where(f.index != 0)), c), "missing or infinite"),
        (lambda f, c: (f.assign(patient=f["patient"].where(f.index != 1, f["patient"][0])), c), "more than once"),
        (lambda f, c: (f, c.drop(columns="site")), "no column"),
        (lambda f, c: (f, c.iloc[1:]), "not in the clinical table"),
        (lambda f, c: (f.drop(columns="patient"), c), "no 'patient' column"),
        (lambda f, c: (f[["patient"]], c), "no feature columns"),
    ],
)
def test_hostile_cohorts_are_refused(tables, change, message):
    features, clinical = change(*tables)
    with pytest.raises(InputError, match=message):
        prepareTables({"raw": features}, clinical, "site", "grade")


def test_tables_of_different_patients_are_refused_naming_them(tables):
    features, clinical = tables
    with pytest.raises(InputError, match=r"same patients.*only in 'other': none; only in the first: P00000"):
        prepareTables({"raw": features, "other": features.iloc[1:]}, clinical, "site", "grade")


@pytest.mark.parametrize("name", ["none", "combat", "1st", "a+b", "with space", ""])
def test_table_names_that_would_clash_with_methods_are_refused(tables, name):
    with pytest.raises(InputError, match="not allowed"):
        prepareTables({"raw": tables[0], name: tables[0]}, tables[1], "site")


@pytest.mark.parametrize(
    "covariates, task, message",
    [
        (["grade"], "grade", "would leak"),
        (["site"], "grade", "also listed"),
        ([], "site", "both 'site'"),
    ],
)
def test_the_task_and_the_batch_are_never_covariates(tables, covariates, task, message):
    with pytest.raises(InputError, match=message):
        prepareTables({"raw": tables[0]}, tables[1], "site", task, covariates=covariates)


def test_unknown_methods_name_the_available_ones(tables):
    data = prepareTables({"raw": tables[0], "nyul": tables[0]}, tables[1], "site", "grade")
    assert parseMethods(None, data) == ["none", "combat", "nyul"]
    assert parseMethods("none, nyul+combat,none", data) == ["none", "nyul+combat"]
    with pytest.raises(InputError, match=r"zscore.*choose from none, combat, nyul, nyul\+combat"):
        parseMethods("none,zscore", data)


def test_constant_features_are_left_out_and_recorded(tables):
    features, clinical = tables
    data = prepareTables({"raw": features.assign(flat=1.0)}, clinical, "site")
    assert "flat" not in data.tables["raw"] and data.dropped == {"raw": ["flat"]}
    with pytest.raises(InputError, match="Every feature"):
        prepareTables({"raw": features[["patient"]].assign(flat=1.0)}, clinical, "site")


def test_downstream_and_site_refuse_impossible_splits(tables):
    data = prepareTables({"raw": tables[0]}, tables[1], "site", "grade")
    with pytest.raises(InputError, match="not two different batches"):
        downstreamTask(data.tables["raw"], data.batch, data.task, pairs=[("SiteA", "SiteZ")])
    oneClass = data.task.where(data.batch != "SiteA", "HGG")
    with pytest.raises(InputError, match="training batch 'SiteA'"):
        downstreamTask(data.tables["raw"], data.batch, oneClass, pairs=[("SiteA", "SiteB")])
    with pytest.raises(InputError, match="test batch 'SiteA'"):
        downstreamTask(data.tables["raw"], data.batch, oneClass, pairs=[("SiteB", "SiteA")])
    with pytest.raises(InputError, match="repeats"):
        sitePredictability(data.tables["raw"], data.batch, repeats=0)
