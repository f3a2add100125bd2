"""A run folder says whether its run finished: ``run-complete.json`` is written last and checked against the
results it records."""

from __future__ import annotations

import json

import pandas as pd
from runFolderFixture import CASES, copyRunFolder, runFolder  # noqa: F401

from VirtualBiopsy.cohort.report import buildReport
from VirtualBiopsy.cohort.runCompletion import COMPLETE_FILE, markRunIncomplete, runCompletion

NOTICE = "This run has not finished"


def test_a_finished_run_records_its_counts_and_result_hashes(runFolder):  # noqa: F811
    record = runCompletion(runFolder)
    assert record is not None
    assert (record["cases"], record["done"], record["failed"]) == (CASES + 1, CASES, 1)
    analyses = pd.read_csv(runFolder / "cohort" / "analyses.csv")
    assert record["analysesFailed"] == list(analyses.loc[analyses["status"] == "failed", "analysis"])
    assert record["report"] is False
    assert set(record["results"]) >= {"features.csv", "failures.csv", "provenance.json", "cohort/analyses.csv"}


def test_a_changed_or_missing_result_makes_the_run_incomplete(runFolder, tmp_path):  # noqa: F811
    changed = copyRunFolder(runFolder, tmp_path / "changed")
    with open(changed / "features.csv", "a", encoding="utf-8") as stream:
        stream.write("\n")
    assert runCompletion(changed) is None
    missing = copyRunFolder(runFolder, tmp_path / "missing")
    (missing / "cohort" / "analyses.csv").unlink()
    assert runCompletion(missing) is None
    corrupt = copyRunFolder(runFolder, tmp_path / "corrupt")
    (corrupt / COMPLETE_FILE).write_text("{not json", encoding="utf-8")
    assert runCompletion(corrupt) is None


def test_the_report_says_when_a_run_has_not_finished(runFolder, tmp_path):  # noqa: F811
    finished = copyRunFolder(runFolder, tmp_path / "finished")
    assert NOTICE not in buildReport(finished).read_text(encoding="utf-8")
    stopped = copyRunFolder(runFolder, tmp_path / "stopped")
    markRunIncomplete(stopped)
    assert not (stopped / COMPLETE_FILE).exists()
    page = buildReport(stopped).read_text(encoding="utf-8")
    assert NOTICE in page and "Run the same `virtual-biopsy run` command again" in page
    assert json.loads((runFolder / COMPLETE_FILE).read_text(encoding="utf-8"))["done"] == CASES
