"""``virtual-biopsy run``: the whole pipeline over a cohort manifest, resumable, serial or on Dask."""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys

from VirtualBiopsy.commands.progressBar import progressBar
from VirtualBiopsy.commands.tableOptions import addPathOptions, addTableOptions, pathOptions, tableFormat


def addParser(commands) -> None:
    """Add the ``run`` parser."""
    parser = commands.add_parser(
        "run",
        help="run the whole pipeline over a cohort (resumable, on Dask, with an HTML report)",
        description="Harmonize, segment and extract every patient of a cohort manifest (in parallel with --workers "
        "or --scheduler), then the cohort analyses and the HTML report (DIR/report/index.html). Re-running the "
        "same command skips what is done; --resume also accepts changed inputs or settings and redoes only what "
        "they affect. See docs/cohort-run.md.",
    )
    parser.add_argument(
        "--manifest", type=pathlib.Path, help="cohort manifest (patient, site, one column per sequence, mask)"
    )
    parser.add_argument(
        "--clinical", type=pathlib.Path, help="clinical table (default: clinical.csv beside the manifest)"
    )
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument("--config", type=pathlib.Path, help="pipeline settings YAML (what differs from the defaults)")
    settings.add_argument("--preset", help="a shipped pipeline preset: demo, brain-mr or ct")
    parser.add_argument("--out", type=pathlib.Path, help="the run folder: new, empty, or a run to continue")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run the cases on a local Dask cluster of N processes")
    where.add_argument("--scheduler", help="run the cases on an existing Dask cluster (tcp://HOST:PORT)")
    parser.add_argument("--resume", action="store_true", help="continue DIR's run with changed inputs or settings")
    parser.add_argument("--check", action="store_true", help="check the manifest, files and settings; write nothing")
    addPathOptions(parser)
    addTableOptions(parser)
    parser.add_argument("--log-json", type=pathlib.Path, help="also write the progress events (JSON lines) to FILE")
    parser.add_argument("--gpu-resource", help="send cases only to Dask workers that declare this resource (e.g. GPU)")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report (virtual-biopsy report DIR)")
    parser.add_argument("--print-config", action="store_true", help="print the complete settings (of --preset) as YAML")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Run (or check, or print the settings of) a cohort run; see the parser's description."""
    from VirtualBiopsy.cohort.cohortRun import checkRun, resolveConfig
    from VirtualBiopsy.errors import InputError

    config = resolveConfig(arguments.config, arguments.preset)
    if arguments.print_config:
        print(config.toYaml(), end="")
        return 0
    if arguments.manifest is None:
        raise InputError("Give the cohort with --manifest COHORT.csv (or --print-config for the settings).")
    if arguments.check:
        paths = pathOptions(arguments)
        check = checkRun(
            arguments.manifest,
            arguments.clinical,
            config,
            paths["allowOutsidePaths"],
            paths["dataRoots"],
            tableFormat(arguments),
        )
        for line in check.lines():
            print(line)
        print(
            f"{len(check.errors)} error(s), {len(check.warnings)} warning(s); "
            + ("ready to run." if check.ok else "fix the errors above.")
        )
        return 0 if check.ok else 2
    if arguments.out is None:
        raise InputError("Give the run folder with --out DIR.")
    return _run(arguments, config)


def _run(arguments: argparse.Namespace, config) -> int:
    from VirtualBiopsy.cohort.cohortRun import run as runCohort

    try:
        with progressBar("run") as progress:
            result = runCohort(
                arguments.manifest,
                arguments.out,
                clinical=arguments.clinical,
                config=config,
                workers=arguments.workers,
                scheduler=arguments.scheduler,
                resume=arguments.resume,
                **pathOptions(arguments),
                tableFormat=tableFormat(arguments),
                logJson=arguments.log_json,
                gpuResource=arguments.gpu_resource,
                report=not arguments.no_report,
                progress=progress,
            )
    except KeyboardInterrupt:
        again = shlex.join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv[1:] else "the same command"
        print(
            f"virtual-biopsy run: interrupted; what finished is kept in {arguments.out}. Resume with: {again}",
            file=sys.stderr,
        )
        return 130
    printRunSummary(result)
    return 0


