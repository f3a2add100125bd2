"""``virtual-biopsy outcome signature``: a radiomic signature — variance filter, correlation pruning, varimax factors."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.outcome.survivalOutputs import MISSING_CHOICES, readCsv


def addParser(actions) -> None:
    """Add the ``signature`` action."""
    parser = actions.add_parser(
        "signature", help="signature: low-variance filter, correlation pruning, varimax factor analysis",
        description="Build a signature from a features table (one row per patient): drop features whose "
        "variance (after min-max scaling to [0, 1], or raw) is at most --variance-threshold, then one of every "
        "pair with |r| above --correlation-threshold (the one with the higher mean |r| to the others), then fit "
        "--factors varimax factors on the z-scored kept features. Writes selection.csv (every feature: variance, "
        "step where it was dropped, partner), kept_features.csv, signature.csv (patient + kept features), "
        "loadings.csv (feature × factor) and scores.csv (patient × factor) into the new or empty folder --out.")
    parser.add_argument("--features", type=pathlib.Path, required=True, metavar="F.csv",
                        help="features CSV: patient column, numeric features ('label' is ignored)")
    parser.add_argument("--patient-column", default="patient", metavar="COL", help="(default: %(default)s)")
    parser.add_argument("--variance-threshold", type=float, default=0.01, metavar="X",
                        help="keep features with variance above X (default: %(default)s)")
    parser.add_argument("--variance-scaling", choices=("minmax", "raw"), default="minmax",
                        help="measure the variance after min-max scaling (scale-free) or raw (default: %(default)s)")
    parser.add_argument("--correlation-threshold", type=float, default=0.9, metavar="R",
                        help="prune pairs with |Pearson r| above R; 1 = no pruning (default: %(default)s)")
    parser.add_argument("--factors", type=int, default=None, metavar="K",
                        help="number of varimax factors; 0 = none (default: Kaiser's rule, eigenvalues > 1)")
    parser.add_argument("--missing", choices=MISSING_CHOICES, default="error",
                        help="features with missing values: refuse, drop the features or the patients, or "
                        "impute the median (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="factor analysis seed (default: %(default)s)")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Select, factor, write."""
    import pandas as pd

    from VirtualBiopsy.commands.outcome.survivalOutputs import writeCsv
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.outcome.cohortTable import joinCohort
    from VirtualBiopsy.outcome.signatures.signature import buildSignature
    from VirtualBiopsy.outputFolders import requireNewFolder, stagedOutputFolder

    requireNewFolder(arguments.out, "Signature folder")
    if arguments.factors is not None and arguments.factors < 0:
        raise InputError(f"--factors is {arguments.factors}; give 0 (no factor analysis) or more factors.")
    features = readCsv(arguments.features, "Features", arguments.patient_column)
    patients = features[[arguments.patient_column]] if arguments.patient_column in features.columns else None
    if patients is None:
        raise InputError(f"The features table has no patient column '{arguments.patient_column}'; "
                         "give it with --patient-column.")
    cohort = joinCohort(features, patients, arguments.patient_column, missingFeatures=arguments.missing,
                        constantFeatures="keep")
    signature = buildSignature(cohort.features, arguments.variance_threshold, arguments.variance_scaling,
                               arguments.correlation_threshold, arguments.factors, arguments.seed)
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
    print(f"{cohort.features.shape[1]} features of {len(cohort.patients)} patients: {steps.get('variance', 0)} "
          f"dropped for low variance, {steps.get('correlation', 0)} for correlation, {len(kept)} kept; "
          f"{factors} varimax factor(s)")
    print(f"Written to {arguments.out}: selection.csv, kept_features.csv, signature.csv"
          + (", loadings.csv, scores.csv" if factors else ""))
    return 0
