"""``virtual-biopsy outcome explain``: Shapley values (shapiq) and permutation importance of a
saved classifier on a feature table.

Writes the new folder ``--out``: ``shap.csv`` (``patient``, one column per model feature,
``base_value``, ``model_output``: the feature columns plus ``base_value`` sum to
``model_output``, the model's score named in ``explanation.json``: log-odds for lr and gb,
the probability for rf, the decision value for svm), ``permutation_importance.csv``,
``summary.png``/``.svg``, ``waterfall/<patient>.png``/``.svg`` and ``explanation.json``.
The background (base value) is drawn from ``--reference`` (default: the explained table).
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addTableOptions


def addParser(actions) -> None:
    """Add the ``explain`` action."""
    parser = actions.add_parser(
        "explain",
        help="Shapley values and permutation importance of a saved classifier",
        description="Explain a model saved by 'outcome classify' on a feature table with the same features: exact "
        "(or, beyond --budget coalitions, KernelSHAP-estimated) Shapley values of the model's score per patient "
        "and feature, against a background of --background patients of the table; permutation importance as a "
        "cross-check (AUC drop with --clinical, else change of the model output).",
    )
    parser.add_argument(
        "--model",
        type=pathlib.Path,
        required=True,
        metavar="DIR/models/NAME",
        help="saved model folder (model.skops + model.json)",
    )
    parser.add_argument(
        "--features",
        type=pathlib.Path,
        required=True,
        metavar="F.csv",
        help="features table with the model's features in its order",
    )
    parser.add_argument(
        "--clinical",
        type=pathlib.Path,
        metavar="C.csv",
        help="clinical table with the model's target column: permutation importance as AUC drop",
    )
    parser.add_argument(
        "--background",
        type=int,
        default=50,
        metavar="N",
        help="background patients drawn from the reference table (default: %(default)s)",
    )
    parser.add_argument(
        "--reference",
        type=pathlib.Path,
        metavar="R.csv",
        help="features table the background is drawn from, e.g. the training cohort's "
        "(default: --features; needed to explain a single new patient)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the background and sampling (default: %(default)s)"
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=2048,
        metavar="N",
        help="coalitions per patient: exact when 2**features <= N, else KernelSHAP (default: %(default)s)",
    )
    parser.add_argument(
        "--patients", metavar="LIST", help="comma-separated patients to draw waterfalls for (default: all)"
    )
    parser.add_argument("--patient-column", default="patient", help="patient id column")
    addTableOptions(parser)
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR2", help="new or empty output folder")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Explain the model and write the tables and figures."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.commands.tableOptions import readUserTable, tableProvenance
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder, stagedOutputFolder
    from VirtualBiopsy.outcome.classification.artifact import loadClassifier
    from VirtualBiopsy.outcome.classification.cohortInput import (
        cohortTarget,
        featureColumns,
    )
    from VirtualBiopsy.outcome.classification.explanation import explainClassifier
    from VirtualBiopsy.outcome.classification.outputs import writeExplanation
    from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
    from VirtualBiopsy.outcome.classification.trainingData import binaryTarget

    for option, value in (("--background", arguments.background), ("--budget", arguments.budget)):
        if value < (1 if option == "--background" else 2):
            raise InputError(f"{option} is {value}; give at least {1 if option == '--background' else 2}.")
    requireNewFolder(arguments.out, "Explanation folder")
    # The Classifiers panel's settings (ClassificationLogic.explain takes the same config).
    config = ClassifierPanelConfig.fromDict(
        {
            "classifierModelFolder": str(arguments.model),
            "shapBackgroundSize": arguments.background,
            "patientColumn": arguments.patient_column,
            "randomSeed": arguments.seed,
        }
    )
    model = loadClassifier(config.classifierModelFolder)
    table = readUserTable(arguments, arguments.features, "Features", config.patientColumn)
    features = featureColumns(table, config.patientColumn)
    model.modelInput(features)  # the schema check, before the progress bar
    labels = None
    if arguments.clinical is not None:
        target = model.target
        clinical = readUserTable(arguments, arguments.clinical, "Clinical", config.patientColumn)
        values = cohortTarget(table, clinical, config.patientColumn, target.column)
        known = [target.positiveClass, *target.negativeClasses]
        unknown = sorted(set(values.astype(str)) - set(known))
        if unknown:
            raise InputError(
                f"The target column '{target.column}' has value(s) {', '.join(unknown[:5])} the model was "
                f"not trained on (it knows {', '.join(known)}); remove those patients."
            )
        labels, _ = binaryTarget(values, target.positiveClass, target.column)
        labels = labels.reindex(features.index)
    reference = features
    if arguments.reference is not None:
        reference = featureColumns(
            readUserTable(arguments, arguments.reference, "Reference", config.patientColumn), config.patientColumn
        )
        model.modelInput(reference)
    patients = None
    if arguments.patients:
        patients = [p.strip() for p in arguments.patients.split(",") if p.strip()]
        absent = [p for p in patients if p not in features.index]
        if absent:
            raise InputError(f"--patients names patient(s) not in the feature table: {', '.join(absent[:5])}.")
    with stagedOutputFolder(arguments.out, "Explanation folder") as staging:
        with progressBar("explain") as progress:
            explanation = explainClassifier(
                model,
                features,
                config.shapBackgroundSize,
                config.randomSeed,
                arguments.budget,
                labels,
                progress,
                reference=reference,
            )
        details = {
            "model": str(arguments.model),
            "modelName": model.name,
            "modelSha256": model.card["modelSha256"],
            "seed": config.randomSeed,
            "budget": arguments.budget,
            "tableFormat": tableProvenance(arguments),
        }
        writeExplanation(
            explanation.shapley, explanation.importance, explanation.modelInput, staging, patients, details
        )
    shap = explanation.shapley
    print(
        f"Shapley values ({shap.method}) of the {shap.quantity} for {len(shap.values)} patient(s) and "
        f"{shap.values.shape[1]} feature(s); base value {shap.baseValue:.4g} over {len(shap.backgroundPatients)} "
        f"background patient(s): {pathlib.Path(arguments.out) / 'shap.csv'}"
    )
    top = explanation.importance.head(3)["feature"].tolist()
    print(f"Permutation importance ({explanation.importance['scoring'].iloc[0]}), top: {', '.join(top)}")
    return 0
