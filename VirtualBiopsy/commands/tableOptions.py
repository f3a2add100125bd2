"""The command-line options of how user tables and manifests are read, one definition for every command.

- :func:`addTableOptions`: ``--decimal {.,,}`` and ``--text-columns A,B`` for commands that read clinical or
  feature tables (see :mod:`VirtualBiopsy.files.tables`); :func:`tableFormat` turns them into a
  :class:`~VirtualBiopsy.files.tables.TableFormat`.
- :func:`addPathOptions`: ``--data-root DIR`` (repeatable) and ``--allow-outside-paths`` for commands that read
  a cohort manifest (see :class:`~VirtualBiopsy.files.paths.PathConfinement`); :func:`pathOptions` gives the
  keyword arguments of :func:`~VirtualBiopsy.data.manifest.readManifest`.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from VirtualBiopsy.files.tables import TableFormat


def addTableOptions(parser: argparse.ArgumentParser) -> None:
    """Add ``--decimal`` and ``--text-columns``."""
    parser.add_argument(
        "--decimal",
        choices=(".", ","),
        default=".",
        help="decimal mark of the tables' numbers: ',' for files that write 63,5 (then columns may be separated "
        "by ';', as European Excel saves them) (default: %(default)s)",
    )
    parser.add_argument(
        "--text-columns",
        metavar="A,B",
        help="table columns to read as text even where cells look like numbers (categories such as a stage 2a)",
    )


def tableFormat(arguments: argparse.Namespace) -> TableFormat:
    """The :class:`~VirtualBiopsy.files.tables.TableFormat` of ``--decimal`` and ``--text-columns``."""
    from VirtualBiopsy.files.tables import TableFormat, textColumnsOf

    return TableFormat(arguments.decimal, textColumnsOf(arguments.text_columns))


def readUserTable(
    arguments: argparse.Namespace, path: pathlib.Path, what: str, patientColumn: str | None, **columns: str
) -> pd.DataFrame:
    """A clinical or feature table read with the command's :func:`tableFormat`: the patient column as text, the
    ``columns`` given as their kinds, every other column a number or text, strictly."""
    from VirtualBiopsy.files.tables import TEXT, readTable

    schema = {**({patientColumn: TEXT} if patientColumn else {}), **columns}
    return readTable(path, what, schema, tableFormat=tableFormat(arguments))


def tableProvenance(arguments: argparse.Namespace) -> dict[str, Any]:
    """How the tables were read, for a command's provenance or settings record."""
    return tableFormat(arguments).toDict()


def addPathOptions(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Add ``--data-root`` (repeatable) and ``--allow-outside-paths`` (``prefix`` starts their help)."""
    parser.add_argument(
        "--data-root",
        dest="data_roots",
        type=pathlib.Path,
        action="append",
        metavar="DIR",
        help=f"{prefix}a folder the manifest's paths may lead into besides the manifest's own (repeatable); "
        "other paths are refused before anything is opened",
    )
    parser.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help=f"{prefix}accept the manifest's paths wherever they lead (only for manifests you trust)",
    )


def pathOptions(arguments: argparse.Namespace) -> dict[str, Any]:
    """``dataRoots`` and ``allowOutsidePaths`` of the command line (the keywords of ``readManifest``); says on
    stderr when any path is allowed."""
    allowed = bool(arguments.allow_outside_paths)
    if allowed:
        print(
            f"virtual-biopsy {arguments.command}: --allow-outside-paths: the manifest's paths are accepted "
            "wherever they lead.",
            file=sys.stderr,
        )
    return {"dataRoots": list(arguments.data_roots or []), "allowOutsidePaths": allowed}
