"""Shared pieces of the survival actions of ``virtual-biopsy outcome``: reading tables, writing KM outputs."""

from __future__ import annotations

import argparse
import pathlib

import pandas as pd

from VirtualBiopsy.errors import InputError

#: ``--missing`` choices: what to do with features that have missing values (see ``joinCohort``).
MISSING_CHOICES = ("error", "dropFeatures", "dropPatients", "median")


def readCsv(path: pathlib.Path, what: str, patientColumn: str | None = None) -> pd.DataFrame:
    """Read a CSV (patient ids as text).

    :raises InputError: when the file is missing, empty or not a readable CSV.
    """
    if not path.is_file():
        raise InputError(f"{what} table not found: {path}; give the path of an existing CSV file.")
    try:
        frame = pd.read_csv(path, dtype={patientColumn: str} if patientColumn else None)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(
            f"{what} table {path} is not a readable CSV file ({error}); give a CSV with a header row."
        ) from error
    if frame.empty:
        raise InputError(f"{what} table {path} has no rows; give a table with one row per patient.")
    return frame


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
    """``--time``, ``--event`` and ``--patient-column``."""
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
