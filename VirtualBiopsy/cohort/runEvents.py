"""What a running or finished cohort run shows: its progress from ``DIR/events.jsonl`` (per-stage counts,
failures so far, estimated time left), its ``failures.csv``, and the patients whose scene is ready.

The event format is ``docs/cohort-run.md``'s "Progress events". Standard library only: the Outcome module
reads these while the run goes on.
"""

from __future__ import annotations

import csv
import datetime
import json
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: The run folder's progress events, failures, report and per-case folders.
EVENTS_FILE = "events.jsonl"
FAILURES_FILE = "failures.csv"
REPORT_FILE = "report/index.html"
CASES_FOLDER = "cases"


@dataclass
class RunStatus:
    """The state of one run, built from its events in order (a ``run-started`` event begins a new run).

    :ivar total: cases in the cohort; ``done`` and ``failed``: cases finished so far (earlier runs included).
    :ivar stages: ``{stage: {status: count}}`` of the ``stage-finished`` events.
    :ivar failures: ``(case, stage, error)`` of each ``case-failed`` event.
    :ivar running: cases started and not yet finished.
    :ivar analyses: ``{analysis: status}`` of the ``analysis-finished`` events.
    :ivar finished: whether ``run-finished`` was seen.
    :ivar worked: cases finished in this run that did at least one stage (not all skipped); the rate of the ETA.
    :ivar malformed: lines that were not JSON objects (skipped).
    """

    total: int = 0
    done: int = 0
    failed: int = 0
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    analyses: dict[str, str] = field(default_factory=dict)
    finished: bool = False
    started: datetime.datetime | None = None
    latest: datetime.datetime | None = None
    worked: int = 0
    malformed: int = 0
    _working: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def fromEvents(cls, lines: Iterable[str]) -> RunStatus:
        """The progress after the JSON ``lines`` of an events file; blank and malformed lines (a partly
        written last line) are skipped."""
        progress = cls()
        for line in lines:
            progress.addLine(line)
        return progress

    def addLine(self, line: str) -> None:
        """Add one line of an events file (skipped when blank or not a JSON object)."""
        if not line.strip():
            return
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            self.malformed += 1
            return
        self.add(event)

    def add(self, event: dict[str, Any]) -> None:
        """Add one event (a dict with the fields of ``docs/cohort-run.md``)."""
        kind, case, stage, status = (event.get(key) for key in ("event", "case", "stage", "status"))
        if kind == "run-started":
            vars(self).update(vars(RunStatus()))  # a new run in the same folder starts afresh
        time = _parseTime(event.get("time"))
        if time is not None:
            self.started = self.started or time
            self.latest = time
        for name in ("done", "failed", "total"):
            if isinstance(event.get(name), int):
                setattr(self, name, event[name])
        if kind == "case-started" and case is not None and case not in self.running:
            self.running.append(str(case))
        elif kind == "stage-finished" and stage:
            counts = self.stages.setdefault(str(stage), {})
            counts[str(status)] = counts.get(str(status), 0) + 1
            if status != "skipped" and case is not None:
                self._working.add(str(case))
        elif kind in ("case-finished", "case-failed") and case is not None:
            if str(case) in self.running:
                self.running.remove(str(case))
            if str(case) in self._working or kind == "case-failed":
                self.worked += 1
            if kind == "case-failed":
                self.failures.append((str(case), str(stage or ""), str(event.get("error") or "")))
        elif kind == "analysis-finished" and stage:
            self.analyses[str(stage)] = str(status)
        elif kind == "run-finished":
            self.finished = True

    @property
    def fraction(self) -> float:
        """Cases finished (done or failed) out of the total, 0 to 1."""
        return min(1.0, (self.done + self.failed) / self.total) if self.total else 0.0

    def etaSeconds(self, now: datetime.datetime | None = None) -> float | None:
        """Seconds until every case is finished, at the rate of the cases this run worked on so far
        (``None`` before the first one, 0 when none is left).

        :param now: the current time (aware); the latest event's time by default.
        """
        remaining = max(0, self.total - self.done - self.failed)
        if self.total and remaining == 0:
            return 0.0
        if not self.worked or self.started is None:
            return None
        end = now or self.latest or self.started
        if end.tzinfo is None:
            end = end.replace(tzinfo=datetime.timezone.utc)
        elapsed = max(0.0, (end - self.started).total_seconds())
        return elapsed / self.worked * remaining

    def stageText(self) -> str:
        """Per-stage counts, e.g. ``harmonize 12 done, 3 skipped · segment 11 done, 1 failed``."""
        parts = []
        for stage, counts in self.stages.items():
            parts.append(f"{stage} " + ", ".join(f"{count} {status}" for status, count in counts.items()))
        return " · ".join(parts)

    def summary(self, now: datetime.datetime | None = None) -> str:
        """One line for a progress bar: cases finished, failures so far and the time left."""
        text = f"{self.done + self.failed}/{self.total} cases"
        if self.failed:
            text += f", {self.failed} failed"
        if self.finished:
            return text + ", finished"
        eta = self.etaSeconds(now)
        return text + (f", about {formatDuration(eta)} left" if eta is not None else "")


