"""``virtual-biopsy extract``: radiomics features of one case (image files and a mask file),
or of a cohort (``--manifest``).

One case writes ``FEATURES.csv`` (one row per (patient, label): columns ``patient``, ``label``,
then the features; an undefined feature is an empty cell) and, next to it,
``FEATURES.provenance.json`` (settings, versions, input hashes, pyradiomics'
diagnostics and the undefined features with their reasons). Nothing is overwritten
and nothing is written when the input is bad.

A cohort (``--manifest COHORT.csv --out DIR``) writes the new folder ``DIR`` with
``features.csv`` (wide), ``features_long.csv``, ``failures.csv``, ``diagnostics.json`` and
``provenance.json`` (see :mod:`VirtualBiopsy.extract.cohortTables`); cases run on a local
Dask cluster with ``--workers N``, on an existing one with ``--scheduler ADDRESS``, else
one after the other. Results are cached by input hashes and settings in ``--cache DIR``
(default: :func:`~VirtualBiopsy.commands.extractCohort.defaultCohortCache`, shared by every run of this user, so a re-run or a
resumed run into a new ``--out`` skips the cases already done; ``--no-cache`` turns it off).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re

from VirtualBiopsy.commands.extractOptions import addExtractionOptions, extractionConfig
from VirtualBiopsy.commands.tableOptions import addPathOptions

#: ``NAME=PATH`` of ``--image``: a sequence name, then the path.
_NAMED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.\-]*)=(.+)$")


def addParser(commands) -> None:
    """Add the ``extract`` parser."""
    parser = commands.add_parser(
        "extract",
        help="extract radiomics features of one case into a CSV file, or of a cohort into a folder",
        description="Extract pyradiomics features of a mask's label(s) on one or more images of one patient. "
        "With --image NAME=PATH (repeatable) features are prefixed by the sequence name (T1c_original_glcm_Contrast); "
        "with a single --image PATH they keep pyradiomics' names. Diagnostics and provenance go to "
        "FEATURES.provenance.json next to the CSV. With --manifest COHORT.csv, every case of the cohort is extracted "
        "into the new folder --out (features.csv, features_long.csv, failures.csv, diagnostics.json, "
        "provenance.json); features are prefixed by sequence when the manifest has several sequence columns.",
    )
    parser.add_argument(
        "--image",
        action="append",
        metavar="PATH|NAME=PATH",
        help="image file (NRRD, NIfTI, MHA, ...); NAME=PATH names a sequence (repeatable)",
    )
    parser.add_argument("--mask", type=pathlib.Path, help="labelmap file on the image grid")
    parser.add_argument(
        "--manifest",
        type=pathlib.Path,
        metavar="COHORT.csv",
        help="cohort manifest (patient, site, one column per sequence, mask, optional label) "
        "instead of --image/--mask; --out is then a new folder",
    )
    parser.add_argument(
        "--label",
        type=int,
        action="append",
        metavar="N",
        help="label of the region of interest (repeatable: one row each; default: 1; with "
        "--manifest: once, for cases without a 'label' cell)",
    )
    addExtractionOptions(parser)
    parser.add_argument("--patient", help="patient ID in the CSV (default: the first image's file name)")
    parser.add_argument(
        "--out", type=pathlib.Path, required=True, help="new CSV file to write (with --manifest: new or empty folder)"
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --manifest: run cases on a local Dask "
        "cluster of N worker processes (default: one after the other in this process)",
    )
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --manifest: run cases on an existing Dask "
        "cluster (tcp://HOST:PORT; its workers need Virtual Biopsy installed)",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        type=pathlib.Path,
        metavar="DIR",
        help="with --manifest: result cache folder, shared by re-runs (default: "
        "$VIRTUAL_BIOPSY_CACHE/radiomics or ~/.cache/virtual-biopsy/radiomics)",
    )
    cache.add_argument("--no-cache", action="store_true", help="with --manifest: neither read nor write the cache")
    addPathOptions(parser, "with --manifest: ")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Extract the features and write the CSV and its provenance sidecar (or, with ``--manifest``, the cohort folder)."""
    import pandas as pd

    if arguments.manifest is not None:
        from VirtualBiopsy.commands.extractCohort import runCohort

        return runCohort(arguments)
    _requireSingleCaseArguments(arguments)

    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.extract.extraction import extractFeatures
    from VirtualBiopsy.files import writeTextAtomically

    out = pathlib.Path(arguments.out)
    sidecar = provenancePath(out)
    for path in (out, sidecar):
        if path.exists():
            raise InputError(
                f"Output file {path} exists already; nothing is overwritten. Choose a new --out or remove it."
            )
    if out.suffix.lower() != ".csv":
        raise InputError(f"--out {out} must name a .csv file, e.g. features.csv.")
    images = parseImages(arguments.image)
    mask = readImage(arguments.mask, "mask")
    config = extractionConfig(arguments)
    settings = config.settings()
    labels = list(dict.fromkeys(arguments.label or [1]))
    patient = arguments.patient or _stem(next(iter(images.values()))[0])

    loaded = {name: readImage(path, f"image '{name}'" if name else "image") for name, (path, _) in images.items()}
    rows, records = [], {}
    # One case takes seconds: no progress bar, so that a failure prints exactly one line on stderr.
    for label in labels:
        result = extractFeatures(
            loaded,
            mask,
            settings,
            label=label,
            minimumRoiVoxels=config.minimumRoiVoxels,
            resampleMaskToImage=config.resampleMaskToImage,
            crop=config.cropToRoi,
        )
        rows.append(
            {"patient": patient, "label": label, **result.features, **{name: None for name in result.undefined}}
        )
        records[str(label)] = {
            "provenance": result.provenance,
            "undefined": result.reasons,
            "diagnostics": result.diagnostics,
        }
    provenance = {
        "patient": patient,
        "inputs": {
            "images": {str(name or ""): str(path) for name, (path, _) in images.items()},
            "mask": str(arguments.mask),
        },
        "settingsName": settings.name,
        "config": config.toDict(),
        "labels": records,
    }
    table = pd.DataFrame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    writeTextAtomically(table.to_csv(index=False), out)
    try:
        writeTextAtomically(json.dumps(provenance, indent=2, default=str), sidecar)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    undefined = sum(len(record["undefined"]) for record in records.values())
    print(
        f"Features: {out} ({len(rows)} row(s), {table.shape[1] - 2} features"
        + (f", {undefined} undefined" if undefined else "")
        + ")"
    )
    print(f"Provenance and diagnostics: {sidecar}")
    return 0


