"""``virtual-biopsy sample-data``: pyradiomics' public sample cases."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``sample-data`` parser."""
    parser = commands.add_parser(
        "sample-data",
        help="fetch pyradiomics' public MR and CT sample cases",
        description="Fetch pyradiomics' sample cases (brain1, brain2, breast1, lung1, lung2) from its source "
        "distribution on PyPI through pip, check their SHA-256 and cache them.",
    )
    parser.add_argument("--out", type=pathlib.Path, help="folder to copy the cases to (default: the cache only)")
    parser.add_argument("--case", action="append", help="a case to fetch (repeatable; default: all)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Fetch the cases and print their paths."""
    from VirtualBiopsy.data.sampleData import fetchSampleData

    with progressBar("sample-data") as progress:
        cases = fetchSampleData(arguments.out, cases=arguments.case or None, progress=progress)
    for case in cases.values():
        print(f"{case.name}: {case.image}  {case.label}")
    return 0
