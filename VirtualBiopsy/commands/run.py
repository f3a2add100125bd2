"""``virtual-biopsy run``: the whole pipeline over a cohort manifest, resumable, serial or on Dask."""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys

from VirtualBiopsy.commands.progressBar import progressBar


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
    parser.add_argument("--allow-outside-paths", action="store_true", help="accept paths outside the manifest's folder")
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
        check = checkRun(arguments.manifest, arguments.clinical, config, arguments.allow_outside_paths)
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
                allowOutsidePaths=arguments.allow_outside_paths,
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
    for record in result.analyses:
        print(
            f"{record.name}: {record.status}"
            + (f" ({record.error})" if record.error else "")
            + f" [{record.seconds:.0f} s]"
        )
    print(f"Features: {result.outDir / 'features.csv'}")
    if result.report is not None:
        print(f"Report: {result.report}")
