"""``virtual-biopsy run`` end to end on a small virtual cohort: the run folder's tables, scenes, ledger and
events; a re-run skips everything; a changed setting redoes only the stages it affects; a bad case fails alone;
the folder is never reused for another cohort; inputs are never modified; 2 Dask workers give the same tables."""

import contextlib
import hashlib
import io
import json
import pathlib
import shutil

import pandas as pd
import pytest
import yaml

from VirtualBiopsy.cli import main
from VirtualBiopsy.cohort import run
from VirtualBiopsy.cohort.ledger import RunLedger
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml.storage import loadScene

CASES = 5
#: Quick settings: the threshold method (QA against the virtual ground truth), two feature classes, the
#: unsupervised analyses and a Cox model; no classifier (5 patients), no CNN.
SETTINGS = {
    "segment": {"source": "both", "method": "thresholdLargestIsland"},
    "extract": {"featureClasses": ["shape", "firstorder"], "binWidth": 0.1},
    "analyses": {
        "cox": {"covariates": ["age"], "cindexBootstrap": 20},
        "classification": {"enabled": False},
        "explanation": {"enabled": False},
        "deepLearning": {"enabled": False},
    },
}


def folderHashes(folder: pathlib.Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def runCli(*arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["run", *arguments])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    manifest = generateCohort(folder / "input", cases=CASES, seed=3, size=48)
    settings = folder / "settings.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    return manifest, settings


@pytest.fixture(scope="module")
def firstRun(cohort, tmp_path_factory):
    manifest, settings = cohort
    before = folderHashes(manifest.parent)
    out = tmp_path_factory.mktemp("run") / "run"
    logJson = out.parent / "events.json"
    status, printed, _ = runCli(
        "--manifest",
        str(manifest),
        "--config",
        str(settings),
        "--out",
        str(out),
        "--log-json",
        str(logJson),
        "--no-report",
    )
    return status, printed, out, before, logJson


@pytest.mark.slow
def test_run_writes_the_documented_run_folder(firstRun, cohort):
    status, printed, out, _, logJson = firstRun
    manifest, _ = cohort
    assert status == 0, printed
    assert f"Cases: {CASES} of {CASES} done, 0 failed" in printed
    patients = list(pd.read_csv(manifest)["patient"])
    features = pd.read_csv(out / "features.csv", index_col="patient")
    assert list(features.index) == patients
    for patient in patients:
        case = json.loads((out / "cases" / patient / "case.json").read_text())
        assert case["status"] == "done" and case["segmentationSource"] == "model"
        assert 0 < case["dice"] <= 1 and case["volumeMm3"] > 0
        perCase = pd.read_csv(out / case["features"])
        assert list(perCase["feature"]) == list(features.columns)
        assert perCase["value"].tolist() == pytest.approx(features.loc[patient].tolist(), rel=1e-15)
        assert {entry.stage for entry in RunLedger(out).history(patient)} == {
            "harmonize.FLAIR",
            "harmonize.T1c",
            "segment",
            "extract",
            "scene",
        }
    qa = pd.read_csv(out / "segmentation-qa.csv")
    assert list(qa["patient"]) == patients and qa["dice"].between(0, 1).all()
    assert pd.read_csv(out / "failures.csv").empty
    clusters = pd.read_csv(out / "cohort" / "clusters.csv")
    assert list(clusters["patient"]) == patients and set(clusters["cluster"]) == {0, 1}
    analyses = pd.read_csv(out / "cohort" / "analyses.csv")
    assert list(analyses["analysis"]) == ["combat", "signature", "clusters", "cox"]
    assert (analyses["status"] == "done").all(), analyses
    assert yaml.safe_load((out / "pipeline.yaml").read_text())["segment"]["source"] == "both"
    events = [json.loads(line) for line in logJson.read_text().splitlines()]
    assert events == [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "run-started" and kinds[-1] == "run-finished"
    assert kinds.count("case-started") == kinds.count("case-finished") == CASES
    assert events[-1]["done"] == CASES and events[-1]["failed"] == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["manifest"]["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_patients_scene_holds_its_nodes(firstRun):
    _, _, out, _, _ = firstRun
    scene = loadScene(out / "cases" / "VB0001" / "VB0001.mrb")
    names = {scene.GetNthNode(i).GetName() for i in range(scene.GetNumberOfNodes())}
    assert {"VB0001_T1c", "VB0001_FLAIR_harmonized", "VB0001_tumour", "VB0001_reference", "VB0001_features"} <= names
    module = scene.GetSingletonNode("VirtualBiopsySegmentation", "vtkMRMLScriptedModuleNode")
    assert module is not None and module.GetParameter("segmentation.method") == "thresholdLargestIsland"
    scene.Clear(True)


@pytest.mark.slow
def test_inputs_are_never_modified(firstRun, cohort):
    _, _, _, before, _ = firstRun
    manifest, _ = cohort
    assert folderHashes(manifest.parent) == before


@pytest.mark.slow
def test_the_same_command_again_skips_everything(firstRun, cohort):
    _, _, out, _, _ = firstRun
    manifest, settings = cohort
    tables = {name: (out / name).read_bytes() for name in ("features.csv", "failures.csv", "segmentation-qa.csv")}
    clusters = (out / "cohort" / "clusters.csv").read_bytes()
    cases = {path: path.read_bytes() for path in out.glob("cases/*/case.json")}
    lines = len((out / "events.jsonl").read_text().splitlines())
    status, printed, _ = runCli(
        "--manifest", str(manifest), "--config", str(settings), "--out", str(out), "--no-report"
    )
    assert status == 0, printed
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()[lines:]]
    stages = [event for event in events if event["event"] == "stage-finished"]
    assert len(stages) == 5 * CASES and all(event["status"] == "skipped" for event in stages)
    assert not [event for event in events if event["event"] == "analysis-finished"]  # the analyses were done
    assert {name: (out / name).read_bytes() for name in tables} == tables
    assert (out / "cohort" / "clusters.csv").read_bytes() == clusters
    assert {path: path.read_bytes() for path in out.glob("cases/*/case.json")} == cases  # stage times kept


@pytest.mark.slow
def test_a_changed_setting_needs_resume_and_redoes_only_what_it_affects(firstRun, cohort, tmp_path):
    _, _, first, _, _ = firstRun
    manifest, _ = cohort
    out = tmp_path / "run"
    shutil.copytree(first, out)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({**SETTINGS, "extract": {**SETTINGS["extract"], "binWidth": 0.2}}))
    with pytest.raises(InputError, match="holds a run with other inputs \\(the pipeline settings changed\\).*--resume"):
        run(manifest, out, config=changed)
    lines = len((out / "events.jsonl").read_text().splitlines())
    result = run(manifest, out, config=changed, resume=True, report=False)
    assert result.state == "resumed" and len(result.done) == CASES
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()[lines:]]
    redone = {(e["stage"], e["status"]) for e in events if e["event"] == "stage-finished"}
    assert redone == {
        ("harmonize.FLAIR", "skipped"),
        ("harmonize.T1c", "skipped"),
        ("segment", "skipped"),
        ("extract", "done"),
        ("scene", "done"),
    }
    old = pd.read_csv(first / "features.csv", index_col="patient")
    new = pd.read_csv(out / "features.csv", index_col="patient")
    assert new["T1c_original_shape_VoxelVolume"].equals(old["T1c_original_shape_VoxelVolume"])
    assert not new["T1c_original_firstorder_Entropy"].equals(old["T1c_original_firstorder_Entropy"])
    assert len(json.loads((out / "run.json").read_text())["history"]) == 1