def formatDuration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"`` or ``"2 h 05 min"``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _parseTime(text: Any) -> datetime.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        time = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return time if time.tzinfo is not None else time.replace(tzinfo=datetime.timezone.utc)


class EventsFollower:
    """Reads the events file of a run as it grows: each :meth:`update` adds the lines completed since the
    last one (a partly written line waits for its end)."""

    def __init__(self, path: str | pathlib.Path, fromEnd: bool = False) -> None:
        """:param fromEnd: skip what the file holds now (the events of an earlier run in the same folder)."""
        self.path = pathlib.Path(path)
        self.progress = RunStatus()
        self._offset = self._size() if fromEnd else 0
        self._pending = b""

    def update(self) -> RunStatus:
        """Read what was added to the file and return the progress so far."""
        size = self._size()
        if size < self._offset:  # the file was written anew
            self.progress, self._offset, self._pending = RunStatus(), 0, b""
        if size > self._offset:
            with open(self.path, "rb") as stream:
                stream.seek(self._offset)
                data = stream.read(size - self._offset)
            self._offset += len(data)
            *complete, self._pending = (self._pending + data).split(b"\n")
            for line in complete:
                self.progress.addLine(line.decode("utf-8", errors="replace"))
        return self.progress

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


def readFailures(outDir: str | pathlib.Path) -> list[dict[str, str]]:
    """The rows of the run's ``failures.csv`` (``patient``, ``stage``, ``error``); none when it is absent."""
    path = pathlib.Path(outDir) / FAILURES_FILE
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as stream:
        return [{key: row.get(key) or "" for key in ("patient", "stage", "error")} for row in csv.DictReader(stream)]


def finishedScenes(outDir: str | pathlib.Path) -> dict[str, pathlib.Path]:
    """``{patient: scene file}`` of the cases whose ``case.json`` says done and whose scene exists, by patient."""
    scenes = {}
    casesFolder = pathlib.Path(outDir) / CASES_FOLDER
    if not casesFolder.is_dir():
        return {}
    for summaryPath in sorted(casesFolder.glob("*/case.json")):
        try:
            summary = json.loads(summaryPath.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(summary, dict) or summary.get("status") != "done":
            continue
        patient = str(summary.get("patient") or summaryPath.parent.name)
        scene = pathlib.Path(outDir) / str(summary.get("scene") or f"{CASES_FOLDER}/{patient}/{patient}.mrb")
        if scene.is_file():
            scenes[patient] = scene
    return scenes


def reportPath(outDir: str | pathlib.Path) -> pathlib.Path:
    """The run's HTML report (it may not exist yet)."""
    return pathlib.Path(outDir) / REPORT_FILE
