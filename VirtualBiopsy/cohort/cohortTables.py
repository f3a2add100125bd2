"""The cohort tables of a run, rebuilt from the per-case results every time (never appended in place).

``features.csv`` (done cases, manifest order), ``failures.csv`` and ``segmentation-qa.csv``; each written
atomically, so a killed run leaves the previous complete table or the new one.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pandas as pd

from VirtualBiopsy.cohort.caseSteps import readCaseFeatures
from VirtualBiopsy.files import writeTextAtomically

FAILURE_COLUMNS = ["patient", "stage", "error"]
QA_COLUMNS = ["patient", "dice", "hausdorff95Mm", "volumeMm3", "referenceVolumeMm3"]


def readCaseSummaries(runFolder: pathlib.Path, patients: list[str]) -> dict[str, dict[str, Any]]:
    """``case.json`` of each of ``patients`` that has one, in that order."""
    summaries = {}
    for patient in patients:
        path = runFolder / "cases" / patient / "case.json"
        if path.is_file():
            summaries[patient] = json.loads(path.read_text(encoding="utf-8"))
    return summaries


def writeCohortTables(runFolder: pathlib.Path, summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Write ``features.csv``, ``failures.csv`` and ``segmentation-qa.csv`` of the run, rows in manifest order.

    :param summaries: every patient's case summary (those that failed the check included), in manifest order.
    :returns: the features, one row per done case with features (index ``patient``).
    """
    rows, failed, quality = {}, [], []
    for patient, summary in summaries.items():
        if summary.get("status") == "done" and summary.get("features"):
            rows[patient] = readCaseFeatures(runFolder / summary["features"])
        elif summary.get("status") == "failed":
            failed.append([patient, summary.get("failedStage") or "", summary.get("error") or ""])
        if summary.get("dice") is not None or summary.get("referenceVolumeMm3") is not None:
            quality.append([patient, *(summary.get(column) for column in QA_COLUMNS[1:])])
    features = pd.DataFrame.from_dict(rows, orient="index").rename_axis("patient")
    writeTextAtomically(features.to_csv(float_format="%.17g"), runFolder / "features.csv")
    writeTextAtomically(pd.DataFrame(failed, columns=FAILURE_COLUMNS).to_csv(index=False), runFolder / "failures.csv")
    qa = pd.DataFrame(quality, columns=QA_COLUMNS)
    if not qa.empty:
        writeTextAtomically(qa.to_csv(index=False, float_format="%.6g"), runFolder / "segmentation-qa.csv")
    else:
        (runFolder / "segmentation-qa.csv").unlink(missing_ok=True)
    return features
