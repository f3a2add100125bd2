"""Everything the report reads from a run folder (``docs/cohort-run.md``), in one place and one dataclass.

Reading never fails on a missing or unreadable piece: the field is ``None`` (or empty) and :attr:`RunFolder.problems`
says why a file that exists could not be read. Paths are relative to the run folder.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from dataclasses import dataclass, field

import pandas as pd

from VirtualBiopsy.cohort.runCompletion import runCompletion
from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

#: The files and folders the report reads, relative to the run folder.
RUN_JSON = "run.json"
SETTINGS = "pipeline.yaml"
CHECK = "check.csv"
FAILURES = "failures.csv"
FEATURES = "features.csv"
SEGMENTATION_QA = "segmentation-qa.csv"
PROVENANCE = "provenance.json"
CASES = "cases"
COMBAT_FEATURES = "cohort/features-combat.csv"
CLUSTERS = "cohort/clusters.csv"
ANALYSES = "cohort/analyses.csv"
COX = "cohort/cox"
CLASSIFICATION = "cohort/classification"
GRADCAM = "cohort/gradcam"
COX_FILES = ("coefficients.csv", "cindex.csv", "ph_test.csv", "risk_groups.csv")
CLASSIFICATION_FILES = ("performance.csv", "roc.csv", "predictions.csv", "shap.csv", "permutation_importance.csv")


@dataclass
class CaseRecord:
    """One ``cases/<patient>/case.json``: ``summary`` as written, or empty with ``problem`` when unreadable."""

    patient: str
    summary: dict = field(default_factory=dict)
    problem: str = ""

    @property
    def status(self) -> str:
        """``done``, ``failed``, another status the run wrote, or ``unknown`` (unreadable ``case.json``)."""
        return str(self.summary.get("status") or "unknown")


@dataclass
class RunFolder:
    """The run folder's contents that the report shows; ``None`` where a file is absent or unreadable."""

    folder: pathlib.Path
    run: dict | None = None
    settings: dict | None = None
    provenance: dict | None = None
    cases: list[CaseRecord] = field(default_factory=list)
    checks: pd.DataFrame | None = None
    failures: pd.DataFrame | None = None
    features: pd.DataFrame | None = None
    combatFeatures: pd.DataFrame | None = None
    segmentationQa: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    analyses: pd.DataFrame | None = None
    cox: dict[str, pd.DataFrame] = field(default_factory=dict)
    classification: dict[str, pd.DataFrame] = field(default_factory=dict)
    classificationProvenance: dict | None = None
    explanation: dict | None = None
    gradCam: pd.DataFrame | None = None
    problems: dict[str, str] = field(default_factory=dict)
    complete: bool = False

    def path(self, relative: str | None) -> pathlib.Path | None:
        """An absolute path for a path the run wrote (relative to the run folder, or absolute)."""
        if not relative:
            return None
        path = pathlib.Path(relative)
        return path if path.is_absolute() else self.folder / path

    def case(self, patient: str) -> CaseRecord | None:
        """The case of ``patient``, if the run folder has one."""
        return next((case for case in self.cases if case.patient == patient), None)


@dataclass
class ShapleyTable:
    """``cohort/classification/shap.csv`` split: per patient the features' values, the base value and the output."""

    values: pd.DataFrame
    baseValue: pd.Series
    modelOutput: pd.Series


def shapleyTable(run: RunFolder) -> ShapleyTable | None:
    """The Shapley values of the run (``None`` when ``shap.csv`` is absent or has no ``patient`` column)."""
    table = run.classification.get("shap")
    if table is None or "patient" not in table.columns:
        return None
    table = table.set_index(table["patient"].astype(str)).drop(columns=["patient"])
    extra = [c for c in ("base_value", "model_output") if c in table.columns]
    values = table.drop(columns=extra).apply(pd.to_numeric, errors="coerce")
    empty = pd.Series(float("nan"), index=table.index)
    return ShapleyTable(
        values,
        pd.to_numeric(table["base_value"], errors="coerce") if "base_value" in table else empty,
        pd.to_numeric(table["model_output"], errors="coerce") if "model_output" in table else empty,
    )


