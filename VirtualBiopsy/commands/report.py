"""``virtual-biopsy report``: (re)build the HTML report of a finished or partial cohort run."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``report`` parser."""
    parser = commands.add_parser(
        "report",
        help="(re)build DIR/report from a finished or partial cohort run",
        description="Write the self-contained HTML report of a cohort run (DIR/report/index.html and one page per "
        "patient) from what the run folder holds; missing pieces are listed with the reason. The earlier report "
        "is replaced only once the new one is complete.",
    )
    parser.add_argument("folder", type=pathlib.Path, metavar="DIR", help="the run folder (the --out of `run`)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Build the report and print the path of its cohort page."""
    from VirtualBiopsy.cohort.report import buildReport

    with progressBar("report") as progress:
        index = buildReport(arguments.folder, progress=progress)
    print(f"Report: {index}")
    return 0
