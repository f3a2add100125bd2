"""``virtual-biopsy outcome signature``: variance filter, correlation pruning, optional LASSO/RFE, varimax factors."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.outcome.survivalOutputs import MISSING_CHOICES, readCsv
from VirtualBiopsy.commands.tableOptions import addTableOptions


def addParser(actions) -> None:
    """Add the ``signature`` action."""
    parser = actions.add_parser(
        "signature",
        help="signature: low-variance filter, correlation pruning, varimax factor analysis",
        description="Build a signature from a features table (one row per patient): drop features whose "
        "variance (after min-max scaling to [0, 1], or raw) is at most --variance-threshold, then one of every "
        "pair with |r| above --correlation-threshold (the one with the higher mean |r| to the others), then fit "
        "--factors varimax factors on the z-scored kept features. Writes selection.csv (every feature: variance, "
        "step where it was dropped, partner), kept_features.csv, signature.csv (patient + kept features), "
        "loadings.csv (feature × factor) and scores.csv (patient × factor) into the new or empty folder --out.",
    )
    parser.add_argument(
        "--features",
        type=pathlib.Path,
        required=True,
        metavar="F.csv",
        help="features CSV: patient column, numeric features ('label' is ignored)",
    )
    parser.add_argument("--patient-column", default="patient", metavar="COL", help="(default: %(default)s)")
    parser.add_argument(
        "--variance-threshold",
        type=float,
        default=0.01,
        metavar="X",
        help="keep features with variance above X (default: %(default)s)",
    )
    parser.add_argument(
        "--variance-scaling",
        choices=("minmax", "raw"),
        default="minmax",
        help="measure the variance after min-max scaling (scale-free) or raw (default: %(default)s)",
    )
    parser.add_argument(
        "--correlation-threshold",
        type=float,
        default=0.9,
        metavar="R",
        help="prune pairs with |Pearson r| above R; 1 = no pruning (default: %(default)s)",
    )
    parser.add_argument(
        "--factors",
        type=int,
        default=None,
        metavar="K",
        help="number of varimax factors; 0 = none (default: Kaiser's rule, eigenvalues > 1)",
    )
    parser.add_argument(
        "--missing",
        choices=MISSING_CHOICES,
        default="error",
        help="features with missing values: refuse, drop the features or the patients, or "
        "impute the median (default: %(default)s)",
    )
    parser.add_argument(
        "--select",
        choices=("none", "lasso", "rfe"),
        default="none",
        help="after pruning, select against an outcome of --clinical: LASSO (L1 Cox with --time/"
        "--event, or L1 logistic with a binary --target) or recursive elimination to --keep "
        "features (default: %(default)s)",
    )
    parser.add_argument("--clinical", type=pathlib.Path, metavar="C.csv", help="clinical CSV for --select")
    parser.add_argument("--time", metavar="COL", help="with --select: follow-up time column")
    parser.add_argument("--event", metavar="COL", help="with --select: event column (1 = event, 0 = censored)")
    parser.add_argument("--target", metavar="COL", help="with --select: binary target column instead of survival")
    parser.add_argument(
        "--penalizer",
        type=float,
        default=0.1,
        metavar="X",
        help="with --select: penalty strength (default: %(default)s)",
    )
    parser.add_argument("--keep", type=int, metavar="N", help="with --select rfe: number of features to keep")
    parser.add_argument("--seed", type=int, default=0, help="factor analysis seed (default: %(default)s)")
    addTableOptions(parser)
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Select, factor, write."""
    import pandas as pd

    from VirtualBiopsy.commands.outcome.survivalOutputs import writeCsv
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
    from VirtualBiopsy.outcome.cohortTable import joinCohort
    from VirtualBiopsy.outcome.signatures.signature import buildSignature

    requireNewFolder(arguments.out, "Signature folder")
    if arguments.factors is not None and arguments.factors < 0:
        raise InputError(f"--factors is {arguments.factors}; give 0 (no factor analysis) or more factors.")
    features = readCsv(arguments.features, "Features", arguments.patient_column, arguments)
    if arguments.patient_column not in features.columns:
        raise InputError(
            f"The features table has no patient column '{arguments.patient_column}'; give it with --patient-column."
        )
    _checkSelectionOptions(arguments)
    clinical = (
        readCsv(arguments.clinical, "Clinical", arguments.patient_column, arguments, **_outcomeKinds(arguments))
        if arguments.select != "none"
        else features[[arguments.patient_column]]
    )
    cohort = joinCohort(
        features,
        clinical,
        arguments.patient_column,
        arguments.time,
        arguments.event,
        arguments.target,
        missingFeatures=arguments.missing,
        constantFeatures="keep",
    )
    signature = buildSignature(
        cohort.features,
        arguments.variance_threshold,
        arguments.variance_scaling,
        arguments.correlation_threshold,
        arguments.factors,
        arguments.seed,
        selection=arguments.select,
        time=cohort.time,
        event=cohort.event,
        target=cohort.target,
        penalizer=arguments.penalizer,
        keep=arguments.keep,
    )
    kept = signature.kept
    with stagedOutputFolder(arguments.out, "Signature folder") as staging:
        writeCsv(signature.selection.rename_axis("feature").reset_index(), staging, "selection.csv")
        writeCsv(pd.DataFrame({"feature": kept}), staging, "kept_features.csv")
        writeCsv(cohort.features[kept].reset_index(), staging, "signature.csv")
        if len(cohort.dropped):
            writeCsv(cohort.dropped, staging, "dropped_for_missing_values.csv")
        if signature.factors is not None:
            writeCsv(signature.factors.loadings.rename_axis("feature").reset_index(), staging, "loadings.csv")
            writeCsv(signature.factors.scores.reset_index(), staging, "scores.csv")
    steps = signature.selection["step"].value_counts()
    factors = signature.factors.loadings.shape[1] if signature.factors is not None else 0
    supervised = f", {steps.get(arguments.select, 0)} by {arguments.select}" if arguments.select != "none" else ""
    print(
        f"{cohort.features.shape[1]} features of {len(cohort.patients)} patients: {steps.get('variance', 0)} "
        f"dropped for low variance, {steps.get('correlation', 0)} for correlation{supervised}, {len(kept)} kept; "
        f"{factors} varimax factor(s)"
    )
    print(
        f"Written to {arguments.out}: selection.csv, kept_features.csv, signature.csv"
        + (", loadings.csv, scores.csv" if factors else "")
    )
    return 0


