"""``virtual-biopsy combat fit|apply``: ComBat harmonization of a feature table.

``fit`` learns the batch effects of a cohort's features (``features.csv`` of
``virtual-biopsy extract``) given a clinical table with the batch column and the
covariates to preserve, and writes a versioned JSON model; ``apply`` harmonizes any
feature table (a single patient included) of known batches with it. Bad input exits
with 2 and one line on stderr; nothing is written then, and nothing is overwritten. The options are the
settings of the ComBat panel (:class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig`).
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addTableOptions
from VirtualBiopsy.errors import InputError


def addParser(commands) -> None:
    """Add the ``combat`` parser and its ``fit`` and ``apply`` subcommands."""
    from VirtualBiopsy.harmonize.combat import METHODS, UNSEEN_BATCH_CHOICES

    parser = commands.add_parser(
        "combat",
        help="ComBat harmonization of feature tables: fit a model on a cohort, apply it to new patients",
        description="Remove site/scanner (batch) effects from a feature table with ComBat (Johnson et al. 2007; "
        "Fortin et al. 2018), preserving biological covariates. 'fit' writes a model file; 'apply' harmonizes "
        "patients of known batches with it, one at a time if need be.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = actions.add_parser(
        "fit",
        help="fit ComBat on a cohort and write the model (JSON)",
        description="Fit ComBat on every column of --features except 'patient' and the pass-through columns. "
        "Covariates whose every value is a number enter linearly; others (and those in --categorical) as "
        "categories, one-hot against their first level in sorted order.",
    )
    _addTableArguments(fit)
    fit.add_argument(
        "--batch", required=True, metavar="COLUMN", help="clinical column of the batch (site, scanner, ...)"
    )
    fit.add_argument("--covariates", default="", metavar="A,B", help="clinical columns to preserve (comma-separated)")
    fit.add_argument(
        "--categorical",
        default="",
        metavar="A,B",
        help="covariates to treat as categories even when they are numbers (e.g. a numeric grade)",
    )
    fit.add_argument(
        "--method",
        choices=METHODS,
        default="parametric",
        help="empirical Bayes: parametric, nonparametric, or meanonly (location only) (default: %(default)s)",
    )
    fit.add_argument(
        "--reference-batch", metavar="VALUE", help="batch to leave unchanged; the others are mapped onto it"
    )
    fit.add_argument(
        "--pass-through",
        default="label",
        metavar="A,B",
        help="feature-table columns that are not features (default: %(default)s; 'patient' always)",
    )
    fit.add_argument("--out", type=pathlib.Path, required=True, metavar="MODEL.json", help="new model file to write")
    fit.set_defaults(run=runFit)

    apply = actions.add_parser(
        "apply",
        help="harmonize a feature table with a fitted model",
        description="Harmonize the model's feature columns of --features; every other column is copied unchanged "
        "and the rows keep their order. Patients of the reference batch are returned unchanged.",
    )
    apply.add_argument(
        "--model", type=pathlib.Path, required=True, metavar="MODEL.json", help="model written by 'combat fit'"
    )
    _addTableArguments(apply)
    apply.add_argument("--batch", metavar="COLUMN", help="clinical column of the batch (default: the model's)")
    apply.add_argument(
        "--unseen-batch",
        choices=UNSEEN_BATCH_CHOICES,
        default="error",
        help="a batch the model was not fitted on: refuse it (error), or leave its patients unchanged "
        "as the reference-batch fallback does (reference) (default: %(default)s)",
    )
    apply.add_argument(
        "--out", type=pathlib.Path, required=True, metavar="HARMONIZED.csv", help="new CSV file to write"
    )
    apply.set_defaults(run=runApply)


def _addTableArguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--features",
        type=pathlib.Path,
        required=True,
        metavar="F.csv",
        help="feature table: 'patient', then features (e.g. features.csv of 'extract --manifest')",
    )
    parser.add_argument(
        "--clinical",
        type=pathlib.Path,
        required=True,
        metavar="C.csv",
        help="clinical table: 'patient', the batch column and the covariates",
    )
    addTableOptions(parser)


def fitConfig(arguments: argparse.Namespace):
    """The :class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig` of ``combat fit``'s options (the ComBat
    panel's settings)."""
    from VirtualBiopsy.harmonize.combatConfig import ComBatConfig

    return ComBatConfig.fromDict(
        {
            "batchColumn": arguments.batch,
            "combatCovariates": arguments.covariates,
            "combatMethod": arguments.method,
            "referenceBatch": arguments.reference_batch or "",
            "categoricalCovariates": arguments.categorical,
            "passThroughColumns": arguments.pass_through,
            "combatModelFile": str(arguments.out),
        }
    )


def applyConfig(arguments: argparse.Namespace, model):
    """The :class:`~VirtualBiopsy.harmonize.combatConfig.ComBatConfig` of ``combat apply``'s options; the batch
    column defaults to the model's."""
    from VirtualBiopsy.harmonize.combatConfig import ComBatConfig

    return ComBatConfig.fromDict(
        {"batchColumn": arguments.batch or model.batchName, "unseenBatch": arguments.unseen_batch}
    )


def runFit(arguments: argparse.Namespace) -> int:
    """Fit and write the model."""
    from VirtualBiopsy.harmonize.combat.cohortTables import fitTables

    out = _requireNewFile(arguments.out, ".json")
    config = fitConfig(arguments)
    features = readCsv(arguments.features, "Feature", arguments)
    clinical = readCsv(arguments.clinical, "Clinical", arguments)
    model = fitTables(features, clinical, **config.fitArguments())
    model.save(out)
    counts = ", ".join(f"{name} ({count})" for name, count in zip(model.batches, model.batchCounts))
    print(
        f"ComBat ({model.method}) fitted on {sum(model.batchCounts)} patients, {len(model.features)} features; "
        f"batches: {counts}" + (f"; reference batch: {model.referenceBatch}" if model.referenceBatch else "")
    )
    print(f"Model: {out}")
    return 0


def runApply(arguments: argparse.Namespace) -> int:
    """Harmonize the table and write it."""
    from VirtualBiopsy.harmonize.combat import ComBatModel
    from VirtualBiopsy.harmonize.combat.cohortTables import harmonizeTable
    from VirtualBiopsy.harmonize.combat.modelFile import writeNewText

    out = _requireNewFile(arguments.out, ".csv")
    model = ComBatModel.load(arguments.model)
    config = applyConfig(arguments, model)
    features = readCsv(arguments.features, "Feature", arguments)
    clinical = readCsv(arguments.clinical, "Clinical", arguments)
    harmonized = harmonizeTable(model, features, clinical, **config.applyArguments())
    writeNewText(harmonized.to_csv(index=False), out)
    print(f"Harmonized {len(harmonized)} row(s), {len(model.features)} features with {arguments.model}: {out}")
    return 0


def readCsv(path: pathlib.Path, what: str, arguments: argparse.Namespace | None = None):
    """A CSV file as text cells (missing cells as NaN), so that pass-through columns are written back as they
    were, after the strict checks of :func:`~VirtualBiopsy.files.tables.readTable` (a column of numbers holds
    only plain numbers; with ``--decimal ,`` they come back with a dot).

    :param arguments: the command line, for ``--decimal`` and ``--text-columns`` (default: a dot decimal).
    :raises InputError: for a missing, empty or unreadable file, or a cell that does not fit its column.
    """
    from VirtualBiopsy.files.tables import TEXT, TableFormat, readTable, textColumnsOf

    tableFormat = (
        TableFormat(arguments.decimal, textColumnsOf(arguments.text_columns)) if arguments is not None else None
    )
    return readTable(path, what, {"patient": TEXT}, tableFormat=tableFormat, asText=True)


def _requireNewFile(path: pathlib.Path, suffix: str) -> pathlib.Path:
    if path.suffix.lower() != suffix:
        raise InputError(f"--out {path} must name a {suffix} file.")
    if path.exists():
        raise InputError(f"Output file {path} exists already; nothing is overwritten. Choose a new --out or remove it.")
    if not path.parent.is_dir():
        raise InputError(f"The folder of --out {path} does not exist; create it first.")
    return path


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]
