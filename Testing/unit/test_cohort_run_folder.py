"""The run folder's identity: a new folder, the same run again, a changed run only with --resume, another
folder's content never overwritten, one run at a time; and the progress events and line of a run."""

import json
import multiprocessing

import pytest

from VirtualBiopsy.cohort.eventLog import EventLog
from VirtualBiopsy.cohort.runFolder import RUN_FILE, RunIdentity, openRunFolder, runFolderLock
from VirtualBiopsy.cohort.runProgress import RunProgress
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.executors.factory import makeExecutor


@pytest.fixture
def inputs(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("patient,T1c\nP1,p1.nrrd\n")
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,time,event\nP1,3,1\n")
    return manifest, clinical


def test_new_same_and_resumed(inputs, tmp_path):
    manifest, clinical = inputs
    out = tmp_path / "run"
    identity = RunIdentity.of(manifest, clinical, {"extract": {"binWidth": 0.1}})
    assert openRunFolder(out, identity, resume=False) == "new"
    recorded = json.loads((out / RUN_FILE).read_text())
    assert recorded["manifest"] == str(manifest.resolve()) and recorded["history"] == []
    assert openRunFolder(out, identity, resume=False) == "same"
    assert openRunFolder(out, identity, resume=True) == "same"
    changed = RunIdentity.of(manifest, clinical, {"extract": {"binWidth": 0.2}})
    with pytest.raises(
        InputError, match=r"other inputs \(the pipeline settings changed\).*add --resume.*another --out"
    ):
        openRunFolder(out, changed, resume=False)
    assert json.loads((out / RUN_FILE).read_text())["settingsSha256"] == identity.settingsSha256
    assert openRunFolder(out, changed, resume=True) == "resumed"
    recorded = json.loads((out / RUN_FILE).read_text())
    assert recorded["settingsSha256"] == changed.settingsSha256
    assert [entry["settingsSha256"] for entry in recorded["history"]] == [identity.settingsSha256]


def test_a_changed_manifest_or_clinical_table_is_named(inputs, tmp_path):
    manifest, clinical = inputs
    out = tmp_path / "run"
    openRunFolder(out, RunIdentity.of(manifest, clinical, {}), resume=False)
    manifest.write_text("patient,T1c\nP1,p1.nrrd\nP2,p2.nrrd\n")
    clinical.write_text("patient,time,event\nP1,4,1\n")
    with pytest.raises(InputError, match="the manifest's content, the clinical table's content changed"):
        openRunFolder(out, RunIdentity.of(manifest, clinical, {}), resume=False)


def test_other_folders_are_refused(inputs, tmp_path):
    manifest, clinical = inputs
    identity = RunIdentity.of(manifest, None, {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        openRunFolder(tmp_path / "file", identity, resume=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="not empty and holds no run"):
        openRunFolder(tmp_path / "mine", identity, resume=False)
    with pytest.raises(InputError, match="--resume: .* holds no run to resume"):
        openRunFolder(tmp_path / "empty", identity, resume=True)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / RUN_FILE).write_text("{not json")
    with pytest.raises(InputError, match="is corrupt"):
        openRunFolder(tmp_path / "broken", identity, resume=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def _holdLock(folder, ready, release):
    with runFolderLock(folder):
        ready.set()
        release.wait(10)


def test_one_run_at_a_time(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_holdLock, args=(tmp_path / "run", ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(InputError, match="Another run is using"):
            with runFolderLock(tmp_path / "run"):
                pass
    finally:
        release.set()
        holder.join(10)
    with runFolderLock(tmp_path / "run"):
        pass


def test_events_are_json_lines_with_every_field(tmp_path):
    log = EventLog([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    log.emit("case-started", case="P1")
    log.emit("stage-finished", case="P1", stage="segment", status="done", seconds=1.5)
    with pytest.raises(ValueError, match="Unknown event"):
        log.emit("case-exploded")
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert lines == (tmp_path / "b.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["case-started", "stage-finished"]
    assert all({"time", "case", "stage", "status", "seconds", "error"} <= set(e) for e in events)
    assert events[1]["seconds"] == 1.5 and events[0]["stage"] is None


def test_progress_line_counts_stages_failures_and_eta(tmp_path):
    reported = []
    progress = RunProgress(4, EventLog([tmp_path / "events.jsonl"]), lambda f, m: reported.append((f, m)))
    done = {
        "status": "done",
        "stages": {
            "harmonize.T1c": {"status": "done", "seconds": 1.0},
            "harmonize.FLAIR": {"status": "done", "seconds": 1.0},
            "segment": {"status": "done", "seconds": 2.0},
        },
    }
    progress.caseEnded("P1", done)
    progress.caseEnded("P2", {"status": "failed", "failedStage": "extract", "error": "InputError: empty", "stages": {}})
    fraction, line = reported[-1]
    assert fraction == pytest.approx(0.9 * 2 / 4)
    assert line.startswith("2/4 cases, 1 failed; harmonize 1, segment 1; ETA ")
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["case"], e["done"], e["failed"], e["total"]) for e in events] == [
        ("case-finished", "P1", 1, 0, 4),
        ("case-failed", "P2", 1, 1, 4),
    ]
    assert events[1]["stage"] == "extract" and events[1]["error"] == "InputError: empty"


def test_gpu_resource_needs_dask():
    with pytest.raises(InputError, match="Worker resources .*GPU.* need Dask workers"):
        makeExecutor(resources={"GPU": 1})
    assert makeExecutor(workers=1, resources={"GPU": 1}).resources == {"GPU": 1}