def _outcomeKinds(arguments: argparse.Namespace) -> dict[str, str]:
    """The time and event columns of ``--select`` as numbers and events (a binary ``--target`` stays as read)."""
    from VirtualBiopsy.files.tables import EVENT, NUMBER

    return {arguments.time: NUMBER, arguments.event: EVENT} if arguments.time and arguments.event else {}


def _checkSelectionOptions(arguments: argparse.Namespace) -> None:
    """``--select`` needs ``--clinical`` and one outcome; the outcome options need ``--select``."""
    from VirtualBiopsy.errors import InputError

    outcome = [
        o
        for o, v in (
            ("--time", arguments.time),
            ("--event", arguments.event),
            ("--target", arguments.target),
            ("--clinical", arguments.clinical),
            ("--keep", arguments.keep),
        )
        if v is not None
    ]
    if arguments.select == "none":
        if outcome:
            raise InputError(
                f"{', '.join(outcome)} only apply with --select lasso or --select rfe; add one or drop them."
            )
        return
    survival = arguments.time is not None and arguments.event is not None
    if (
        arguments.clinical is None
        or survival == (arguments.target is not None)
        or (not survival and (arguments.time or arguments.event))
    ):
        raise InputError(
            f"--select {arguments.select} needs --clinical and either --time and --event (survival) "
            "or --target (a binary column)."
        )
    if arguments.select == "rfe" and arguments.keep is None:
        raise InputError("--select rfe needs --keep N, the number of features to keep.")
    if arguments.select == "lasso" and arguments.keep is not None:
        raise InputError("--keep applies to --select rfe; LASSO's penalizer decides how many features remain.")
