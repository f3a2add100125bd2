"""The progress of a cohort run: cases done and failed, per-stage counts and an ETA, as one line and as events."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from VirtualBiopsy.cohort.eventLog import EventLog
from VirtualBiopsy.progress import ProgressCallback

#: The share of the progress bar the cases take; the cohort analyses and the report take the rest.
CASES_SHARE = 0.9


class RunProgress:
    """Counts cases as they end and reports ``progress(fraction, line)`` and the case events.

    :param total: the number of cases.
    """

    def __init__(self, total: int, events: EventLog, progress: ProgressCallback) -> None:
        self.total = total
        self.events = events
        self.progress = progress
        self.done = 0
        self.failed = 0
        self.stages: Counter[str] = Counter()
        self.started = time.perf_counter()

    def caseEnded(self, patient: str, summary: dict[str, Any] | None) -> None:
        """A case came back from its worker (``summary``: its ``case.json``)."""
        if summary is None:
            return
        stages = summary.get("stages") or {}
        done = [name.split(".", 1)[0] for name, stage in stages.items() if stage.get("status") == "done"]
        for stage in dict.fromkeys(done):
            self.stages[stage] += 1
        if summary.get("status") == "done":
            self.done += 1
            self.events.emit("case-finished", case=patient, status="done", **self.counts())
            self._report()
        else:
            self.caseFailed(patient, summary.get("failedStage") or "", summary.get("error") or "")

    def caseFailed(self, patient: str, stage: str, error: str) -> None:
        """A case failed (before its stages, in one, or with its worker)."""
        self.failed += 1
        self.events.emit("case-failed", case=patient, stage=stage, status="failed", error=error, **self.counts())
        self._report()

    def counts(self) -> dict[str, int]:
        return {"done": self.done, "failed": self.failed, "total": self.total}

    def line(self) -> str:
        """e.g. ``12/24 cases, 1 failed; harmonize 24, segment 12, extract 12; ETA 3 min`` (stages done, per case:
        harmonize counts each case once, whatever its number of sequences)."""
        ended = self.done + self.failed
        stages = ", ".join(f"{name} {count}" for name, count in self.stages.items())
        elapsed = time.perf_counter() - self.started
        eta = ""
        if 0 < ended < self.total:
            remaining = elapsed / ended * (self.total - ended)
            eta = f"; ETA {remaining / 60:.0f} min" if remaining >= 90 else f"; ETA {remaining:.0f} s"
        return f"{ended}/{self.total} cases, {self.failed} failed" + (f"; {stages}" if stages else "") + eta

    def message(self, text: str, fraction: float = CASES_SHARE) -> None:
        """Report a step after the cases (analyses, report)."""
        self.progress(fraction, text)

    def _report(self) -> None:
        ended = self.done + self.failed
        self.progress(CASES_SHARE * ended / max(self.total, 1), self.line())
