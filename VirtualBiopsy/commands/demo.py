"""``virtual-biopsy demo``: the walking pipeline on a generated virtual cohort."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``demo`` parser."""
    parser = commands.add_parser(
        "demo", help="run the walking pipeline on a generated virtual cohort",
        description="Run the walking pipeline on a virtual cohort: generate it, harmonize, segment and extract "
        "per patient (one .mrb each), then cluster the patients and compare their survival.",
    )
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("virtual-biopsy-demo"),
                        help="new or empty output folder (default: %(default)s)")
    parser.add_argument("--cases", type=int, default=24, help="number of virtual patients (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the cohort (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="voxels per image side (default: %(default)s)")
    parser.add_argument("--config", type=pathlib.Path, help="pipeline settings YAML (default: the shipped demo preset)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Run the demo and print where its outputs are."""
    from VirtualBiopsy.cohort.demo import runDemo
    from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig

    config = PipelineConfig.fromYaml(arguments.config) if arguments.config else None
    with progressBar("demo") as progress:
        result = runDemo(arguments.out, cases=arguments.cases, seed=arguments.seed, size=arguments.size,
                         config=config, progress=progress)
    print(f"Patients processed: {len(result.scenes)} ({result.failures} failed, see {result.failuresCsv})")
    print(f"Automatic vs ground-truth segmentation: Dice median {result.medianDice:.3f}, mean {result.meanDice:.3f}")
    print(f"Clusters' survival, log-rank p = {result.logRankPValue:.3g}")
    print(f"Features: {result.featuresCsv}\nClusters: {result.clustersCsv}\nKaplan–Meier: {result.kaplanMeierPng}")
    print(f"Scenes (open in 3D Slicer): {result.outDir / 'scenes'}")
    return 0
