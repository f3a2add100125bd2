"""``virtual-biopsy outcome classify``: compare diagnosis classifiers with repeated stratified
cross-validation and save each, refitted on all patients, as a versioned model folder.

Writes the new folder ``--out``: ``performance.csv`` (one row per model: AUC mean ± SD over the
folds, pooled out-of-fold AUC with its bootstrap CI over patients, balanced accuracy,
sensitivity and specificity at the Youden threshold chosen on the training folds, ...),
``folds.csv``, ``predictions.csv`` (out-of-fold scores), ``roc.csv``, ``roc.png``/``roc.svg``,
``provenance.json`` and ``models/<name>/`` (``model.skops`` + ``model.json``).
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addTableOptions


def addParser(actions) -> None:
    """Add the ``classify`` action."""
    from VirtualBiopsy.outcome.classification.config import IMPUTATIONS, MODEL_NAMES

    parser = actions.add_parser(
        "classify",
        help="compare diagnosis classifiers (cross-validated AUC, ROC) and save them",
        description="Join a feature table with a clinical table, cross-validate logistic regression (lr), random "
        "forest (rf), SVM (svm) and gradient boosting (gb) on a binary target with repeated stratified k-fold, and "
        "save each model refitted on all patients under OUT/models/<name>/. Constant features are dropped with a "
        "note. A target with more than two values needs --positive-class (that class against the rest).",
    )
    parser.add_argument(
        "--features",
        type=pathlib.Path,
        required=True,
        metavar="F.csv",
        help="features table: a patient column and numeric features (as 'extract' writes)",
    )
    parser.add_argument(
        "--clinical",
        type=pathlib.Path,
        required=True,
        metavar="C.csv",
        help="clinical table: a patient column and the target column",
    )
    parser.add_argument("--target", required=True, metavar="COL", help="clinical column to predict (e.g. grade)")
    parser.add_argument(
        "--positive-class",
        default="",
        metavar="VALUE",
        help="target value counted as positive (default: the larger of two values, as text)",
    )
    parser.add_argument(
        "--models", default=",".join(MODEL_NAMES), metavar="LIST", help="comma-separated models among %(default)s"
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=10, help="cross-validation repeats (default: %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of splits, models and bootstrap (default: %(default)s)"
    )
    parser.add_argument(
        "--impute",
        choices=IMPUTATIONS,
        default="none",
        help="missing feature values: refuse (none) or impute inside each training fold",
    )
    parser.add_argument("--l1", action="store_true", help="L1 instead of L2 penalty for logistic regression")
    parser.add_argument("--trees", type=int, default=300, help="trees of rf and stages of gb (default: %(default)s)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=2000,
        metavar="N",
        help="bootstrap samples of the AUC confidence interval (default: %(default)s)",
    )
    parser.add_argument("--patient-column", default="patient", help="patient id column of both tables")
    addTableOptions(parser)
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Cross-validate, write the tables and the ROC figure, save the models."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.commands.tableOptions import readUserTable, tableProvenance
    from VirtualBiopsy.files import requireNewFolder, sha256File, stagedOutputFolder
    from VirtualBiopsy.outcome.classification.cohortInput import classificationInput
    from VirtualBiopsy.outcome.classification.comparison import compareClassifiers
    from VirtualBiopsy.outcome.classification.config import ClassificationConfig
    from VirtualBiopsy.outcome.classification.outputs import writeComparison
    from VirtualBiopsy.outcome.classification.trainingData import (
        binaryTarget,
        prepareFeatures,
    )
    from VirtualBiopsy.outcome.classification.validation import requireEnoughPerClass

    config = ClassificationConfig.fromDict(
        {
            "targetColumn": arguments.target,
            "positiveClass": arguments.positive_class,
            "models": [name.strip() for name in arguments.models.split(",") if name.strip()],
            "folds": arguments.folds,
            "repeats": arguments.repeats,
            "randomSeed": arguments.seed,
            "imputation": arguments.impute,
            "l1": arguments.l1,
            "trees": arguments.trees,
            "bootstrapSamples": arguments.bootstrap,
            "patientColumn": arguments.patient_column,
        }
    )
    requireNewFolder(arguments.out, "Classification folder")
    features = readUserTable(arguments, arguments.features, "Features", config.patientColumn)
    clinical = readUserTable(arguments, arguments.clinical, "Clinical", config.patientColumn)
    matrix, target = classificationInput(features, clinical, config)
    # every input check before the progress bar, so that bad input prints exactly one line
    labels, encoding = binaryTarget(target, config.positiveClass, config.targetColumn)
    prepared = prepareFeatures(matrix, config.imputation)
    requireEnoughPerClass(labels.to_numpy(), config.folds, (encoding.negativeLabel, encoding.positiveClass))
    inputs = {
        "features": {"path": str(arguments.features), "sha256": sha256File(arguments.features)},
        "clinical": {"path": str(arguments.clinical), "sha256": sha256File(arguments.clinical)},
        "tableFormat": tableProvenance(arguments),
    }
    with stagedOutputFolder(arguments.out, "Classification folder") as staging:
        with progressBar("classify") as progress:
            comparison = compareClassifiers(matrix, target, config, progress)
        writeComparison(comparison, staging, inputs)
    out = pathlib.Path(arguments.out)
    print(
        f"Target '{config.targetColumn}': {encoding.positiveClass} (positive, {int(labels.sum())}) vs "
        f"{encoding.negativeLabel} ({int(len(labels) - labels.sum())}); {prepared.frame.shape[1]} features"
        + (
            f" ({len(prepared.dropped)} constant or empty dropped: {', '.join(list(prepared.dropped)[:5])})"
            if prepared.dropped
            else ""
        )
    )
    for row in comparison.performance.itertuples():
        print(
            f"  {row.model:>3}: AUC {row.auc_mean:.3f} ± {row.auc_sd:.3f} (pooled {row.auc_pooled:.3f}, "
            f"{100 * row.ci_level:.0f}% CI {row.auc_ci_lower:.3f}–{row.auc_ci_upper:.3f}), "
            f"balanced accuracy {row.balanced_accuracy_mean:.3f}"
        )
    print(f"Performance: {out / 'performance.csv'}; ROC: {out / 'roc.png'}; models: {out / 'models'}")
    return 0
