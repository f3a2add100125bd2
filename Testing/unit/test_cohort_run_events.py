"""What the Cohort run section shows, read from a run folder (``docs/cohort-run.md``): progress from
``events.jsonl`` (per-stage counts, failures, ETA; a partly written last line waits), ``failures.csv`` and the
patients whose scene is ready."""

import datetime
import json

import pytest

from VirtualBiopsy.cohort.runEvents import (
    EventsFollower,
    RunStatus,
    finishedScenes,
    formatDuration,
    readFailures,
    reportPath,
)

START = datetime.datetime(2026, 12, 7, 9, 0, 0, tzinfo=datetime.timezone.utc)
STAGES = ("harmonize", "segment", "extract")


def event(seconds: float, kind: str, case=None, stage=None, status=None, done=0, failed=0, total=4, error=None):
    return json.dumps(
        {
            "time": (START + datetime.timedelta(seconds=seconds)).isoformat(),
            "event": kind,
            "case": case,
            "stage": stage,
            "status": status,
            "seconds": None,
            "error": error,
            "done": done,
            "failed": failed,
            "total": total,
        }
    )


def runOfFourCases() -> list[str]:
    """VB0001 was done in an earlier run (all skipped), VB0002 done in 60 s, VB0003 fails at segment after 30 s,
    VB0004 started at 90 s."""
    lines = [event(0, "run-started")]
    lines += [event(0, "case-started", "VB0001")]
    lines += [event(0, "stage-finished", "VB0001", stage, "skipped") for stage in STAGES]
    lines += [event(0, "case-finished", "VB0001", done=1)]
    lines += [event(0, "case-started", "VB0002", done=1)]
    lines += [event(20 * (i + 1), "stage-finished", "VB0002", s, "done", done=1) for i, s in enumerate(STAGES)]
    lines += [event(60, "case-finished", "VB0002", done=2)]
    lines += [event(60, "case-started", "VB0003", done=2)]
    lines += [event(75, "stage-finished", "VB0003", "harmonize", "done", done=2)]
    lines += [event(90, "stage-finished", "VB0003", "segment", "failed", done=2, error="no tumour found")]
    lines += [event(90, "case-failed", "VB0003", "segment", "failed", done=2, failed=1, error="no tumour found")]
    lines += [event(90, "case-started", "VB0004", done=2, failed=1)]
    return lines


def test_counts_failures_and_running_cases():
    progress = RunStatus.fromEvents(runOfFourCases())
    assert (progress.total, progress.done, progress.failed) == (4, 2, 1)
    assert progress.stages == {
        "harmonize": {"skipped": 1, "done": 2},
        "segment": {"skipped": 1, "done": 1, "failed": 1},
        "extract": {"skipped": 1, "done": 1},
    }
    assert progress.failures == [("VB0003", "segment", "no tumour found")]
    assert progress.running == ["VB0004"]
    assert progress.fraction == pytest.approx(0.75)
    assert not progress.finished
    assert progress.stageText().startswith("harmonize 1 skipped, 2 done · segment 1 skipped, 1 done, 1 failed")


def test_eta_counts_only_the_cases_this_run_worked_on():
    """Two cases worked on in 90 s (the skipped one costs nothing): 45 s per case, one case left."""
    progress = RunStatus.fromEvents(runOfFourCases())
    assert progress.worked == 2
    assert progress.etaSeconds() == pytest.approx(45.0)
    assert progress.etaSeconds(START + datetime.timedelta(seconds=120)) == pytest.approx(60.0)
    assert progress.summary(START + datetime.timedelta(seconds=90)) == "3/4 cases, 1 failed, about 45 s left"


