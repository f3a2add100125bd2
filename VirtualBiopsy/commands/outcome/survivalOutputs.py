"""Shared pieces of the survival actions of ``virtual-biopsy outcome``: reading tables (strictly, with
``--decimal``), writing KM outputs."""

from __future__ import annotations

import argparse
import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError

#: ``--missing`` choices: what to do with features that have missing values (see ``joinCohort``).
MISSING_CHOICES = ("error", "dropFeatures", "dropPatients", "median")


def readCsv(
    path: pathlib.Path,
    what: str,
    patientColumn: str | None = None,
    arguments: argparse.Namespace | None = None,
    **columns: str,
) -> pd.DataFrame:
    """Read a user table strictly (:func:`~VirtualBiopsy.files.tables.readTable`): patient ids as text, the
    ``columns`` given as their kinds (``number``, ``event``, ...), every other column a number or text.

    :param arguments: the command line, for ``--decimal`` and ``--text-columns`` (default: a dot decimal).
    :raises InputError: when the file is missing, empty or not a readable CSV, or a cell does not fit its column.
    """
    from VirtualBiopsy.commands.tableOptions import readUserTable

    if arguments is None:
        arguments = argparse.Namespace(decimal=".", text_columns=None)
    return readUserTable(arguments, path, what, patientColumn, **columns)


def survivalKinds(config) -> dict[str, str]:
    """The kinds of the time and event columns named by ``config``, for :func:`readCsv`."""
    from VirtualBiopsy.files.tables import EVENT, NUMBER

    return {config.timeColumn: NUMBER, config.eventColumn: EVENT}


def survivalColumns(frame: pd.DataFrame, config, what: str) -> tuple[pd.Series, pd.Series]:
    """The time and event columns (``--time``, ``--event``) of ``frame``, named by ``config`` (a
    ``SurvivalConfig`` or ``OutcomeConfig``), checked (see ``joinCohort``)."""
    from VirtualBiopsy.outcome.kaplanMeier import checkSurvival

    for option, column in (("--time", config.timeColumn), ("--event", config.eventColumn)):
        if column not in frame.columns:
            raise InputError(
                f"{what} table has no {option} column '{column}'; it has: {', '.join(map(str, frame.columns[:20]))}."
            )
    return checkSurvival(frame[config.timeColumn], frame[config.eventColumn])


def survivalConfig(arguments: argparse.Namespace, **settings):
    """The :class:`~VirtualBiopsy.outcome.survivalConfig.SurvivalConfig` of the command line (the Survival
    panel's): ``--time``, ``--event``, ``--patient-column`` and ``settings``.

    :raises InputError: for a value the config refuses.
    """
    from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig

    return SurvivalConfig.fromDict(
        {
            "timeColumn": arguments.time,
            "eventColumn": arguments.event,
            "patientColumn": arguments.patient_column,
            **settings,
        }
    )


def addSurvivalArguments(parser: argparse.ArgumentParser) -> None:
    """``--time``, ``--event``, ``--patient-column``, and how tables are read (``--decimal``, ``--text-columns``)."""
    from VirtualBiopsy.commands.tableOptions import addTableOptions

    addTableOptions(parser)
    parser.add_argument("--time", required=True, metavar="COL", help="follow-up time column (> 0)")
    parser.add_argument("--event", required=True, metavar="COL", help="event column: 1 = event, 0 = censored")
    parser.add_argument(
        "--patient-column", default="patient", metavar="COL", help="patient id column (default: %(default)s)"
    )


def writeCsv(frame: pd.DataFrame, folder: pathlib.Path, name: str) -> pathlib.Path:
    """Write ``frame`` (no index) as ``folder/name``; undefined values are empty cells, 'not reached' is inf."""
    path = folder / name
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def writeKaplanMeier(result, folder: pathlib.Path, prefix: str = "", title: str = "", timeLabel: str = "time") -> None:
    """``km.csv``, ``logrank.csv``, ``median.csv``, ``km.png`` and ``km.svg`` (names after ``prefix``)."""
    from VirtualBiopsy.outcome.survivalFigure import saveKaplanMeierFigure

    columns = ["group", "time", "survival", "ci_lower", "ci_upper", "at_risk", "events", "censored"]
    writeCsv(result.curves[columns], folder, f"{prefix}km.csv")
    writeCsv(result.logRank, folder, f"{prefix}logrank.csv")
    writeCsv(result.summary, folder, f"{prefix}median.csv")
    saveKaplanMeierFigure(result, folder / f"{prefix}km", title=title, timeLabel=timeLabel)


def describeLogRank(result) -> str:
    """One line: the overall log-rank p, or why it is undefined."""
    overall = result.logRank.iloc[0]
    return f"log-rank p = {overall['p']:.3g}" if pd.notna(overall["p"]) else f"log-rank {overall['note']}"
