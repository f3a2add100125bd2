"""Write a virtual cohort to disk: images, ground truth, manifest, clinical data.

Layout of ``outDir`` (written to a hidden sibling folder and moved into place
when complete, so a failed or cancelled run leaves nothing behind)::

    manifest.csv        patient, site, T1c, T2, FLAIR, mask (paths relative to outDir)
    clinical.csv        patient, site, grade, time, event, age, sex
    latent.csv          patient and every latent value (for evaluating methods, never as input)
    provenance.json     seed, size, generator and library versions, site parameters
    VB0001/T1c.nrrd, T2.nrrd, FLAIR.nrrd, mask.nrrd, regions.nrrd, anatomy.nrrd   (compressed NRRD)

Cases come from :func:`~VirtualBiopsy.data.virtualCase.generateCase` (re-exported
here with :class:`~VirtualBiopsy.data.virtualCase.VirtualCase`); the generative
model is described in ``docs/virtual-cohort.md``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import pathlib

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.data.manifest import MASK_COLUMN, writeManifest
from VirtualBiopsy.data.randomFields import Grid
from VirtualBiopsy.data.scanner import SEQUENCES, SITES
from VirtualBiopsy.data.virtualCase import (
    GENERATOR_VERSION,
    VirtualCase,
    checkArguments,
    generateCase,
    patientId,
)
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import stagedOutputFolder, writeImage, writeTextAtomically
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

__all__ = ["VirtualCase", "generateCase", "generateCohort", "writeCase"]

logger = logging.getLogger(__name__)

#: Label maps written next to the images of each case (besides the manifest's ``mask``).
EXTRA_LABEL_MAPS = ("regions", "anatomy")


def writeCase(case: VirtualCase, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """Write one case's images and label maps as compressed NRRD into ``folder`` (created).

    :returns: the written paths, by name (``T1c``, ``T2``, ``FLAIR``, ``mask``, ``regions``, ``anatomy``).
    """
    folder.mkdir(parents=True, exist_ok=False)
    images = {**case.images, MASK_COLUMN: case.mask, "regions": case.regions, "anatomy": case.anatomy}
    paths = {}
    for name, image in images.items():
        paths[name] = folder / f"{name}.nrrd"
        writeImage(image, paths[name], compress=True)
    return paths


def generateCohort(
    outDir: str | os.PathLike,
    cases: int = 24,
    seed: int = 0,
    size: int = 128,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> pathlib.Path:
    """Generate ``cases`` virtual patients and write them into the new folder ``outDir``.

    :param outDir: a folder that does not exist yet or is empty.
    :param cases: number of patients (``VB0001`` ...).
    :param seed: random seed; the same seed, index and size give bit-identical images.
    :param size: voxels per side of the cubic 240 mm grid.
    :param progress: called with ``(fraction, message)`` before each patient.
    :param cancel: checked between patients.
    :returns: the path of ``manifest.csv``.
    :raises InputError: if ``outDir`` is a file or a non-empty folder (nothing is overwritten),
        or for invalid ``cases``, ``seed`` or ``size``.
    :raises CancelledError: when cancelled; nothing is left in ``outDir``.
    """
    checkArguments(seed, size)
    if isinstance(cases, bool) or not isinstance(cases, (int, np.integer)) or cases < 1:
        raise InputError(f"Virtual cohort cases is {cases!r}; give a whole number of patients, at least 1.")
    progress = progress or noProgress
    with stagedOutputFolder(outDir, "Cohort folder") as staging:
        rows, clinical, latent = [], [], []
        for index in range(cases):
            if cancel is not None:
                cancel.raiseIfCancelled()
            progress(index / cases, f"Virtual patient {patientId(index)} ({index + 1}/{cases})")
            case = generateCase(index, seed, size)
            written = writeCase(case, staging / case.patient)
            rows.append(
                {
                    "patient": case.patient,
                    "site": case.site,
                    **{name: written[name].relative_to(staging) for name in (*SEQUENCES, MASK_COLUMN)},
                }
            )
            clinical.append(case.clinical)
            latent.append({"patient": case.patient, **case.latent})
        if cancel is not None:
            cancel.raiseIfCancelled()
        manifest = writeManifest(rows, staging / "manifest.csv")
        pd.DataFrame(clinical).to_csv(staging / "clinical.csv", index=False, lineterminator="\n")
        pd.DataFrame(latent).to_csv(staging / "latent.csv", index=False, lineterminator="\n")
        writeTextAtomically(json.dumps(_provenance(cases, seed, size), indent=2) + "\n", staging / "provenance.json")
    outDir = pathlib.Path(outDir).expanduser()
    logger.info("Wrote a virtual cohort of %d patients (seed %d, %d³) to %s", cases, seed, size, outDir)
    progress(1.0, f"Wrote {cases} virtual patients to {outDir}")
    return outDir / manifest.name


def _provenance(cases: int, seed: int, size: int) -> dict:
    return {
        "generator": "VirtualBiopsy.data.virtualCohort",
        "generatorVersion": GENERATOR_VERSION,
        "virtualBiopsyVersion": __version__,
        "numpyVersion": np.__version__,
        "simpleItkVersion": sitk.Version.VersionString(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "cases": cases,
        "size": size,
        "spacingMm": Grid.forSize(size).spacing,
        "sites": [dataclasses.asdict(site) for site in SITES],
        "model": "docs/virtual-cohort.md",
    }
