"""A ``demo`` killed while it writes its cohort and again while it runs finishes when the same command runs again,
with nothing half-written left and its inputs (the settings file) unchanged."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from hostile import guarded
from killInputs import command, runUntil

from VirtualBiopsy.cohort.runCompletion import runCompletion

CASES = 4
SETTINGS = {
    "segment": {"source": "both", "method": "thresholdLargestIsland"},
    "extract": {"featureClasses": ["shape", "firstorder"], "binWidth": 0.1},
    "analyses": {
        "classification": {"enabled": False},
        "explanation": {"enabled": False},
        "deepLearning": {"enabled": False},
    },
}


def finishedStages(out: pathlib.Path) -> int:
    path = out / "run" / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return sum('"stage-finished"' in line and line.endswith("}") for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a process group is POSIX")
def test_a_killed_demo_finishes_when_run_again(tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS), encoding="utf-8")
    out = tmp_path / "demo"
    demo = command("demo", "--out", out, "--cases", str(CASES), "--size", "40", "--seed", "5", "--config", settings)

    with guarded([settings], outputs=[out]):
        log = tmp_path / "demo.log"
        writingCohort = runUntil(demo, lambda: any(out.glob(".virtual-cohort.*.partial/VB0002")), log)
        assert writingCohort and not (out / "virtual-cohort").exists(), log.read_text()
        running = runUntil(demo, lambda: finishedStages(out) >= 2, log)
        assert running and runCompletion(out / "run") is None, log.read_text()
        result = subprocess.run(demo, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr

    record = runCompletion(out / "run")
    assert record is not None and record["done"] == CASES
    features = pd.read_csv(out / "run" / "features.csv")
    assert list(features["patient"]) == [f"VB{index:04d}" for index in range(1, CASES + 1)]
    assert json.loads((out / "virtual-cohort" / "provenance.json").read_text())["cases"] == CASES
    leftovers = [p.name for p in out.rglob("*") if ".partial" in p.name]
    assert not leftovers