def requireRunFolder(folder: str | os.PathLike) -> pathlib.Path:
    """``folder`` as an absolute path after checking that it holds a run.

    :raises InputError: when it does not exist, is a file, or has neither ``run.json`` nor ``cases/``.
    """
    folder = pathlib.Path(folder).expanduser().absolute()
    if not folder.exists():
        raise InputError(f"The run folder {folder} does not exist; give the --out folder of `virtual-biopsy run`.")
    if not folder.is_dir():
        raise InputError(f"{folder} is a file, not a run folder; give the --out folder of `virtual-biopsy run`.")
    if not (folder / RUN_JSON).is_file() and not (folder / CASES).is_dir():
        raise InputError(
            f"{folder} is not a run folder: it has neither {RUN_JSON} nor a {CASES}/ folder. Give the --out folder "
            "of `virtual-biopsy run` (start a run there first if it has none)."
        )
    return folder


def readRunFolder(folder: str | os.PathLike) -> RunFolder:
    """Read what exists of a finished or partial run.

    :raises InputError: when ``folder`` is not a run folder (see :func:`requireRunFolder`).
    """
    run = RunFolder(requireRunFolder(folder))
    run.run = _json(run, RUN_JSON)
    run.settings = _yaml(run, SETTINGS)
    run.provenance = _json(run, PROVENANCE)
    run.cases = _cases(run)
    run.checks = _csv(run, CHECK)
    run.failures = _csv(run, FAILURES)
    run.features = _csv(run, FEATURES, index="patient") if (run.folder / FEATURES).is_file() else _caseFeatures(run)
    run.combatFeatures = _csv(run, COMBAT_FEATURES, index="patient")
    run.segmentationQa = _csv(run, SEGMENTATION_QA)
    run.clusters = _csv(run, CLUSTERS)
    run.analyses = _csv(run, ANALYSES)
    run.cox = _tables(run, COX, COX_FILES)
    run.classification = _tables(run, CLASSIFICATION, CLASSIFICATION_FILES)
    run.classificationProvenance = _json(run, f"{CLASSIFICATION}/provenance.json")
    run.explanation = _json(run, f"{CLASSIFICATION}/explanation.json")
    run.gradCam = _csv(run, f"{GRADCAM}/gradcam.csv")
    run.complete = runCompletion(run.folder) is not None
    return run


def _cases(run: RunFolder) -> list[CaseRecord]:
    folder = run.folder / CASES
    if not folder.is_dir():
        return []
    records = []
    for caseFolder in sorted(p for p in folder.iterdir() if p.is_dir()):
        relative = f"{CASES}/{caseFolder.name}/case.json"
        summary = _json(run, relative)
        if summary is None:
            problem = run.problems.get(relative, "case.json is absent (the case has not finished a stage yet)")
            records.append(CaseRecord(caseFolder.name, problem=problem))
        else:
            records.append(CaseRecord(str(summary.get("patient") or caseFolder.name), summary))
    return records


def _caseFeatures(run: RunFolder) -> pd.DataFrame | None:
    """The patient × feature table from the cases' ``features.csv`` (a partial run has no cohort table yet)."""
    rows = {}
    for case in run.cases:
        if case.status != "done":
            continue
        table = _csv(run, f"{CASES}/{case.patient}/features.csv")
        if table is not None and {"feature", "value"} <= set(table.columns):
            rows[case.patient] = pd.to_numeric(table.set_index("feature")["value"], errors="coerce")
    return pd.DataFrame(rows).T.rename_axis("patient") if rows else None


def _tables(run: RunFolder, folder: str, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in names:
        table = _csv(run, f"{folder}/{name}")
        if table is not None:
            tables[name.removesuffix(".csv")] = table
    return tables


def _csv(run: RunFolder, relative: str, index: str | None = None) -> pd.DataFrame | None:
    path = run.folder / relative
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, dtype={"patient": str})
        if index is not None:
            table = table.set_index(index if index in table.columns else table.columns[0])
            table.index = table.index.astype(str)
        return table
    except (OSError, ValueError, pd.errors.ParserError) as error:
        _unreadable(run, relative, error)
        return None


def _json(run: RunFolder, relative: str) -> dict | None:
    path = run.folder / relative
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        _unreadable(run, relative, error)
        return None
    if isinstance(document, dict):
        return document
    _unreadable(run, relative, "not a JSON object")
    return None


def _yaml(run: RunFolder, relative: str) -> dict | None:
    import yaml

    path = run.folder / relative
    if not path.is_file():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        _unreadable(run, relative, error)
        return None
    if isinstance(document, dict):
        return document
    _unreadable(run, relative, "not a mapping of sections")
    return None


def _unreadable(run: RunFolder, relative: str, error: object) -> None:
    logger.warning("Report: could not read %s: %s", relative, error)
    run.problems[relative] = f"{relative} could not be read ({error})"
