"""A run folder laid out as ``docs/cohort-run.md`` says, from real computation on a small virtual cohort.

Eight virtual patients (64³) go through :func:`VirtualBiopsy.cohort.run` (the demo preset with threshold
segmentation and QA against the ground truth, ComBat, signature, clusters, Cox model, classifier comparison and
Shapley values; no CNN), plus a ninth whose FLAIR file is missing, so that it fails the check.

The folder is built once per test session (:func:`runFolder`); tests that change it work on a copy.
"""

from __future__ import annotations

import html
import pathlib
import re
import shutil

import pandas as pd
import pytest

#: Patients of the virtual cohort, and the extra patient that fails (its FLAIR file does not exist).
CASES = 8
FAILING_PATIENT = "VB0009"
SEGMENTATION_SEQUENCE = "FLAIR"

_BUILT: dict[str, pathlib.Path] = {}


@pytest.fixture(scope="session")
def runFolder(tmp_path_factory) -> pathlib.Path:
    """The run folder (built once per session; do not modify it, copy it with :func:`copyRunFolder`)."""
    if "run" not in _BUILT:
        _BUILT["run"] = buildRunFolder(tmp_path_factory.mktemp("runFolder"))
    return _BUILT["run"]


def copyRunFolder(runFolder: pathlib.Path, destination: pathlib.Path) -> pathlib.Path:
    """A copy of the run folder (the images it points to outside the folder are shared)."""
    return pathlib.Path(shutil.copytree(runFolder, destination, symlinks=True))


def pipelineConfig():
    """The demo preset with threshold segmentation (QA against the ground truth), small cross-validation
    settings and no CNN."""
    from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig

    changes = {
        "segment": {"source": "both", "method": "thresholdLargestIsland"},
        "analyses": {
            "classification": {"folds": 3, "repeats": 1, "bootstrapSamples": 100, "trees": 20},
            "cox": {"cindexBootstrap": 20},
            "explanation": {"backgroundSize": 8},
            "deepLearning": {"enabled": False},
        },
    }
    return PipelineConfig.fromDict(changes, PipelineConfig.preset("demo"))


def buildRunFolder(root: pathlib.Path) -> pathlib.Path:
    """Generate the cohort under ``root/input`` (plus the failing patient) and run it into ``root/run`` with
    ``virtual-biopsy run``'s own code, report off; returns the run folder."""
    from VirtualBiopsy.cohort import run
    from VirtualBiopsy.data.virtualCohort import generateCohort

    manifest = generateCohort(root / "input", cases=CASES, seed=0, size=64)
    _addFailingPatient(manifest)
    run(manifest, root / "run", config=pipelineConfig(), report=False)
    return root / "run"


def _addFailingPatient(manifest: pathlib.Path) -> None:
    """A ninth manifest row whose FLAIR file does not exist (the demo pipeline records it as failed)."""
    rows = pd.read_csv(manifest, dtype=str)
    last = rows.iloc[-1].copy()
    last["patient"], last["FLAIR"] = FAILING_PATIENT, f"{FAILING_PATIENT}/FLAIR.nrrd"
    pd.concat([rows, last.to_frame().T]).to_csv(manifest, index=False, lineterminator="\n")
    clinicalPath = manifest.parent / "clinical.csv"
    clinical = pd.read_csv(clinicalPath, dtype=str)
    extra = clinical.iloc[-1].copy()
    extra["patient"] = FAILING_PATIENT
    pd.concat([clinical, extra.to_frame().T]).to_csv(clinicalPath, index=False, lineterminator="\n")


# Reading the report's pages in tests.


def pages(report: pathlib.Path) -> dict[str, str]:
    """Every page of a report folder by its path relative to the folder."""
    return {str(p.relative_to(report)): p.read_text(encoding="utf-8") for p in sorted(report.rglob("*.html"))}


def tableRows(fragment: str) -> list[list[str]]:
    """The rows of the first table in ``fragment``, each a list of its cells' text (tags stripped, unescaped)."""
    table = re.search(r"<table>.*?</table>", fragment, re.S)
    assert table, "no table"
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)
    ]


def section(page: str, anchor: str) -> str:
    """The HTML of the section ``anchor`` of a page."""
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(1)
