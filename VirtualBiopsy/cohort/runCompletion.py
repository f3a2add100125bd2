"""Whether a run folder holds a finished run: ``run-complete.json``, written last and removed first.

A run removes the marker as soon as it holds the folder, before it changes anything, and writes it again
only after every case, the cohort tables, the cohort analyses, the provenance and the report are in place. A folder
without it is a run that was killed, cancelled or is still going: its tables may be older than its cases, or its
cohort analyses missing. Running the same command again finishes it.
"""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any

from VirtualBiopsy.cohort.caseTask import inputHash
from VirtualBiopsy.files import writeTextAtomically

COMPLETE_FILE = "run-complete.json"

#: The run's result files whose hashes the marker records (those that exist).
_RESULT_FILES = ("features.csv", "failures.csv", "segmentation-qa.csv", "provenance.json", "cohort/analyses.csv")


def markRunIncomplete(folder: pathlib.Path) -> None:
    """Remove the completion marker: the run in ``folder`` is about to change."""
    (folder / COMPLETE_FILE).unlink(missing_ok=True)


def markRunComplete(folder: pathlib.Path, summary: dict[str, Any]) -> pathlib.Path:
    """Write the completion marker with ``summary`` (counts, seconds) and the hashes of the result files.

    :returns: the marker's path.
    """
    record = {
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **summary,
        "results": {name: inputHash(folder / name) for name in _RESULT_FILES if (folder / name).is_file()},
    }
    return writeTextAtomically(json.dumps(record, indent=2, sort_keys=True) + "\n", folder / COMPLETE_FILE)


def runCompletion(folder: pathlib.Path) -> dict[str, Any] | None:
    """The completion record of the run in ``folder``, or ``None`` when the run has not finished (or its results
    changed after it finished: a result file whose hash differs from the record's)."""
    try:
        record = json.loads((folder / COMPLETE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("results"), dict):
        return None
    for name, recorded in record["results"].items():
        path = folder / str(name)
        if not path.is_file() or inputHash(path) != recorded:
            return None
    return record


def incompleteRunNotice(folder: pathlib.Path) -> str:
    """What to tell a reader of a run folder without a valid completion marker."""
    return (
        f"This run has not finished ({COMPLETE_FILE} is absent or its results changed since): it was stopped, "
        "failed or is still going, and some cohort results may be missing or older than the cases. Run the same "
        "`virtual-biopsy run` command again to finish it."
    )
