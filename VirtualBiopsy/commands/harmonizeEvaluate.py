"""``virtual-biopsy harmonize evaluate``: the measured effect of harmonization on a cohort's features.

For each method (``none``: the features as given; ``combat``: harmonized by ComBat; ``NAME``:
the table given as ``--features NAME=PATH``, e.g. features of Nyúl-standardized images;
``NAME+combat``), how well the batch can be predicted (cross-validated AUC), per-feature
Kruskal–Wallis tests across batches, and a task classifier trained on one batch and tested
on another. Writes ``--out`` (new or empty folder) all at once; bad input exits 2 with one
line on stderr and writes nothing.
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.errors import InputError


def addEvaluateParser(actions) -> None:
    """Add ``evaluate`` to the ``harmonize`` parser's actions."""
    from VirtualBiopsy.harmonize.combat import METHODS
    from VirtualBiopsy.harmonize.evaluation import MODELS

    parser = actions.add_parser(
        "evaluate",
        help="measure the site effect before and after harmonization methods (feature tables)",
        description="Evaluate harmonization methods on a cohort's feature tables: (1) cross-validated AUC of "
        "predicting the batch (lower is better; 0.5 = not predictable), with standardization and the classifier "
        "refitted in each fold; (2) per-feature Kruskal-Wallis across batches (fraction significant after "
        "Benjamini-Hochberg and Bonferroni, median H); (3) a --task classifier trained on one batch and tested "
        "on another (AUC, and accuracy at a threshold chosen on the training batch). ComBat is fitted on every "
        "patient with the batch and --covariates, never with the task. Writes site_predictability.csv, "
        "kruskal_wallis.csv, kruskal_wallis_summary.csv, downstream.csv, summary.md and "
        "feature_distributions.png/.svg and provenance.json.",
    )
    parser.add_argument(
        "--features",
        action="append",
        required=True,
        metavar="[NAME=]F.csv",
        help="feature table ('patient', then features); the first without NAME is the features as "
        "given (methods none, combat); NAME=F.csv adds method NAME (and NAME+combat). Repeatable.",
    )
    parser.add_argument(
        "--clinical",
        type=pathlib.Path,
        required=True,
        metavar="C.csv",
        help="clinical table: 'patient', the batch and task columns, the covariates",
    )
    parser.add_argument("--batch", required=True, metavar="COLUMN", help="clinical column of the batch (site, ...)")
    parser.add_argument("--task", metavar="COLUMN", help="clinical column of a two-class task (e.g. grade)")
    parser.add_argument(
        "--methods",
        metavar="A,B",
        help="methods to evaluate, e.g. none,combat,nyul,nyul+combat (default: none, combat and every NAME table)",
    )
    parser.add_argument(
        "--covariates", default="", metavar="A,B", help="clinical columns ComBat preserves (never the task)"
    )
    parser.add_argument(
        "--combat-method", choices=METHODS, default="parametric", help="ComBat's empirical Bayes (default: %(default)s)"
    )
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        metavar="A,B",
        help=f"classifiers, from {', '.join(MODELS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--pairs", metavar="TRAIN:TEST,...", help="downstream batch pairs (default: every ordered pair)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the site cross-validation (default: 5)")
    parser.add_argument("--folds", type=int, default=5, help="folds of the site cross-validation (default: 5)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    parser.add_argument("--top-features", type=int, default=4, help="features plotted (default: 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits and forests (default: 0)")
    parser.add_argument("--out", type=pathlib.Path, required=True, metavar="DIR", help="new or empty folder")
    parser.set_defaults(run=runEvaluate)


def runEvaluate(arguments: argparse.Namespace) -> int:
    """Check every input, evaluate, and write the folder."""
    from VirtualBiopsy.commands.combat import _names, readCsv
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.files import requireNewFolder, sha256File
    from VirtualBiopsy.harmonize.evaluation import (
        MODELS,
        EvaluationSettings,
        evaluateHarmonization,
        methodTables,
        parseMethods,
        prepareTables,
        writeEvaluation,
    )

    imageOptions = [f"--{name}" for name in ("image", "mask", "method") if getattr(arguments, name, None) is not None]
    if imageOptions:
        raise InputError(
            f"{', '.join(imageOptions)} belong(s) to harmonizing an image, not to 'harmonize evaluate'; drop them."
        )
    requireNewFolder(arguments.out, "Evaluation folder")
    models = _names(arguments.models)
    unknown = [model for model in models if model not in MODELS]
    if unknown or not models:
        raise InputError(f"--models {arguments.models}: choose from {', '.join(MODELS)}.")
    for option in ("repeats", "folds", "top_features"):
        if getattr(arguments, option) < (2 if option == "folds" else 1):
            raise InputError(
                f"--{option.replace('_', '-')} {getattr(arguments, option)} is too small; give "
                f"{'2' if option == 'folds' else '1'} or more."
            )
    if not 0 < arguments.alpha < 1:
        raise InputError(f"--alpha {arguments.alpha} must lie between 0 and 1 (e.g. 0.05).")
    specs = parseFeatureOptions(arguments.features)
    tables = {name: readCsv(path, f"Feature table '{name}'") for name, path in specs.items()}
    clinical = readCsv(arguments.clinical, "Clinical")
    data = prepareTables(tables, clinical, arguments.batch, arguments.task, _names(arguments.covariates))
    methods = parseMethods(arguments.methods, data)
    pairs = parsePairs(arguments.pairs)
    unknown = sorted({name for pair in pairs or () for name in pair} - set(data.batches))
    if unknown:
        raise InputError(
            f"--pairs names batch(es) {', '.join(unknown)} that column '{arguments.batch}' does not "
            f"have ({', '.join(data.batches)})."
        )
    methodTables(data, methods, arguments.combat_method)  # ComBat's refusals come before any progress output
    settings = EvaluationSettings(
        methods=methods,
        combatMethod=arguments.combat_method,
        models=tuple(models),
        repeats=arguments.repeats,
        folds=arguments.folds,
        alpha=arguments.alpha,
        pairs=pairs,
        topFeatures=arguments.top_features,
        seed=arguments.seed,
    )
    with progressBar("harmonize evaluate") as progress:
        result = evaluateHarmonization(data, settings, progress)
    files = {**{f"features:{name}": path for name, path in specs.items()}, "clinical": arguments.clinical}
    inputs = {name: {"path": str(path), "sha256": sha256File(path)} for name, path in files.items()}
    paths = writeEvaluation(result, arguments.out, {"inputs": inputs})
    for row in result.sitePredictability.itertuples():
        print(f"site AUC {row.method} ({row.model}): {row.auc:.3f} ± {row.aucSd:.3f}")
    print(
        f"Evaluation of {len(result.tables)} method(s) on {len(data.batch)} patients: {arguments.out} "
        f"({len(paths)} files; see summary.md)"
    )
    return 0


def parseFeatureOptions(options: list[str]) -> dict[str, pathlib.Path]:
    """``{name: path}`` from ``--features`` values; the unnamed table is the first, under its file stem.

    :raises InputError: for no or two unnamed tables, a repeated name or a missing file.
    """
    from VirtualBiopsy.harmonize.evaluation.tables import TABLE_NAME

    unnamed, named = None, {}
    for option in options:
        name, separator, path = option.partition("=")
        if separator and TABLE_NAME.match(name):
            if name in named:
                raise InputError(f"--features {name}=... is given twice; give each table name once.")
            named[name] = pathlib.Path(path)
        elif unnamed is None:
            unnamed = pathlib.Path(option)
        else:
            raise InputError(
                f"Two --features tables without a NAME ({unnamed}, {option}); only the features as given "
                "go without one: write the others as NAME=PATH (e.g. nyul=features_nyul.csv)."
            )
    for tablePath in ([unnamed] if unnamed else []) + list(named.values()):
        if not tablePath.is_file():
            raise InputError(f"Feature table not found: {tablePath}; give the path of an existing CSV file.")
    if unnamed is None:
        raise InputError(
            "No --features table without a NAME: give the features as given (--features F.csv) besides "
            "the NAME=PATH tables; methods none and combat use it."
        )
    base = "asGiven" if unnamed.stem in named or not _validName(unnamed.stem) else unnamed.stem
    return {base: unnamed, **named}


def parsePairs(text: str | None) -> list[tuple[str, str]] | None:
    """``[(train, test), ...]`` from ``A:B,B:A``; ``None`` for every ordered pair."""
    if not text:
        return None
    pairs = []
    for item in text.split(","):
        train, separator, test = item.strip().partition(":")
        if not separator or not train.strip() or not test.strip():
            raise InputError(f"--pairs item '{item}' is not TRAIN:TEST (e.g. SiteA:SiteB).")
        pairs.append((train.strip(), test.strip()))
    return pairs


def _validName(name: str) -> bool:
    from VirtualBiopsy.harmonize.evaluation.tables import RESERVED_NAMES, TABLE_NAME

    return bool(TABLE_NAME.match(name)) and name.lower() not in RESERVED_NAMES
