"""``virtual-biopsy explore``: features against a two-class outcome — tables and figures."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar
from VirtualBiopsy.commands.tableOptions import addTableOptions, readUserTable
from VirtualBiopsy.extract.exploration.config import IMPUTATIONS, ExplorationConfig

#: The options' defaults are the config's.
DEFAULTS = ExplorationConfig()


def addParser(commands) -> None:
    """Add the ``explore`` parser."""
    parser = commands.add_parser(
        "explore",
        help="explore features against a two-class outcome (statistics, tests, AUC, correlations)",
        description="Missing values, basic statistics (CSV and xlsx), Mann–Whitney U with Bonferroni correction, "
        "univariate ROC AUC, Spearman correlation heatmap, correlation with tumour volume and per-class "
        "distributions of a features table against a binary outcome of a clinical table.",
    )
    parser.add_argument("--features", type=pathlib.Path, required=True, help="features CSV (patients × features)")
    parser.add_argument("--clinical", type=pathlib.Path, required=True, help="clinical CSV with the outcome column")
    parser.add_argument("--outcome", required=True, help="the clinical column with the two outcome classes")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="new or empty output folder")
    parser.add_argument("--patient-column", default="patient", help="id column of both tables (default: %(default)s)")
    parser.add_argument("--positive-class", help="outcome class AUCs refer to (default: the larger sorted value)")
    parser.add_argument(
        "--max-missing",
        type=float,
        default=DEFAULTS.maxMissingFraction,
        help="drop features missing in more than this fraction of patients (default: %(default)s)",
    )
    parser.add_argument(
        "--imputation",
        choices=IMPUTATIONS,
        default=DEFAULTS.imputation,
        help="fill remaining gaps with the feature's median, or leave them (default: %(default)s)",
    )
    parser.add_argument(
        "--volume-column", help="tumour-volume feature (default: *original_shape_MeshVolume, else *VoxelVolume)"
    )
    parser.add_argument(
        "--volume-threshold",
        type=float,
        default=DEFAULTS.volumeThreshold,
        help="flag features whose |Spearman ρ| with volume exceeds this (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULTS.alpha,
        help="significance level after Bonferroni correction (default: %(default)s)",
    )
    addTableOptions(parser)
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Run the exploration and print what it found."""
    from VirtualBiopsy.extract.exploration import exploreFeatures
    from VirtualBiopsy.files import requireNewFolder

    config = ExplorationConfig.fromDict(
        {
            "outcomeColumn": arguments.outcome,
            "positiveClass": arguments.positive_class or "",
            "maxMissingFraction": arguments.max_missing,
            "imputation": arguments.imputation,
            "volumeColumn": arguments.volume_column or "",
            "volumeThreshold": arguments.volume_threshold,
            "alpha": arguments.alpha,
            "outputFolder": str(arguments.out),
        }
    )
    requireNewFolder(arguments.out, "Exploration folder")
    features = readUserTable(arguments, arguments.features, "Features", arguments.patient_column)
    clinical = readUserTable(arguments, arguments.clinical, "Clinical", arguments.patient_column)
    classValues = clinical[arguments.outcome] if arguments.outcome in clinical.columns else None
    options = config.explorationOptions(classValues)
    with progressBar("explore") as progress:
        result = exploreFeatures(
            features, clinical, arguments.outcome, arguments.out, options, arguments.patient_column, progress=progress
        )
    summary = result.summary
    print(
        f"Classes: {summary['patients']} (positive: {summary['positiveClass']}); "
        f"features analysed: {summary['featuresAnalysed']} of {summary['featuresIn']}"
    )
    print(
        f"Significant after Bonferroni (α = {arguments.alpha}): {len(summary['significantFeatures'])}; "
        f"correlated with volume: {len(summary['volumeCorrelatedFeatures'])}"
    )
    for note in summary["notes"]:
        print(f"Note: {note}")
    print(f"Results: {arguments.out}")
    return 0
