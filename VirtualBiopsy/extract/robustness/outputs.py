"""Write a robustness assessment: stability table, perturbed features, failures and provenance."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pandas as pd
import SimpleITK as sitk

from VirtualBiopsy import __version__
from VirtualBiopsy.extract.robustness.assess import RobustnessResult
from VirtualBiopsy.files import stagedOutputFolder

#: Files written into the output folder.
STABILITY_CSV, PERTURBED_CSV, FAILURES_CSV, PROVENANCE_JSON = (
    "stability.csv",
    "perturbed_features.csv",
    "failures.csv",
    "robustness.json",
)


def writeRobustnessResult(
    result: RobustnessResult, outDir: str | os.PathLike, parameters: dict
) -> dict[str, pathlib.Path]:
    """Write ``result`` into the new or empty folder ``outDir`` (all files appear at once, or none).

    :param parameters: what produced it (seed, perturbations, ranges, settings, inputs), kept in ``robustness.json``.
    :returns: the written paths by file name.
    :raises InputError: when ``outDir`` is a file or not empty.
    """
    outDir = pathlib.Path(outDir).expanduser()
    with stagedOutputFolder(outDir, "Robustness folder") as staging:
        result.stability.to_csv(staging / STABILITY_CSV, lineterminator="\n")
        result.perturbedFeatures.to_csv(staging / PERTURBED_CSV, index=False, lineterminator="\n")
        result.failures.to_csv(staging / FAILURES_CSV, index=False, lineterminator="\n")
        provenance = {
            "virtualBiopsyVersion": __version__,
            "numpyVersion": np.__version__,
            "pandasVersion": pd.__version__,
            "simpleItkVersion": sitk.Version.VersionString(),
            **parameters,
            "bands": result.stability["band"].value_counts().to_dict(),
        }
        (staging / PROVENANCE_JSON).write_text(json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8")
    return {name: outDir / name for name in (STABILITY_CSV, PERTURBED_CSV, FAILURES_CSV, PROVENANCE_JSON)}
