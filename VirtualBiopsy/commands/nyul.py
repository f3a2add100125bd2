"""``virtual-biopsy nyul fit``: fit a Nyúl standard scale on a cohort's images of one sequence.

The landmarks come from the voxels in each case's mask (``--mask-column``), else
from the head found by Otsu's threshold. The scale is written as a versioned JSON
file (see :class:`~VirtualBiopsy.harmonize.normalization.NyulModel`) and applied
with ``virtual-biopsy harmonize --method nyul --model LANDMARKS.json``.
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions


def addParser(commands) -> None:
    """Add the ``nyul`` parser and its ``fit`` subcommand."""
    parser = commands.add_parser(
        "nyul",
        help="Nyúl histogram standardization: fit a cohort's standard scale",
        description="Nyúl histogram standardization (Nyúl & Udupa 2000).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = actions.add_parser(
        "fit",
        help="fit the standard scale on the cohort's images of one sequence",
        description="Fit the standard landmarks on every case of the manifest that has the sequence: intensities at "
        "the percentiles of the voxels in the case's mask (--mask-column, else the head by Otsu's threshold), mapped "
        "so that the first and last percentiles land on the standard range, then averaged. Writes the new JSON file "
        "--out; apply it with 'virtual-biopsy harmonize --method nyul --model LANDMARKS.json'.",
    )
    fit.add_argument(
        "--manifest",
        type=pathlib.Path,
        required=True,
        metavar="COHORT.csv",
        help="cohort manifest (patient, site, one column per sequence, mask)",
    )
    fit.add_argument("--sequence", required=True, metavar="NAME", help="the sequence column to fit, e.g. T1c")
    fit.add_argument(
        "--mask-column",
        metavar="COLUMN",
        help="manifest column of the masks the landmarks come from "
        "(e.g. a brain-mask column; default: each image's head, found by Otsu's threshold)",
    )
    fit.add_argument(
        "--percentiles",
        default="1,10,20,30,40,50,60,70,80,90,99",
        help="landmark percentiles, increasing, in (0, 100) (default: %(default)s)",
    )
    fit.add_argument(
        "--standard-range",
        default="0,100",
        metavar="LOW,HIGH",
        help="where the first and last percentiles map (default: %(default)s)",
    )
    fit.add_argument("--out", type=pathlib.Path, required=True, metavar="LANDMARKS.json", help="new JSON file")
    addPathOptions(fit)
    fit.set_defaults(run=runFit)


def runFit(arguments: argparse.Namespace) -> int:
    """Read the cohort, fit the scale and write it."""
    from VirtualBiopsy.commands.extract import readImage
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.data.manifest import MASK_COLUMN, readManifest
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.harmonize.foreground import foregroundMask
    from VirtualBiopsy.harmonize.normalization import fitNyulLandmarks
    from VirtualBiopsy.harmonize.normalization.nyul import checkPercentiles

    out = pathlib.Path(arguments.out)
    if out.exists():
        raise InputError(f"Output file {out} exists already; nothing is overwritten. Choose a new --out or remove it.")
    if out.suffix.lower() != ".json":
        raise InputError(f"--out {out} must name a .json file, e.g. landmarks.json.")
    percentiles = _numbers(arguments.percentiles, "--percentiles")
    standardRange = _numbers(arguments.standard_range, "--standard-range")
    if len(standardRange) != 2:
        raise InputError(f"--standard-range {arguments.standard_range!r}: give two numbers, LOW,HIGH (e.g. 0,100).")
    checkedPercentiles, checkedRange = checkPercentiles(percentiles, standardRange)
    cohort = readManifest(arguments.manifest, **pathOptions(arguments))
    column = arguments.mask_column
    if arguments.sequence not in cohort.sequences:
        raise InputError(
            f"Manifest {cohort.path} has no sequence column '{arguments.sequence}'; it has "
            f"{', '.join(cohort.sequences)}."
        )
    if column is not None and column != MASK_COLUMN and column not in cohort.sequences:
        raise InputError(
            f"Manifest {cohort.path} has no column '{column}' for --mask-column; its columns are "
            f"{', '.join([MASK_COLUMN, *cohort.sequences])}."
        )
    cases = [case for case in cohort.cases if arguments.sequence in case.sequences]
    problems = [f"line {case.line}, patient {case.patient}: {problem}" for case in cases for problem in case.problems]
    problems += [
        f"line {case.line}, patient {case.patient}: no '{column}' mask"
        for case in cases
        if column is not None and _maskPath(case, column) is None
    ]
    if problems:
        raise InputError(
            f"Manifest {cohort.path} has {len(problems)} problem(s); fix them or leave the cases out: "
            + "; ".join(problems[:5])
            + ("; ..." if len(problems) > 5 else "")
        )
    if not cases:
        raise InputError(f"No case of manifest {cohort.path} has a '{arguments.sequence}' image; fill in that column.")
    images = [
        readImage(case.sequences[arguments.sequence], f"{arguments.sequence} image of line {case.line}")
        for case in cases
    ]
    maskPaths = [_maskPath(case, column) if column else None for case in cases]  # each one found: checked above
    masks = [
        readImage(path, f"mask of line {case.line}") if path is not None else foregroundMask(image)
        for case, image, path in zip(cases, images, maskPaths)
    ]
    with progressBar("nyul fit") as progress:
        model = fitNyulLandmarks(images, masks, checkedPercentiles, checkedRange, arguments.sequence, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    landmarks = ", ".join(f"{value:.4g}" for value in model.standardLandmarks)
    print(f"Nyúl standard scale of {arguments.sequence} fitted on {model.fittedOnCount} images: {out}")
    print(f"Standard landmarks at {', '.join(f'{p:g}' for p in model.percentiles)} %: {landmarks}")
    return 0


def _maskPath(case, column: str) -> pathlib.Path | None:
    from VirtualBiopsy.data.manifest import MASK_COLUMN

    return case.mask if column == MASK_COLUMN else case.sequences.get(column)


def _numbers(text: str, option: str) -> list[float]:
    from VirtualBiopsy.errors import InputError

    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise InputError(f"{option} {text!r}: give numbers separated by commas.") from error
    if not values or not all(value == value and abs(value) != float("inf") for value in values):
        raise InputError(f"{option} {text!r}: give finite numbers separated by commas.")
    return values
