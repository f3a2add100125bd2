"""The ``virtual-biopsy`` command: headless runs of the pipeline.

Every subcommand has ``--help``, shows a progress bar on long work and exits
with 0 only on success (2 for bad input, 1 for any other failure).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import pathlib
import sys
from collections.abc import Iterator

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import VirtualBiopsyError
from VirtualBiopsy.progress import ProgressCallback


@contextlib.contextmanager
def progressBar(description: str) -> Iterator[ProgressCallback]:
    """A terminal progress bar driven by a ``progress(fraction, message)`` callback."""
    from tqdm import tqdm

    with tqdm(total=100, desc=description, unit="%", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}") as bar:

        def report(fraction: float, message: str) -> None:
            bar.update(max(0, round(100 * fraction) - bar.n))
            bar.set_postfix_str(message, refresh=True)

        yield report


def _demo(arguments: argparse.Namespace) -> int:
    from VirtualBiopsy.cohort.demo import runDemo
    from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig

    config = PipelineConfig.fromYaml(arguments.config) if arguments.config else None
    with progressBar("demo") as progress:
        result = runDemo(arguments.out, cases=arguments.cases, seed=arguments.seed, size=arguments.size,
                         config=config, progress=progress)
    print(f"Patients processed: {len(result.scenes)} ({result.failures} failed, see {result.failuresCsv})")
    print(f"Automatic vs ground-truth segmentation: mean Dice {result.meanDice:.3f}")
    print(f"Clusters' survival, log-rank p = {result.logRankPValue:.3g}")
    print(f"Features: {result.featuresCsv}\nClusters: {result.clustersCsv}\nKaplan–Meier: {result.kaplanMeierPng}")
    print(f"Scenes (open in 3D Slicer): {result.outDir / 'scenes'}")
    return 0


def _synth(arguments: argparse.Namespace) -> int:
    from VirtualBiopsy.data.virtualCohort import generateCohort

    with progressBar("synth") as progress:
        manifest = generateCohort(arguments.out, cases=arguments.cases, seed=arguments.seed, size=arguments.size,
                                  progress=progress)
    print(f"Manifest: {manifest}\nClinical data: {manifest.parent / 'clinical.csv'}")
    return 0


def _sampleData(arguments: argparse.Namespace) -> int:
    from VirtualBiopsy.data.sampleData import fetchSampleData

    with progressBar("sample-data") as progress:
        cases = fetchSampleData(arguments.out, cases=arguments.case or None, progress=progress)
    for case in cases.values():
        print(f"{case.name}: {case.image}  {case.label}")
    return 0


def buildParser() -> argparse.ArgumentParser:
    """The argument parser of ``virtual-biopsy``."""
    parser = argparse.ArgumentParser(
        prog="virtual-biopsy",
        description="Virtual Biopsy: harmonize, segment, extract and model outcome from MR images, headless.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to the terminal")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the walking pipeline on a generated virtual cohort",
                               description="Run the walking pipeline on a virtual cohort: "
                               "generate it, harmonize, segment and extract per patient (one .mrb each), then "
                               "cluster the patients and compare their survival.")
    demo.add_argument("--out", type=pathlib.Path, default=pathlib.Path("virtual-biopsy-demo"),
                      help="new or empty output folder (default: %(default)s)")
    demo.add_argument("--cases", type=int, default=24, help="number of virtual patients (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the cohort (default: %(default)s)")
    demo.add_argument("--size", type=int, default=128, help="voxels per image side (default: %(default)s)")
    demo.add_argument("--config", type=pathlib.Path, help="pipeline settings YAML (default: the shipped demo preset)")
    demo.set_defaults(run=_demo)

    synth = commands.add_parser("synth", help="write a virtual cohort (images, masks, manifest, clinical data)",
                                description="Write a seeded virtual cohort of MR-like multi-sequence cases with "
                                "tumours, ground truth, site effects and survival outcomes.")
    synth.add_argument("--out", type=pathlib.Path, required=True, help="new or empty output folder")
    synth.add_argument("--cases", type=int, default=24, help="number of patients (default: %(default)s)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    synth.add_argument("--size", type=int, default=128, help="voxels per image side (default: %(default)s)")
    synth.set_defaults(run=_synth)

    sample = commands.add_parser("sample-data", help="fetch pyradiomics' public MR and CT sample cases",
                                 description="Fetch pyradiomics' sample cases (brain1, brain2, breast1, lung1, "
                                 "lung2) from its source distribution on PyPI through pip, check their SHA-256 "
                                 "and cache them.")
    sample.add_argument("--out", type=pathlib.Path, help="folder to copy the cases to (default: the cache only)")
    sample.add_argument("--case", action="append", help="a case to fetch (repeatable; default: all)")
    sample.set_defaults(run=_sampleData)
    return parser


def _configureLogging(verbose: bool) -> None:
    """Log to the terminal at INFO (``--verbose``) or WARNING; pyradiomics' chatter only at ERROR."""
    level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("radiomics").setLevel(logging.INFO if verbose else logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = buildParser().parse_args(argv)
    _configureLogging(arguments.verbose)
    try:
        return arguments.run(arguments)
    except VirtualBiopsyError as error:
        print(f"virtual-biopsy {arguments.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"virtual-biopsy {arguments.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
