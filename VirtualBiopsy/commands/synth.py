"""``virtual-biopsy synth``: write a virtual cohort."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar


def addParser(commands) -> None:
    """Add the ``synth`` parser."""
    parser = commands.add_parser(
        "synth",
        help="write a virtual cohort (images, masks, manifest, clinical data)",
        description="Write a seeded virtual cohort of MR-like multi-sequence cases with tumours, ground truth, "
        "site effects and survival outcomes.",
    )
    parser.add_argument("--out", type=pathlib.Path, required=True, help="new or empty output folder")
    parser.add_argument("--cases", type=int, default=24, help="number of patients (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="voxels per image side (default: %(default)s)")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Write the cohort and print its manifest's path."""
    from VirtualBiopsy.data.virtualCohort import generateCohort

    with progressBar("synth") as progress:
        manifest = generateCohort(
            arguments.out, cases=arguments.cases, seed=arguments.seed, size=arguments.size, progress=progress
        )
    print(f"Manifest: {manifest}\nClinical data: {manifest.parent / 'clinical.csv'}")
    return 0
