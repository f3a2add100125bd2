"""``virtual-biopsy dicom``: DICOM in and out; ``dicom index`` indexes and curates a hospital export, the other
actions import, export and de-identify.

Every other action lives in a module ``dicom<Action>.py`` with ``addParser(actions)`` (which sets its own
``run`` default) and ``run(arguments)``; register it with two lines: its import and its ``addParser`` call below.
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands import dicomDeidentify, dicomExport, dicomImport
from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``dicom`` parser and its subcommands."""
    parser = commands.add_parser(
        "dicom",
        help="DICOM in and out: index a hospital export, import series and RTSTRUCT, export SEG/SR, de-identify",
        description="DICOM tools. 'index' reads the headers (no pixel data) of every file under a folder and writes "
        "series.csv, skipped.csv, manifest.csv (a draft pipeline manifest) and manifest-notes.csv; "
        "'import-series' and 'import-rtstruct' read a series or an RTSTRUCT into image files; 'export' writes a "
        "segmentation as DICOM SEG (with its features as a TID 1500 SR and maps as Parametric Maps); "
        "'deidentify' applies the PS3.15 Basic Profile with keyed pseudonyms. See docs/dicom.md.",
    )
    actions = parser.add_subparsers(dest="dicom_command", required=True, metavar="ACTION")
    addIndexParser(actions)
    dicomImport.addParser(actions)
    dicomExport.addParser(actions)
    dicomDeidentify.addParser(actions)


def addIndexParser(actions) -> None:
    """Add ``dicom index``."""
    index = actions.add_parser(
        "index",
        help="index and curate a DICOM folder tree: series, sequence classes, curation flags, draft manifest",
        description="Read the headers of every file under FOLDER (in parallel; the folder is never written), group "
        "them by series, classify each series (T1, T1c, T2, FLAIR, DWI, ADC, DCE, CT, unknown; RTSTRUCT, SEG and SR "
        "objects by modality, with the series they reference) with a confidence and the reason, flag curation "
        "problems (missing slices, localizers, cut or missing pixel data, absent references, ...) and "
        "write --out/series.csv, skipped.csv, manifest.csv and manifest-notes.csv (see docs/dicom.md).",
    )
    index.add_argument("folder", type=pathlib.Path, metavar="FOLDER", help="the export's folder")
    index.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="folder for the tables")
    index.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes reading headers (default: CPUs, at most 8; 1 reads in this process)",
    )
    index.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Index the folder and write the tables."""
    from VirtualBiopsy.dicom.index import indexFolder
    from VirtualBiopsy.dicom.tables import writeIndex
    from VirtualBiopsy.errors import InputError

    if arguments.workers is not None and arguments.workers < 1:
        raise InputError(f"--workers is {arguments.workers}; give 1 or more.")
    folder, out = arguments.folder.resolve(), arguments.out.resolve()
    if out == folder or folder in out.parents:
        raise InputError(
            f"--out {arguments.out} is inside the DICOM folder {arguments.folder}, which is never written; give a folder outside it."
        )
    with progressBar("dicom index") as progress:
        index = indexFolder(arguments.folder, workers=arguments.workers, progress=progress)
    paths = writeIndex(index, arguments.out)
    flagged = sum(1 for row in index.series if row.flags)
    rate = index.files / index.seconds if index.seconds > 0 else 0.0
    print(
        f"{len(index.series)} series ({flagged} flagged) in {index.files} files, {len(index.skipped)} skipped, "
        f"{index.seconds:.1f} s ({rate:,.0f} files/s): {paths['series']}  {paths['manifest']}"
    )
    return 0
