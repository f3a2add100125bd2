"""The report of a finished run: every case with its status, failures with reasons, the Kaplan–Meier numbers at
risk, links both ways, and pages that need nothing but themselves."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from runFolderFixture import FAILING_PATIENT, copyRunFolder, pages, runFolder, section, tableRows  # noqa: F401

from VirtualBiopsy.cohort.report import buildReport

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(runFolder, tmp_path_factory):  # noqa: F811
    run = copyRunFolder(runFolder, tmp_path_factory.mktemp("content") / "run")
    index = buildReport(run)
    return run, index.parent, pages(index.parent)


def test_every_case_is_listed_with_its_status(report):
    run, _, found = report
    rows = tableRows(section(found["index.html"], "cases"))
    statuses = {row[0]: row[2] for row in rows[1:]}
    expected = {
        json.loads(p.read_text())["patient"]: json.loads(p.read_text())["status"]
        for p in (run / "cases").glob("*/case.json")
    }
    assert statuses == expected
    assert statuses[FAILING_PATIENT] == "failed" and list(statuses.values()).count("done") == len(expected) - 1


def test_failures_are_shown_with_their_reasons(report):
    run, _, found = report
    failures = pd.read_csv(run / "failures.csv")
    rows = tableRows(section(found["index.html"], "failures"))
    assert rows[1:] == [[p, s, e] for p, s, e in failures[["patient", "stage", "error"]].itertuples(index=False)]
    assert "column FLAIR (VB0009): file not found" in rows[1][2]
    patientPage = found[f"patients/{FAILING_PATIENT}.html"]
    assert "file not found" in patientPage and "No images to show" in patientPage


def test_numbers_at_risk_equal_an_independent_count(report):
    run, _, found = report
    clusters = pd.read_csv(run / "cohort" / "clusters.csv")
    fragment = re.search(r'<div class="at-risk">(.*?)</div>', section(found["index.html"], "survival"), re.S)
    rows = tableRows(fragment.group(1))
    times = [float(t.replace(",", "")) for t in rows[0][1:]]
    assert times[0] == 0 and len(times) >= 3
    for row in rows[1:]:
        members = clusters[clusters["cluster"] == int(row[0].split()[-1])]
        assert [int(v) for v in row[1:]] == [int((members["time"] >= t).sum()) for t in times]


def test_log_rank_p_is_the_librarys(report):
    from lifelines.statistics import multivariate_logrank_test

    run, _, found = report
    clusters = pd.read_csv(run / "cohort" / "clusters.csv")
    p = multivariate_logrank_test(clusters["time"], clusters["cluster"], clusters["event"]).p_value
    assert f"log-rank p = {p:.3g}." in section(found["index.html"], "survival")


def test_analyses_are_shown(report):
    run, _, found = report
    index = found["index.html"]
    coefficients = pd.read_csv(run / "cohort" / "cox" / "coefficients.csv")
    coxRows = tableRows(section(index, "cox").split("Concordance", 1)[1])
    assert [row[0] for row in coxRows[1:]] == list(coefficients["covariate"])
    assert "Cross-validated ROC curves" in section(index, "classification")
    assert "Shapley summary plot" in section(index, "shapley")
    assert "CNN and Grad-CAM: not run (disabled in settings)." in section(index, "gradcam")
    assert "ComBat harmonization: failed: InputError: Batch(es)" in section(index, "harmonization")
    assert "Distribution of Dice and HD95" in section(index, "segmentation-qa")
    patient = found["patients/VB0001.html"]
    assert "Shapley waterfall of VB0001" in patient and "predicted by lr (out of fold)" in patient
    assert "reference mask" not in patient or "VB0001: FLAIR with the tumour outlines" in patient


def test_pages_link_both_ways(report):
    _, folder, found = report
    links = re.findall(r'href="(patients/[^"#]+)"', found["index.html"])
    assert {f"patients/{p.name}" for p in (folder / "patients").glob("*.html")} <= set(links)
    for name, page in found.items():
        if name.startswith("patients/"):
            assert 'href="../index.html"' in page
            for target in re.findall(r'href="([^"#:]+\.html)"', page):
                assert (folder / "patients" / target).resolve().is_file(), (name, target)


def test_pages_are_self_contained(report):
    _, _, found = report
    for name, page in found.items():
        assert "<script" not in page.lower(), name
        sources = re.findall(r'(?:src|href)="([^"]*)"', page)
        assert all(not re.match(r"[a-z]+://", s) for s in sources), name
        assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page)), name