def printRunSummary(result) -> None:
    """The run's outcome for people: cases, failures, key numbers, where things are."""
    print(
        f"Cases: {len(result.done)} of {len(result.cases)} done, {len(result.failed)} failed"
        + (f" (see {result.outDir / 'failures.csv'})" if result.failed else "")
    )
    for patient, reason in list(result.failed.items())[:10]:
        print(f"  {patient}: {reason}")
    if result.domainWarnings:
        print(
            f"Warning: {len(result.domainWarnings)} patient(s) lie outside the segmentation model's training "
            "domain; check their segmentations (case.json, the report):",
            file=sys.stderr,
        )
        for patient, messages in list(result.domainWarnings.items())[:10]:
            print(f"  {patient}: {messages[0]}", file=sys.stderr)
    qa = result.outDir / "segmentation-qa.csv"
    if qa.is_file():
        import pandas as pd

        dice = pd.read_csv(qa)["dice"].dropna()
        if len(dice):
            print(
                f"Automatic vs reference segmentation ({len(dice)} cases): Dice median {dice.median():.3f}, "
                f"mean {dice.mean():.3f}; {qa}"
            )
    for line in analysisLines(result):
        print(line)
    print(f"Features: {result.outDir / 'features.csv'}")
    if result.report is not None:
        print(f"Report: {result.report}")


def analysisLines(result) -> list[str]:
    """The key numbers of the cohort analyses, one line each; a failed analysis says so."""
    lines = []
    for record in result.analyses:
        summary = record.summary
        cohort = result.outDir / "cohort"
        if record.status != "done":
            lines.append(f"{record.name}: {record.status} ({record.error or 'see analyses.csv'})")
        elif record.name == "combat":
            applied = summary.get("applied")
            lines.append(
                f"ComBat by site: {summary['batches']} sites harmonized; {cohort / 'features-combat.csv'}"
                if applied
                else f"ComBat by site: not applied ({summary.get('reason')})"
            )
        elif record.name == "signature":
            lines.append(f"Signature: {summary['features']} of {summary['of']} features; {cohort / 'signature.csv'}")
        elif record.name == "clusters":
            lines.append(
                f"Clusters' survival, log-rank p = {summary['logRankPValue']:.3g}; {cohort / 'kaplan-meier.png'}"
            )
        elif record.name == "cox":
            lines.append(
                f"Cox model ({', '.join(summary['covariates'])}): C-index {summary['cIndex']:.3f} "
                f"(95% CI {summary['cIndexLower']:.3f}–{summary['cIndexUpper']:.3f}); {cohort / 'cox'}"
            )
        elif record.name == "classification":
            lines.append(
                f"Best classifier of {summary['target']['column']}: {summary['bestModel']}, AUC "
                f"{summary['bestAuc']:.3f} ({100 * summary['ciLevel']:.0f}% CI {summary['bestAucLower']:.3f}–"
                f"{summary['bestAucUpper']:.3f}); {cohort / 'classification' / 'performance.csv'}"
            )
        elif record.name == "explanation":
            lines.append(
                f"Shapley values ({summary['method']}) of {summary['model']}'s {summary['quantity']}: "
                f"{cohort / 'classification' / 'shap.csv'}"
            )
        elif record.name == "deepLearning":
            ratios = ", ".join(
                f"{row['patient']} {_ratio(row['inside_over_outside'])} (whole image), "
                f"{_ratio(row['inside_over_outside_within_crop'])} (within the crop)"
                for row in summary["maps"]
            )
            lines.append(
                f"CNN validation AUC {summary['validationAuc']:.3f}; Grad-CAM mean inside the tumour over "
                f"outside: {ratios}; {cohort / 'gradcam'}"
            )
        lines[-1] += f" [{record.seconds:.0f} s]"
    return lines


def _ratio(value) -> str:
    return "undefined" if value is None or value != value else f"{value:.2f}"
