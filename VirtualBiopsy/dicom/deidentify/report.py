"""The reports of a de-identification run: what changed, what was skipped or flagged, and a local log.

In OUT (they travel with the de-identified data; they hold no identifier and no input path):
``deidentification-report.csv`` (one row per attribute class changed: action, keyword, tag, files; never a value),
``deidentification-skipped.csv`` (each file not written: a keyed file token and the reason) and
``deidentification-flagged.csv`` (each written file with burned-in annotation: its output path and the reason).
Next to OUT, never inside it: ``<OUT name>-local-log.csv``, every input file's original relative path (which may
carry names or ids) with its token, status, reason and output; it must stay inside the hospital.
"""

from __future__ import annotations

import collections
import csv
import io
import pathlib
from collections.abc import Iterable, Sequence

from VirtualBiopsy.dicom.deidentify.instance import REASONS, FileOutcome
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms
from VirtualBiopsy.files.atomicFiles import writeTextAtomically

REPORT_NAME = "deidentification-report.csv"
SKIPPED_NAME = "deidentification-skipped.csv"
FLAGGED_NAME = "deidentification-flagged.csv"


def localLogPath(outFolder: pathlib.Path) -> pathlib.Path:
    """The local log of a run into ``outFolder``: ``<parent>/<name>-local-log.csv`` (outside the shared folder)."""
    outFolder = pathlib.Path(outFolder).absolute()
    return outFolder.parent / f"{outFolder.name}-local-log.csv"


def changeCounts(outcomes: Iterable[FileOutcome]) -> collections.Counter:
    """Files per ``(action, keyword, tag)`` entry, over the written files."""
    counts: collections.Counter = collections.Counter()
    for outcome in outcomes:
        counts.update(outcome.changes)
    return counts


def writeReports(
    outcomes: Sequence[FileOutcome], outFolder: pathlib.Path, pseudonyms: Pseudonyms
) -> dict[str, pathlib.Path]:
    """Write the three reports in ``outFolder`` and the local log next to it; returns their paths by name."""
    counts = changeCounts(outcomes)
    rows = [[action, keyword, tag, files] for (action, keyword, tag), files in counts.items()]
    rows.sort(key=lambda row: (str(row[2]), str(row[0])))
    skipped = [o for o in outcomes if o.status == "skipped"]
    flagged = [o for o in outcomes if o.status == "flagged"]
    paths = {
        "report": outFolder / REPORT_NAME,
        "skipped": outFolder / SKIPPED_NAME,
        "flagged": outFolder / FLAGGED_NAME,
        "localLog": localLogPath(outFolder),
    }
    writeTextAtomically(_csv(["action", "keyword", "tag", "files"], rows), paths["report"])
    writeTextAtomically(
        _csv(
            ["file", "reason", "explanation"],
            [[pseudonyms.fileToken(o.relative), o.reason, REASONS[o.reason]] for o in skipped],
        ),
        paths["skipped"],
    )
    writeTextAtomically(_csv(["output", "reason"], [[o.output, REASONS[o.reason]] for o in flagged]), paths["flagged"])
    log = [
        [o.relative, pseudonyms.fileToken(o.relative), o.status, o.reason, o.detail, o.output]
        for o in sorted(outcomes, key=lambda outcome: outcome.relative)
    ]
    writeTextAtomically(_csv(["input", "file", "status", "reason", "detail", "output"], log), paths["localLog"])
    return paths


def _csv(header: list[str], rows: Iterable[Sequence[object]]) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue()
