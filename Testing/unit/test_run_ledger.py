"""The run ledger: round trips, when a stage counts as done, crash fragments, corrupt journals, SIGKILL mid-run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from VirtualBiopsy.cohort.ledger import LedgerEntry, RunLedger, hashSettings, processPeakMemoryBytes
from VirtualBiopsy.errors import InputError

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = hashSettings({"binWidth": 25, "sequences": ["T1c", "FLAIR"]})


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def doneLedger(tmp_path: pathlib.Path) -> tuple[RunLedger, dict[str, str]]:
    """A ledger whose case ``p001`` finished stage ``extract`` with one output file."""
    ledger = RunLedger(tmp_path)
    (tmp_path / "p001").mkdir()
    (tmp_path / "p001" / "features.csv").write_text("a,b\n1,2\n")
    inputs = {"T1c": sha("t1c"), "mask": sha("mask")}
    ledger.record(LedgerEntry("p001", "extract", "started", inputs=inputs, settingsHash=SETTINGS))
    outputs = ledger.hashOutputs([tmp_path / "p001" / "features.csv"])
    ledger.record(LedgerEntry("p001", "extract", "done", inputs, SETTINGS, outputs, seconds=1.5, peakMemoryBytes=10))
    return ledger, inputs


def test_entries_round_trip_in_order(doneLedger):
    ledger, inputs = doneLedger
    ledger.record(LedgerEntry("p002", "segment", "failed", error="no FLAIR"))
    history = ledger.history("p001")
    assert [entry.status for entry in history] == ["started", "done"]
    assert history[1].inputs == inputs and history[1].settingsHash == SETTINGS
    assert history[1].outputs == {"p001/features.csv": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    assert history[1].seconds == 1.5 and history[1].peakMemoryBytes == 10 and history[1].time.endswith("+00:00")
    assert ledger.latest("p002", "segment").error == "no FLAIR"
    assert ledger.latest("p001", "segment") is None and ledger.history("p404") == []
    assert ledger.cases() == ["p001", "p002"]
    assert ledger.journalPath("p001").read_bytes().endswith(b"\n")


def test_is_done_only_for_the_same_inputs_settings_and_outputs(doneLedger, tmp_path):
    ledger, inputs = doneLedger
    assert ledger.isDone("p001", "extract", inputs, SETTINGS)
    assert not ledger.isDone("p001", "extract", {**inputs, "mask": sha("edited mask")}, SETTINGS)
    assert not ledger.isDone("p001", "extract", {"T1c": inputs["T1c"]}, SETTINGS)
    assert not ledger.isDone("p001", "extract", inputs, hashSettings({"binWidth": 10}))
    assert not ledger.isDone("p001", "segment", inputs, SETTINGS)
    output = tmp_path / "p001" / "features.csv"
    output.write_text("a,b\n1,3\n")
    assert not ledger.isDone("p001", "extract", inputs, SETTINGS)
    output.write_text("a,b\n1,2\n")
    assert ledger.isDone("p001", "extract", inputs, SETTINGS)
    output.unlink()
    assert not ledger.isDone("p001", "extract", inputs, SETTINGS)


@pytest.mark.parametrize("status", ["failed", "started"])
def test_is_done_false_when_the_latest_entry_is_not_done(doneLedger, status):
    ledger, inputs = doneLedger
    ledger.record(LedgerEntry("p001", "extract", status, inputs=inputs, settingsHash=SETTINGS))
    assert not ledger.isDone("p001", "extract", inputs, SETTINGS)


def test_a_truncated_last_line_is_ignored_and_the_next_record_starts_a_clean_line(doneLedger, caplog):
    ledger, inputs = doneLedger
    journal = ledger.journalPath("p001")
    line = json.dumps(LedgerEntry("p001", "report", "done").toDict()).encode()
    with open(journal, "ab") as stream:
        stream.write(line[: len(line) // 2])
    with caplog.at_level(logging.WARNING, logger="VirtualBiopsy.cohort.ledger"):
        assert [entry.status for entry in ledger.history("p001")] == ["started", "done"]
    assert "unterminated last line 3" in caplog.text
    assert ledger.isDone("p001", "extract", inputs, SETTINGS)
    ledger.record(LedgerEntry("p001", "report", "failed", error="disk full"))
    data = journal.read_bytes()
    assert data.endswith(b"\n") and line[: len(line) // 2] not in data
    assert [entry.status for entry in ledger.history("p001")] == ["started", "done", "failed"]


def test_a_corrupt_middle_line_names_the_file_and_line(doneLedger):
    ledger, _ = doneLedger
    journal = ledger.journalPath("p001")
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join([lines[0], b'{"case": "p001", "sta', *lines[1:]]))
    with pytest.raises(InputError, match=r"p001\.jsonl line 2 is corrupt"):
        ledger.history("p001")
    journal.write_bytes(b"\n".join([lines[0], b'{"case": "p001"}', *lines[1:]]))
    with pytest.raises(InputError, match=r"line 2 is corrupt"):
        ledger.isDone("p001", "extract", {}, SETTINGS)


@pytest.mark.parametrize("case", ["../x", "a/b", "", ".", "..", ".hidden", "a\\b", "a\x00b", "x" * 201])
def test_unsafe_case_ids_are_refused(tmp_path, case):
    ledger = RunLedger(tmp_path)
    with pytest.raises(InputError, match="cannot name a ledger journal"):
        ledger.record(LedgerEntry(case, "extract", "started"))
    with pytest.raises(InputError, match="cannot name a ledger journal"):
        ledger.history(case)
    assert not (tmp_path / "ledger").exists() or list((tmp_path / "ledger").iterdir()) == []


def test_invalid_entries_and_settings_are_refused(tmp_path):
    ledger = RunLedger(tmp_path)
    with pytest.raises(InputError, match="status is 'finished'"):
        ledger.record(LedgerEntry("p001", "extract", "finished"))
    with pytest.raises(InputError, match="outputs"):
        ledger.record(LedgerEntry("p001", "extract", "done", outputs={"a.csv": "not a hash"}))
    with pytest.raises(InputError, match="not a plain relative path"):
        ledger.record(LedgerEntry("p001", "extract", "done", outputs={"../a.csv": sha("a")}))
    with pytest.raises(InputError, match="outside the run folder"):
        ledger.hashOutputs([tmp_path.parent / "elsewhere.csv"])
    with pytest.raises(InputError, match="no NaN"):
        hashSettings({"binWidth": float("nan")})
    assert hashSettings({"a": 1, "b": [1, 2]}) == hashSettings({"b": [1, 2], "a": 1})
    assert ledger.cases() == []


def test_peak_memory_is_a_plausible_byte_count():
    peak = processPeakMemoryBytes()
    assert peak is None or 10 * 2**20 < peak < 2**40


_WRITER = """
import sys
from VirtualBiopsy.cohort.ledger import LedgerEntry, RunLedger
ledger = RunLedger(sys.argv[1])
with open(sys.argv[2], "w") as progress:
    for number in range(10**7):
        ledger.record(LedgerEntry("p001", f"stage{number}", "done", error="x" * (number % 5000)))
        progress.write(f"{number}\\n")
        progress.flush()
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.35])
def test_sigkill_mid_run_loses_no_committed_entry_and_duplicates_none(tmp_path, delay):
    progressFile = tmp_path / "progress.txt"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(progressFile)], env=environment)
    try:
        deadline = time.monotonic() + 30
        while not (progressFile.exists() and progressFile.read_text().count("\n") >= 3):
            assert child.poll() is None and time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    reported = len(progressFile.read_text().splitlines())  # entries the child saw committed
    ledger = RunLedger(tmp_path)
    numbers = [int(entry.stage.removeprefix("stage")) for entry in ledger.history("p001")]
    assert numbers == list(range(len(numbers))), "entries are lost, duplicated or out of order"
    assert reported <= len(numbers) <= reported + 1
    lines = ledger.journalPath("p001").read_bytes().split(b"\n")
    assert len(lines) - 1 == len(numbers) and len(lines[-1]) < 5000 + 300  # at most one partial line
    ledger.record(LedgerEntry("p001", "resume", "done"))
    assert [entry.stage for entry in ledger.history("p001")][-2:] == [f"stage{len(numbers) - 1}", "resume"]