def _requireSingleCaseArguments(arguments: argparse.Namespace) -> None:
    """One case needs ``--image`` and ``--mask``; the cohort options do not apply."""
    from VirtualBiopsy.errors import InputError

    missing = [option for option, value in (("--image", arguments.image), ("--mask", arguments.mask)) if not value]
    if missing:
        raise InputError(
            f"Missing {' and '.join(missing)}: give --image PATH and --mask PATH for one case, "
            "or --manifest COHORT.csv for a cohort."
        )
    cohortOnly = [
        option
        for option, value in (
            ("--workers", arguments.workers),
            ("--scheduler", arguments.scheduler),
            ("--cache", arguments.cache),
            ("--no-cache", arguments.no_cache),
            ("--data-root", arguments.data_roots),
            ("--allow-outside-paths", arguments.allow_outside_paths),
        )
        if value
    ]
    if cohortOnly:
        raise InputError(f"{', '.join(cohortOnly)} apply to --manifest (a cohort) only; drop them for one case.")


def provenancePath(out: pathlib.Path) -> pathlib.Path:
    """The sidecar of ``FEATURES.csv``: ``FEATURES.provenance.json``."""
    return out.with_name(f"{out.stem}.provenance.json")


def parseImages(values: list[str]) -> dict[str | None, tuple[pathlib.Path, None]]:
    """``{sequence name or None: (path, None)}`` from the ``--image`` arguments.

    :raises InputError: for a mix of named and unnamed images, several unnamed ones or a repeated name.
    """
    from VirtualBiopsy.errors import InputError

    images: dict[str | None, tuple[pathlib.Path, None]] = {}
    for value in values:
        match = _NAMED.match(value)
        if match and not pathlib.Path(value).exists():
            name, path = match.group(1), pathlib.Path(match.group(2))
        else:
            name, path = None, pathlib.Path(value)
        if name in images:
            raise InputError(
                f"--image {value}: {'sequence ' + repr(name) if name else 'an unnamed image'} is given twice; "
                "give each sequence once, as NAME=PATH when there are several."
            )
        images[name] = (path, None)
    if len(images) > 1 and None in images:
        raise InputError(
            "Several --image values were given but not all are named; name every sequence: --image T1c=t1c.nrrd "
            "--image FLAIR=flair.nrrd."
        )
    return images


def readImage(path: pathlib.Path, what: str):
    """Read an image file with SimpleITK, keeping its voxel order.

    :raises InputError: for a missing, unreadable or damaged file, or one on a sheared grid.
    """
    from VirtualBiopsy.files import readImageFile
    from VirtualBiopsy.imageGeometry import requireOrthogonalGrid

    image = readImageFile(path, what)
    if image.GetDimension() == 3:
        requireOrthogonalGrid(image, f"{what} file {path}")
    return image


def _stem(path: pathlib.Path) -> str:
    name = pathlib.Path(path).name
    for suffix in (".nii.gz", ".seg.nrrd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return pathlib.Path(name).stem
