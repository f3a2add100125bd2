"""The report of partial and broken runs: what exists is shown, what is absent is said with its reason, values
from files are escaped, and a folder that is no run gets an error that says how to fix it."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pandas as pd
import pytest
from runFolderFixture import FAILING_PATIENT, copyRunFolder, pages, runFolder, section  # noqa: F401

from VirtualBiopsy.cli import main
from VirtualBiopsy.cohort.report import buildReport
from VirtualBiopsy.errors import InputError

pytestmark = pytest.mark.slow


def trimmedCopy(runFolder, destination, keep=("VB0001", "VB0002", FAILING_PATIENT)):  # noqa: F811
    """A copy of the run with only the ``keep`` case folders (fewer pages to draw)."""
    run = copyRunFolder(runFolder, destination)
    for folder in (run / "cases").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder)
    return run


def test_a_run_without_cohort_outputs(runFolder, tmp_path):  # noqa: F811
    run = trimmedCopy(runFolder, tmp_path / "run")
    for name in ("cohort", "features.csv", "failures.csv", "segmentation-qa.csv", "check.csv", "provenance.json"):
        target = run / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    (run / "cases" / "VB0002" / "case.json").unlink()
    index = buildReport(run)
    found = pages(index.parent)
    page = found["index.html"]
    assert "Cox model: not run yet (cohort/analyses.csv is absent" in page
    assert "Classifier comparison: not run yet" in page and "Shapley values: not run yet" in page
    assert "check.csv is absent" in page and "failures.csv is absent" in page
    assert "Clusters and Kaplan–Meier: not run yet (cohort/analyses.csv is absent" in page
    assert "Segmentation QA: segmentation-qa.csv is absent." in page
    assert "case.json is absent" in section(page, "cases")
    # features come from the cases' own tables while the cohort table does not exist yet
    assert "cases with features" in section(page, "features")
    assert set(found) == {
        "index.html",
        "patients/VB0001.html",
        "patients/VB0002.html",
        f"patients/{FAILING_PATIENT}.html",
    }
    assert "Classifier prediction: not run yet" in found["patients/VB0001.html"]


def test_failed_and_missing_analyses_say_why(runFolder, tmp_path):  # noqa: F811
    run = trimmedCopy(runFolder, tmp_path / "run")
    analyses = pd.read_csv(run / "cohort" / "analyses.csv")
    analyses["error"] = analyses["error"].astype(object)
    analyses.loc[analyses["analysis"] == "cox", ["status", "error"]] = ["failed", "InputError: too few events <3>"]
    analyses.to_csv(run / "cohort" / "analyses.csv", index=False)
    shutil.rmtree(run / "cohort" / "classification")
    (run / "pipeline.yaml").unlink()
    page = pages(buildReport(run).parent)["index.html"]
    assert "Cox model: failed: InputError: too few events &lt;3&gt; (from cohort/analyses.csv)." in page
    assert "Classifier comparison: output missing (cohort/classification/performance.csv not found)." in page
    assert "pipeline.yaml is absent" in page
    assert "CNN and Grad-CAM: not run (not listed in cohort/analyses.csv)." in page


def test_values_from_files_are_escaped(runFolder, tmp_path):  # noqa: F811
    run = trimmedCopy(runFolder, tmp_path / "run")
    strange = "VB<b>10&\"'"
    caseFolder = run / "cases" / strange
    caseFolder.mkdir()
    summary = json.loads((run / "cases" / FAILING_PATIENT / "case.json").read_text())
    summary.update(patient=strange, error="<script>alert('error')</script>", domainWarnings=["spacing <0.5 mm> & odd"])
    (caseFolder / "case.json").write_text(json.dumps(summary))
    failures = pd.read_csv(run / "failures.csv")
    failures.loc[len(failures)] = [strange, "segment", "<img src=x onerror=alert(1)>"]
    failures.to_csv(run / "failures.csv", index=False)
    features = pd.read_csv(run / "features.csv").rename(columns={"T1c_original_glcm_ClusterProminence": "T1c_<i>x</i>"})
    features.to_csv(run / "features.csv", index=False)
    found = pages(buildReport(run).parent)
    for name, page in found.items():
        assert "<script>" not in page and "<img src=x" not in page and "VB<b>10" not in page and "<i>x" not in page, (
            name
        )
    index = found["index.html"]
    assert "&lt;script&gt;alert(&#x27;error&#x27;)&lt;/script&gt;" in index
    assert "VB&lt;b&gt;10&amp;&quot;&#x27;" in index and "spacing &lt;0.5 mm&gt; &amp; odd" in index
    assert "T1c_&lt;i&gt;x&lt;/i&gt;" in index
    assert len([n for n in found if n.startswith("patients/VB_b_10")]) == 1


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(InputError, match="is not a run folder: it has neither run.json nor a cases/ folder"):
        buildReport(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        buildReport(tmp_path / "absent")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert main(["report", str(tmp_path)]) == 2
    assert "virtual-biopsy report: error:" in stderr.getvalue() and "--out folder" in stderr.getvalue()
    assert not (tmp_path / "report").exists()