def test_no_eta_before_a_case_is_finished_and_zero_at_the_end():
    assert RunStatus.fromEvents([event(0, "run-started"), event(1, "case-started", "VB0001")]).etaSeconds() is None
    lines = [*runOfFourCases(), event(120, "case-finished", "VB0004", done=3, failed=1)]
    lines += [event(130, "analysis-finished", stage="clusters", status="done", done=3, failed=1)]
    lines += [event(140, "run-finished", done=3, failed=1)]
    progress = RunStatus.fromEvents(lines)
    assert progress.etaSeconds() == 0.0
    assert progress.finished and progress.analyses == {"clusters": "done"}
    assert progress.summary() == "4/4 cases, 1 failed, finished"


def test_malformed_and_partial_lines_are_skipped():
    lines = runOfFourCases()
    lines.insert(3, "not json")
    lines.insert(4, "[1, 2]")
    lines.append("")
    lines.append(lines[-2][: len(lines[-2]) // 2])  # the writer is half-way through a line
    progress = RunStatus.fromEvents(lines)
    assert progress.malformed == 3
    assert (progress.done, progress.failed, progress.running) == (2, 1, ["VB0004"])


def test_a_new_run_in_the_same_file_starts_afresh():
    lines = [*runOfFourCases(), event(500, "run-started", done=2, failed=1)]
    lines.append(event(500, "case-started", "VB0003", done=2, failed=1))
    progress = RunStatus.fromEvents(lines)
    assert progress.running == ["VB0003"] and progress.failures == [] and progress.stages == {}
    assert (progress.done, progress.failed, progress.started) == (2, 1, START + datetime.timedelta(seconds=500))


def test_follower_reads_complete_lines_as_the_file_grows(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = runOfFourCases()
    follower = EventsFollower(path)
    assert follower.update().total == 0  # no file yet
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines[:5]) + "\n" + lines[5][:10])
    assert follower.update().done == 0 and follower.progress.running == ["VB0001"]  # its end is not written yet
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(lines[5][10:] + "\n" + "\n".join(lines[6:]) + "\n")
    progress = follower.update()
    assert (progress.done, progress.failed, progress.running, progress.malformed) == (2, 1, ["VB0004"], 0)


def test_follower_from_the_end_skips_an_earlier_run_and_restarts_on_a_new_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(runOfFourCases()) + "\n", encoding="utf-8")
    follower = EventsFollower(path, fromEnd=True)
    assert follower.update().total == 0
    path.write_text(event(0, "run-started", total=2) + "\n", encoding="utf-8")
    assert follower.update().total == 2


def test_failures_and_finished_scenes(tmp_path):
    assert readFailures(tmp_path) == [] and finishedScenes(tmp_path) == {}
    (tmp_path / "failures.csv").write_text(
        'patient,stage,error\nVB0003,segment,"no tumour found, empty mask"\n', encoding="utf-8"
    )
    assert readFailures(tmp_path) == [{"patient": "VB0003", "stage": "segment", "error": "no tumour found, empty mask"}]
    for patient, status, withScene in (("VB0002", "done", True), ("VB0001", "done", True), ("VB0003", "failed", True)):
        folder = tmp_path / "cases" / patient
        folder.mkdir(parents=True)
        summary = {"patient": patient, "status": status, "scene": f"cases/{patient}/{patient}.mrb"}
        (folder / "case.json").write_text(json.dumps(summary), encoding="utf-8")
        if withScene:
            (folder / f"{patient}.mrb").write_bytes(b"PK")
    (tmp_path / "cases" / "VB0004").mkdir()
    (tmp_path / "cases" / "VB0004" / "case.json").write_text('{"status": "do', encoding="utf-8")  # being written
    scenes = finishedScenes(tmp_path)
    assert list(scenes) == ["VB0001", "VB0002"]
    assert scenes["VB0002"] == tmp_path / "cases" / "VB0002" / "VB0002.mrb"
    assert reportPath(tmp_path) == tmp_path / "report" / "index.html"


def test_durations_read_well():
    assert [formatDuration(s) for s in (4.4, 59, 61, 3599, 3600, 7500)] == [
        "4 s",
        "59 s",
        "1 min",
        "1 h 00 min",
        "1 h 00 min",
        "2 h 05 min",
    ]
