"""What a cohort run records about itself: software versions, settings and input hashes."""

from __future__ import annotations

import datetime
import pathlib

from VirtualBiopsy.data.manifest import Cohort
from VirtualBiopsy.files import sha256File
from VirtualBiopsy.provenance import packageVersions

#: Distributions whose versions change results.
PACKAGES = (
    "virtual-biopsy",
    "pyradiomics",
    "SimpleITK",
    "numpy",
    "scipy",
    "scikit-learn",
    "lifelines",
    "slicer-core",
    "vtk",
)


def cohortProvenance(cohort: Cohort, settings: dict) -> dict:
    """Provenance of a run over ``cohort`` with ``settings``: versions, time, and the SHA-256 of
    the manifest and of every input file, by patient (paths relative to the manifest's folder).
    """
    inputs = {}
    for case in cohort.cases:
        files = {**case.sequences, **({"mask": case.mask} if case.mask else {})}
        inputs[case.patient] = {
            name: sha256File(path) if pathlib.Path(path).is_file() else "missing" for name, path in files.items()
        }
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": packageVersions(PACKAGES),
        "settings": settings,
        "manifest": {"path": cohort.path.name, "sha256": sha256File(cohort.path)},
        "inputs": inputs,
    }
