"""``virtual-biopsy outcome cox``: a Cox proportional-hazards model, its C-index, PH check and risk groups."""

from __future__ import annotations

import argparse
import logging
import pathlib

from VirtualBiopsy.commands.outcome.survivalOutputs import (
    addSurvivalArguments,
    readCsv,
    survivalColumns,
    survivalConfig,
    survivalKinds,
)

logger = logging.getLogger(__name__)


def addParser(actions) -> None:
    """Add the ``cox`` action."""
    parser = actions.add_parser(
        "cox",
        help="Cox model: hazard ratios, C-index with bootstrap CI, PH test, risk-group Kaplan–Meier",
        description="Fit a Cox proportional-hazards model (lifelines) of --time/--event on --covariates and write "
        "coefficients.csv (covariate, coef, hr, ci_lower, ci_upper, se, z, p), cindex.csv (Harrell's C with a "
        "percentile bootstrap 95%% CI), ph_test.csv (Schoenfeld-residual test per covariate), risk_groups.csv "
        "(prognostic index and low/high risk per patient, split at --risk-percentile) and the risk groups' "
        "Kaplan–Meier: risk_km.csv, risk_logrank.csv, risk_median.csv, risk_km.png/svg (fitted and drawn on "
        "the same patients: optimistic). Everything goes into the new or empty folder --out.",
    )
    parser.add_argument("--table", type=pathlib.Path, required=True, metavar="T.csv", help="one row per patient")
    addSurvivalArguments(parser)
    parser.add_argument(
        "--covariates",
        metavar="A,B,...",
        help="numeric covariate columns (default: every numeric column but time, event and patient; the text "
        "columns left out are named)",
    )
    parser.add_argument(
        "--penalizer",
        type=float,
        default=0.0,
        metavar="X",
        help="lifelines penalizer; e.g. 0.1 when the plain fit does not converge (default: %(default)s)",
    )
    parser.add_argument(
        "--l1-ratio",
        type=float,
        default=0.0,
        metavar="R",
        help="share of L1 in the penalty, 1 = LASSO (default: %(default)s)",
    )
    parser.add_argument(
        "--risk-percentile",
        type=float,
        default=50.0,
        metavar="P",
        help="percentile of the prognostic index above which patients are high risk (default: %(default)s = median)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples of the C-index CI (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Fit, check, write."""
    import pandas as pd

    from VirtualBiopsy.commands.outcome.survivalOutputs import (
        describeLogRank,
        writeCsv,
        writeKaplanMeier,
    )
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
    from VirtualBiopsy.outcome.cox import defaultCovariates, fitCox

    requireNewFolder(arguments.out, "Cox folder")
    if arguments.bootstrap < 0:
        raise InputError(f"--bootstrap is {arguments.bootstrap}; give 0 (no CI) or more resamples, e.g. 1000.")
    if not 0 <= arguments.l1_ratio <= 1:
        raise InputError(f"--l1-ratio is {arguments.l1_ratio}; give a number in [0, 1].")
    named = [name.strip() for name in arguments.covariates.split(",") if name.strip()] if arguments.covariates else []
    config = survivalConfig(
        arguments,
        covariates=named,
        penalizer=arguments.penalizer,
        l1Ratio=arguments.l1_ratio,
        riskPercentile=arguments.risk_percentile,
        cindexBootstrap=arguments.bootstrap,
        randomSeed=arguments.seed,
    )
    table = readCsv(arguments.table, "Survival", config.patientColumn, arguments, **survivalKinds(config))
    if config.patientColumn in table.columns:
        repeated = table[config.patientColumn][table[config.patientColumn].duplicated()].unique()
        if len(repeated):
            raise InputError(
                f"Patient id(s) {', '.join(map(str, repeated[:5]))} repeat in column '{config.patientColumn}' of "
                f"{arguments.table}; keep one row per patient."
            )
        table = table.set_index(config.patientColumn)
    time, event = survivalColumns(table, config, "The survival")
    if config.covariates:
        absent = [name for name in config.covariates if name not in table.columns]
        if absent:
            raise InputError(
                f"The survival table has no covariate column(s) {', '.join(absent)}; it has: "
                f"{', '.join(map(str, table.columns[:20]))}."
            )
    leftOut: list[str] = []
    if not config.covariates:
        numeric, leftOut = defaultCovariates(table, (config.timeColumn, config.eventColumn))
        config = config.replace(covariates=numeric)
        if leftOut:
            logger.warning(
                "Cox covariates: text column(s) %s left out (only numeric columns enter by default)", ", ".join(leftOut)
            )
    names = config.covariates
    result = fitCox(
        table[names],
        time,
        event,
        penalizer=config.penalizer,
        l1Ratio=config.l1Ratio,
        riskPercentile=config.riskPercentile,
        bootstrap=config.cindexBootstrap,
        seed=config.randomSeed,
    )
    with stagedOutputFolder(arguments.out, "Cox folder") as staging:
        writeCsv(result.coefficients, staging, "coefficients.csv")
        writeCsv(result.concordance, staging, "cindex.csv")
        writeCsv(result.phTest, staging, "ph_test.csv")
        risk = pd.DataFrame(
            {
                "patient": time.index.astype(str),
                "prognostic_index": result.prognosticIndex.to_numpy(),
                "risk_group": result.riskGroups.to_numpy(),
            }
        )
        writeCsv(risk, staging, "risk_groups.csv")
        writeKaplanMeier(
            result.riskKaplanMeier,
            staging,
            prefix="risk_",
            timeLabel=config.timeColumn,
            title=f"Cox prognostic index split at the {config.riskPercentile:g}th percentile",
        )
    c = result.concordance.iloc[0]
    if leftOut:
        print(
            f"Covariates: {', '.join(names)}; left out, not numeric: {', '.join(map(str, leftOut))} (encode them "
            "as numbers and name them with --covariates to use them)"
        )
    print(
        f"Cox model of {len(time)} patients ({int(event.sum())} events) on {len(names)} covariate(s): "
        f"C-index {c['cindex']:.3f}"
        + (f" (95% CI {c['ci_lower']:.3f}–{c['ci_upper']:.3f})" if pd.notna(c["ci_lower"]) else "")
        + f"; risk groups: {describeLogRank(result.riskKaplanMeier)}"
    )
    print(f"Written to {arguments.out}: coefficients.csv, cindex.csv, ph_test.csv, risk_groups.csv, risk_km.*")
    return 0