@pytest.mark.slow
def test_a_bad_case_fails_alone_and_the_folder_is_never_reused(cohort, tmp_path):
    manifest, settings = cohort
    rows = pd.read_csv(manifest)
    rows["T1c"] = [str(manifest.parent / path) for path in rows["T1c"]]
    rows["FLAIR"] = [str(manifest.parent / path) for path in rows["FLAIR"]]
    rows["T2"] = [str(manifest.parent / path) for path in rows["T2"]]
    rows["mask"] = [str(manifest.parent / path) for path in rows["mask"]]
    rows.loc[1, "T1c"] = str(tmp_path / "missing.nrrd")
    rows = rows.iloc[:4]
    bad = tmp_path / "bad" / "manifest.csv"
    bad.parent.mkdir()
    rows.to_csv(bad, index=False)
    status, printed, _ = runCli("--manifest", str(bad), "--check", "--allow-outside-paths")
    assert status == 0 and "row 2, column T1c (VB0002)" in printed and "file not found" in printed
    out = tmp_path / "run"
    result = run(
        bad, out, clinical=manifest.parent / "clinical.csv", config=settings, allowOutsidePaths=True, report=False
    )
    assert result.done == ["VB0001", "VB0003", "VB0004"] and list(result.failed) == ["VB0002"]
    failures = pd.read_csv(out / "failures.csv")
    assert failures.loc[0, "patient"] == "VB0002" and failures.loc[0, "stage"] == "check"
    assert "file not found" in failures.loc[0, "error"]
    assert list(pd.read_csv(out / "features.csv")["patient"]) == ["VB0001", "VB0003", "VB0004"]
    with pytest.raises(InputError, match="holds a run with other inputs \\(the manifest's path, the manifest's"):
        run(manifest, out, config=settings)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty and holds no run"):
        run(manifest, tmp_path / "other", config=settings)
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]  # nothing written into it


@pytest.mark.slow
def test_two_dask_workers_give_the_same_tables(firstRun, cohort, tmp_path):
    _, _, first, _, _ = firstRun
    manifest, settings = cohort
    result = run(manifest, tmp_path / "run", config=settings, workers=2, report=False)
    assert len(result.done) == CASES
    for name in ("features.csv", "segmentation-qa.csv"):
        assert (tmp_path / "run" / name).read_bytes() == (first / name).read_bytes(), name
    assert (tmp_path / "run" / "cohort" / "clusters.csv").read_bytes() == (
        first / "cohort" / "clusters.csv"
    ).read_bytes()


@pytest.mark.slow
def test_the_report_is_built_once_and_rebuilt_when_a_result_changes(firstRun, cohort, tmp_path):
    _, _, first, _, _ = firstRun
    manifest, settings = cohort
    out = tmp_path / "run"
    shutil.copytree(first, out)
    result = run(manifest, out, config=settings)
    assert result.report == out / "report" / "index.html" and result.report.is_file()
    pages = {path: path.stat().st_mtime_ns for path in (out / "report").rglob("*.html")}
    assert len(pages) == 1 + CASES
    run(manifest, out, config=settings)
    assert {path: path.stat().st_mtime_ns for path in (out / "report").rglob("*.html")} == pages
    assert [e.status for e in RunLedger(out).history("cohort.report")] == ["done"]
    (out / "cases" / "VB0002" / "features.csv").unlink()  # a lost output: the case's extraction is redone
    run(manifest, out, config=settings)
    assert [e.status for e in RunLedger(out).history("cohort.report")] == ["done", "done"]
