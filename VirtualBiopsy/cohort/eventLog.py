"""Machine-readable progress events of a cohort run: one JSON object per line, appended to one or more files.

Workers append ``case-started`` and ``stage-finished``; the process that runs the cohort appends the rest, with
the counts so far. Each event is one ``os.write`` on a file opened ``O_APPEND``, so the lines of several worker
processes never interleave within a line.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

#: The kinds of event, in the order a run emits them.
EVENTS = (
    "run-started",
    "case-started",
    "stage-finished",
    "case-finished",
    "case-failed",
    "analysis-finished",
    "run-finished",
)
_FIELDS = ("case", "stage", "status", "seconds", "error")


class EventLog:
    """Appends events to ``files`` (none: a silent log).

    :param files: the files that receive every event; their folders must exist.
    """

    def __init__(self, files: Sequence[str | os.PathLike] = ()) -> None:
        self.files = [pathlib.Path(path) for path in files]

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event; ``fields`` adds or sets ``case``, ``stage``, ``status``, ``seconds``, ``error``,
        ``done``, ``failed``, ``total`` (the first five are always present, ``null`` when unset).

        :returns: the event as written.
        """
        if event not in EVENTS:
            raise ValueError(f"Unknown event {event!r}; one of {', '.join(EVENTS)}.")
        record = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "event": event,
            **dict.fromkeys(_FIELDS),
            **fields,
        }
        data = (json.dumps(record, ensure_ascii=False, allow_nan=False, default=str) + "\n").encode()
        for path in self.files:
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)
        return record
