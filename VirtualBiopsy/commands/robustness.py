"""``virtual-biopsy robustness``: ICC of every radiomics feature under image perturbations, over a cohort."""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.progressBar import progressBar
from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions
from VirtualBiopsy.errors import InputError

#: The perturbation names and default chain of :mod:`VirtualBiopsy.extract.robustness.perturbations`, repeated
#: here so that building the parser imports nothing heavy (a test keeps them equal).
PERTURBATIONS = ("rotation", "translation", "resampling", "noise", "volume")
DEFAULT_PERTURBATIONS = ("rotation", "translation", "noise", "volume")


def addParser(commands) -> None:
    """Add the ``robustness`` parser."""
    parser = commands.add_parser(
        "robustness",
        help="rank radiomics features by their stability under image perturbations (ICC)",
        description="Perturb every case of a manifest (rotation, translation, noise, mask volume, resampling; "
        "Zwanenburg et al. 2019), extract original pyradiomics features from each copy and compute each feature's "
        "ICC(1,1) over patients. Writes stability.csv (ICC, 95 %% interval, Koo & Li band, stable), "
        "perturbed_features.csv, failures.csv and robustness.json.",
    )
    parser.add_argument("--manifest", type=pathlib.Path, required=True, help="cohort manifest CSV")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="new or empty output folder")
    parser.add_argument("--sequence", help="sequence column to perturb (default: the manifest's first)")
    parser.add_argument("--label", type=int, default=1, help="tumour label in the masks (default: %(default)s)")
    settings = parser.add_mutually_exclusive_group()
    settings.add_argument("--preset", default="mr-default", help="radiomics preset (default: %(default)s)")
    settings.add_argument(
        "--params", type=pathlib.Path, help="pyradiomics parameter file (YAML or JSON) instead of a preset"
    )
    parser.add_argument(
        "--bin-width", type=float, help="override the preset's bin width (e.g. 0.1 for z-scored images)"
    )
    parser.add_argument(
        "--perturbations",
        default=",".join(DEFAULT_PERTURBATIONS),
        help=f"comma-separated chain from {', '.join(PERTURBATIONS)} (default: %(default)s)",
    )
    parser.add_argument("--count", type=int, default=8, help="perturbed copies per case (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the perturbations (default: %(default)s)")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.75,
        help="ICC at or above which a feature counts as stable (default: %(default)s)",
    )
    addPathOptions(parser)
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Assess the cohort's features, write the tables and print the band counts."""
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.extract.robustness import assessRobustness, stableFeatures
    from VirtualBiopsy.extract.robustness.outputs import writeRobustnessResult
    from VirtualBiopsy.extract.robustness.perturbations import (
        PerturbationRanges,
        describe,
    )
    from VirtualBiopsy.files import requireNewFolder, sha256File

    requireNewFolder(arguments.out, "Robustness folder")
    if not -1.0 <= arguments.threshold <= 1.0:
        raise InputError(f"--threshold is {arguments.threshold}; give an ICC between -1 and 1 (e.g. 0.75 for good).")
    if arguments.count < 1:
        raise InputError(f"--count is {arguments.count}; give at least 1 perturbed copy per case.")
    cohort = readManifest(arguments.manifest, **pathOptions(arguments))
    cohort.requireValid()
    sequence = arguments.sequence or cohort.sequences[0]
    if sequence not in cohort.sequences:
        raise InputError(
            f"Sequence '{sequence}' is not a column of {cohort.path} (sequences: "
            f"{', '.join(cohort.sequences)}); pass one of them to --sequence."
        )
    lacking = [case.patient for case in cohort.cases if sequence not in case.sequences or case.mask is None]
    if lacking:
        raise InputError(
            f"Patient(s) {', '.join(lacking)} in {cohort.path} have no {sequence} image or no mask; "
            "fill in those cells or remove the rows."
        )
    perturbations = tuple(name.strip() for name in arguments.perturbations.split(",") if name.strip())
    extractFunction, extractor = buildExtractFunction(arguments)
    masks = {case.patient: case.mask for case in cohort.cases if case.mask is not None}  # all of them: checked above
    cases = {case.patient: _loader(case.sequences[sequence], masks[case.patient]) for case in cohort.cases}
    with progressBar("robustness") as progress:
        result = assessRobustness(
            cases,
            extractFunction,
            perturbations,
            arguments.count,
            arguments.seed,
            label=arguments.label,
            progress=progress,
        )
    inputs = {
        case.patient: {
            "image": str(case.sequences[sequence]),
            "imageSha256": sha256File(case.sequences[sequence]),
            "mask": str(case.mask),
            "maskSha256": sha256File(masks[case.patient]),
        }
        for case in cohort.cases
    }
    parameters = {
        "manifest": str(cohort.path),
        "sequence": sequence,
        "label": arguments.label,
        "inputs": inputs,
        "perturbations": list(perturbations),
        "count": arguments.count,
        "seed": arguments.seed,
        "ranges": describe(PerturbationRanges()),
        "extractor": extractor,
        "threshold": arguments.threshold,
    }
    stable = stableFeatures(result.stability, arguments.threshold)
    result.stability["stable"] = result.stability.index.isin(stable)
    files = writeRobustnessResult(result, arguments.out, parameters)
    bands = result.stability["band"].value_counts()
    print(
        "ICC bands: "
        + ", ".join(f"{band} {bands.get(band, 0)}" for band in ("excellent", "good", "moderate", "poor", "undefined"))
    )
    print(
        f"Stable features (ICC ≥ {arguments.threshold}): {len(stable)} "
        f"of {len(result.stability)}; failures: {len(result.failures)} (see failures.csv)"
    )
    print(f"Stability: {files['stability.csv']}\nPerturbed features: {files['perturbed_features.csv']}")
    return 0


def buildExtractFunction(arguments: argparse.Namespace):
    """The feature extractor to assess (the extraction engine with the chosen preset or
    parameter file) and its description for the provenance record."""
    from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
    from VirtualBiopsy.extract.robustness.extractorAdapter import engineExtractFunction

    settings = (
        RadiomicsSettings.fromFile(arguments.params)
        if arguments.params
        else RadiomicsSettings.fromPreset(arguments.preset)
    )
    if arguments.bin_width is not None:
        if not arguments.bin_width > 0:
            raise InputError(f"Bin width is {arguments.bin_width}; give a positive intensity step per bin (e.g. 25).")
        settings = settings.replaced(binWidth=arguments.bin_width)
    return engineExtractFunction(settings), {"settings": settings.toDict(), "settingsSha256": settings.sha256()}


def _loader(imagePath: pathlib.Path, maskPath: pathlib.Path):
    def load():
        import SimpleITK as sitk

        try:
            return sitk.ReadImage(str(imagePath)), sitk.ReadImage(str(maskPath))
        except RuntimeError as error:
            raise InputError(
                f"Could not read {imagePath} or {maskPath}: {error}; check that they are images."
            ) from error

    return load
