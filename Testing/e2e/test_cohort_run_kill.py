"""A cohort run killed with SIGKILL at several moments and re-run each time ends with exactly the tables of an
uninterrupted run: no case lost, no row duplicated, no half-written file."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from VirtualBiopsy.cohort import run
from VirtualBiopsy.cohort.ledger import RunLedger
from VirtualBiopsy.cohort.report import buildReport
from VirtualBiopsy.cohort.runCompletion import runCompletion
from VirtualBiopsy.data.virtualCohort import generateCohort

CASES = 4
SETTINGS = {
    "segment": {"source": "both", "method": "thresholdLargestIsland"},
    "extract": {"featureClasses": ["shape", "firstorder", "glcm"], "binWidth": 0.1},
    "analyses": {
        "cox": {"covariates": ["age"], "cindexBootstrap": 200},
        "classification": {"enabled": False},
        "explanation": {"enabled": False},
        "deepLearning": {"enabled": False},
    },
}
#: Enough cases that the run is still going well after its first stage, when the signal arrives.
CASES_TO_INTERRUPT = 8
TABLES = ("features.csv", "failures.csv", "segmentation-qa.csv", "cohort/clusters.csv", "cohort/analyses.csv")


def events(out: pathlib.Path) -> list[dict]:
    path = out / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def runUntilKilled(command: list[str], out: pathlib.Path, killWhen, timeout: float = 240) -> bool:
    """Start the run; SIGKILL its process group when ``killWhen(events)`` is true. Returns whether it was killed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if killWhen(events(out)):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.05)
        return False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def runCommand(manifest: pathlib.Path, settings: pathlib.Path, out: pathlib.Path) -> list[str]:
    """``virtual-biopsy run`` in a new Python process, report off."""
    return [
        sys.executable,
        "-m",
        "VirtualBiopsy.cli",
        "run",
        "--manifest",
        str(manifest),
        "--config",
        str(settings),
        "--out",
        str(out),
        "--no-report",
    ]


def afterStages(count: int):
    return lambda seen: sum(e["event"] == "stage-finished" and e["status"] == "done" for e in seen) >= count


def duringAnalyses(seen) -> bool:
    started = [e for e in seen if e["event"] == "run-started"]
    return bool(started) and sum(e["event"] == "case-finished" for e in seen) >= CASES


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a process group is POSIX")
def test_killed_runs_resume_to_the_uninterrupted_tables(tmp_path):
    manifest = generateCohort(tmp_path / "input", cases=CASES, seed=5, size=40)
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    reference = tmp_path / "reference"
    run(manifest, reference, config=settings, report=False)

    out = tmp_path / "killed"
    command = runCommand(manifest, settings, out)
    moments = [afterStages(1), afterStages(6), afterStages(11), duringAnalyses]
    killed = []
    for moment in moments:
        killed.append(runUntilKilled(command, out, moment))
        finished = any(event["event"] == "run-finished" for event in events(out))  # the marker comes after it
        if killed[-1] and not finished:  # a killed run, even during the cohort analyses, never passes for finished
            assert runCompletion(out) is None
            assert "This run has not finished" in (buildReport(out).read_text(encoding="utf-8"))
    assert killed.count(True) >= 3, killed  # a moment may pass between two polls only if the run finished
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert runCompletion(out)["done"] == CASES

    for name in TABLES:
        final, expected = pd.read_csv(out / name), pd.read_csv(reference / name)
        if name.endswith("analyses.csv"):
            final, expected = final.drop(columns="seconds"), expected.drop(columns="seconds")
        pd.testing.assert_frame_equal(final, expected, check_exact=True, obj=name)
    features = pd.read_csv(out / "features.csv")
    assert features["patient"].is_unique and len(features) == CASES
    ledger = RunLedger(out)
    for patient in features["patient"]:
        history = ledger.history(patient)
        for stage in {entry.stage for entry in history}:
            assert history[[e.stage for e in history].index(stage)].status == "started"
            assert [e for e in history if e.stage == stage][-1].status == "done"
    leftovers = [p.name for p in out.rglob("*") if ".partial" in p.name or p.name.startswith(".tmp")]
    assert not leftovers


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    manifest = generateCohort(tmp_path / "input", cases=CASES_TO_INTERRUPT, seed=5, size=40)
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({**SETTINGS, "analyses": {"enabled": False}}))
    out = tmp_path / "run"
    command = runCommand(manifest, settings, out)
    # SIGINT at its default, as in a terminal: a test run started in the background inherits it ignored.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not afterStages(1)(events(out)) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted; what finished is kept in" in stderr and "Resume with:" in stderr
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"Cases: {CASES_TO_INTERRUPT} of {CASES_TO_INTERRUPT} done, 0 failed" in result.stdout
