"""``virtual-biopsy demo``: the walking pipeline on a generated virtual cohort."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``demo`` parser."""
    parser = commands.add_parser(
        "demo",
        help="generate a virtual cohort and run the whole pipeline on it (synth + run)",
        description="Generate a virtual cohort (DIR/virtual-cohort) and run the whole pipeline on it with the demo "
        "preset (DIR/run, as virtual-biopsy run does): harmonize, segment and extract per patient (one .mrb each), "
        "ComBat, signature, clusters and Kaplan-Meier, a Cox model, grade classifiers with Shapley values, a small "
        "3D CNN with Grad-CAM maps, and the HTML report (DIR/run/report/index.html).",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("virtual-biopsy-demo"),
        help="new or empty output folder, or an earlier demo's folder to finish it (default: %(default)s)",
    )
    parser.add_argument("--cases", type=int, default=24, help="number of virtual patients (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the cohort (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="voxels per image side (default: %(default)s)")
    parser.add_argument(
        "--config", type=pathlib.Path, help="pipeline settings YAML: what differs from the shipped demo preset"
    )
    parser.add_argument("--workers", type=int, help="run the patients on a local Dask cluster of N processes")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="on an earlier demo's folder, accept changed --config settings and redo only what they affect",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Run the demo and print where its outputs are."""
    from VirtualBiopsy.cohort.demo import runDemo
    from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
    from VirtualBiopsy.commands.run import printRunSummary

    config = PipelineConfig.fromYaml(arguments.config, PipelineConfig.preset("demo")) if arguments.config else None
    with progressBar("demo") as progress:
        result = runDemo(
            arguments.out,
            cases=arguments.cases,
            seed=arguments.seed,
            size=arguments.size,
            config=config,
            workers=arguments.workers,
            resume=arguments.resume,
            progress=progress,
        )
    printRunSummary(result)
    print(f"Virtual cohort: {arguments.out / 'virtual-cohort'}\nScenes (open in 3D Slicer): {result.outDir / 'cases'}")
    return 0
