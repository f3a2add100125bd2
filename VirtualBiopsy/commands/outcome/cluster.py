"""``virtual-biopsy outcome cluster``: k-means patient clusters and their survival."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.outcome.survivalOutputs import (
    MISSING_CHOICES,
    addSurvivalArguments,
    readCsv,
    survivalKinds,
)


def addParser(actions) -> None:
    """Add the ``cluster`` action."""
    parser = actions.add_parser(
        "cluster",
        help="k-means clusters of patients with silhouette, Kaplan–Meier and log-rank per cluster",
        description="Cluster the patients with k-means on the z-scored features (e.g. a signature's scores.csv) "
        "and compare the clusters' survival: clusters.csv (patient, cluster, silhouette), silhouette.csv, "
        "km.csv, logrank.csv, median.csv and km.png/svg, written together into the new or empty folder --out. "
        "Clusters are numbered by decreasing size.",
    )
    parser.add_argument(
        "--features",
        type=pathlib.Path,
        required=True,
        metavar="F.csv",
        help="features CSV: patient column, numeric features ('label' is ignored)",
    )
    parser.add_argument(
        "--clinical",
        type=pathlib.Path,
        required=True,
        metavar="C.csv",
        help="clinical CSV: patient, time and event columns",
    )
    parser.add_argument("--k", type=int, default=2, help="number of clusters (default: %(default)s)")
    addSurvivalArguments(parser)
    parser.add_argument(
        "--missing",
        choices=MISSING_CHOICES,
        default="error",
        help="features with missing values (default: %(default)s)",
    )
    parser.add_argument("--drop-constant", action="store_true", help="drop constant features instead of refusing")
    parser.add_argument("--seed", type=int, default=0, help="k-means seed (default: %(default)s)")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Cluster, estimate, write."""
    import pandas as pd

    from VirtualBiopsy.commands.outcome.survivalOutputs import (
        describeLogRank,
        writeCsv,
        writeKaplanMeier,
    )
    from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
    from VirtualBiopsy.outcome.cohortTable import joinCohort
    from VirtualBiopsy.outcome.config import OutcomeConfig
    from VirtualBiopsy.outcome.patientClusters import clusterCohort

    requireNewFolder(arguments.out, "Cluster folder")
    config = OutcomeConfig.fromDict(
        {
            "numberOfClusters": arguments.k,
            "randomSeed": arguments.seed,
            "patientColumn": arguments.patient_column,
            "timeColumn": arguments.time,
            "eventColumn": arguments.event,
        }
    )
    features = readCsv(arguments.features, "Features", config.patientColumn, arguments)
    clinical = readCsv(arguments.clinical, "Clinical", config.patientColumn, arguments, **survivalKinds(config))
    cohort = joinCohort(
        features,
        clinical,
        config.patientColumn,
        config.timeColumn,
        config.eventColumn,
        missingFeatures=arguments.missing,
        constantFeatures="drop" if arguments.drop_constant else "error",
    )
    clusters = clusterCohort(cohort.features, config.numberOfClusters, config.randomSeed, cohort.time, cohort.event)
    silhouette = pd.DataFrame(
        [
            {
                "k": config.numberOfClusters,
                "patients": len(cohort.patients),
                "features": cohort.features.shape[1],
                "mean_silhouette": clusters.meanSilhouette,
                "seed": config.randomSeed,
                "note": clusters.note,
            }
        ]
    )
    with stagedOutputFolder(arguments.out, "Cluster folder") as staging:
        writeCsv(clusters.table().reset_index(), staging, "clusters.csv")
        writeCsv(silhouette, staging, "silhouette.csv")
        if len(cohort.dropped):
            writeCsv(cohort.dropped, staging, "dropped.csv")
        writeKaplanMeier(
            clusters.survival,
            staging,
            title=f"Kaplan–Meier by cluster (k = {config.numberOfClusters})",
            timeLabel=config.timeColumn,
        )
    sizes = clusters.clusters.value_counts().sort_index()
    print(
        f"{len(cohort.patients)} patients in {config.numberOfClusters} clusters "
        f"({', '.join(map(str, sizes))} patients), "
        + (f"mean silhouette {clusters.meanSilhouette:.3f}" if clusters.note == "" else clusters.note)
        + f"; {describeLogRank(clusters.survival)}"
    )
    print(f"Written to {arguments.out}: clusters.csv, silhouette.csv, km.csv, logrank.csv, median.csv, km.png, km.svg")
    return 0
