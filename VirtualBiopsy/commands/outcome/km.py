"""``virtual-biopsy outcome km``: Kaplan–Meier curves per group with log-rank tests."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.outcome.survivalOutputs import (
    addSurvivalArguments,
    readCsv,
    survivalColumns,
    survivalConfig,
    survivalKinds,
)


def addParser(actions) -> None:
    """Add the ``km`` action."""
    parser = actions.add_parser(
        "km",
        help="Kaplan–Meier curves (per group) with 95%% bands, at-risk counts and log-rank tests",
        description="Kaplan–Meier estimates of a table's patients, per --group if given: km.csv (group, time, "
        "survival, ci_lower, ci_upper, at_risk, events, censored), logrank.csv (test, statistic, p, "
        "degrees_of_freedom, note: overall, then each pair of groups; empty with the reason when undefined), "
        "median.csv (n, events, median with 95%% CI, quartiles q1/q3, restricted mean; inf = not reached) and "
        "km.png/km.svg, written together into the new or empty folder --out.",
    )
    parser.add_argument("--table", type=pathlib.Path, required=True, metavar="T.csv", help="one row per patient")
    addSurvivalArguments(parser)
    parser.add_argument("--group", metavar="COL", help="column that splits the patients into groups")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Estimate, test, write."""
    from VirtualBiopsy.commands.outcome.survivalOutputs import (
        describeLogRank,
        writeKaplanMeier,
    )
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
    from VirtualBiopsy.outcome.kaplanMeier import kaplanMeier

    requireNewFolder(arguments.out, "Kaplan–Meier folder")
    config = survivalConfig(arguments, groupColumn=arguments.group or "")
    table = readCsv(arguments.table, "Survival", config.patientColumn, arguments, **survivalKinds(config))
    if config.patientColumn in table.columns:
        table = table.set_index(config.patientColumn)
    time, event = survivalColumns(table, config, "The survival")
    groups = None
    if config.groupColumn:
        if config.groupColumn not in table.columns:
            raise InputError(
                f"The survival table has no --group column '{config.groupColumn}'; it has: "
                f"{', '.join(map(str, table.columns[:20]))}."
            )
        groups = table[config.groupColumn]
    result = kaplanMeier(time, event, groups)
    with stagedOutputFolder(arguments.out, "Kaplan–Meier folder") as staging:
        writeKaplanMeier(
            result,
            staging,
            title=f"Kaplan–Meier by {config.groupColumn}" if groups is not None else "Kaplan–Meier",
            timeLabel=config.timeColumn,
        )
    print(f"{len(time)} patients, {int(event.sum())} events, {len(result.groups)} group(s); {describeLogRank(result)}")
    print(f"Written to {arguments.out}: km.csv, logrank.csv, median.csv, km.png, km.svg")
    return 0
