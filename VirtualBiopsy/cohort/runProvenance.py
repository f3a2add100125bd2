"""What a cohort run records about itself in ``provenance.json``: versions, settings, inputs and analyses."""

from __future__ import annotations

import datetime
import json
import pathlib
from dataclasses import asdict
from typing import Any

import numpy as np

from VirtualBiopsy.cohort.cohortAnalyses import AnalysisRecord
from VirtualBiopsy.cohort.ledger import RunLedger
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.files import sha256File, writeTextAtomically
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
    "torch",
    "nnunetv2",
    "monai",
    "dask",
)


def writeRunProvenance(
    runFolder: pathlib.Path,
    manifest: pathlib.Path,
    clinical: pathlib.Path | None,
    settings: PipelineConfig,
    summaries: dict[str, dict[str, Any]],
    analyses: list[AnalysisRecord],
    pathOptions: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Write ``provenance.json``: the input hashes come from the ledger (each stage's latest inputs), so a run
    that skipped everything does not hash its images again; ``pathOptions`` records how the inputs were read
    (data roots, outside paths allowed, the clinical table's decimal mark and text columns)."""
    ledger = RunLedger(runFolder)
    inputs = {}
    for patient in summaries:
        perStage = {}
        for entry in ledger.history(patient):
            if entry.status == "done":
                perStage[entry.stage] = entry.inputs
        inputs[patient] = perStage
    recorded = analyses or _previousAnalyses(runFolder / "provenance.json")
    document = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": packageVersions(PACKAGES),
        "settings": settings.toDict(),
        "manifest": {"path": str(manifest), "sha256": sha256File(manifest)},
        "clinical": {"path": str(clinical), "sha256": sha256File(clinical)} if clinical else None,
        "inputOptions": pathOptions or {},
        "inputs": inputs,
        "analyses": finiteOrNull(
            [asdict(record) if isinstance(record, AnalysisRecord) else record for record in recorded]
        ),
    }
    return writeTextAtomically(
        json.dumps(document, indent=2, default=str, allow_nan=False), runFolder / "provenance.json"
    )


def _previousAnalyses(path: pathlib.Path) -> list[Any]:
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("analyses") or [])


def finiteOrNull(value: Any) -> Any:
    """``value`` with every NaN or infinite number (an undefined statistic) as ``None``: strict JSON."""
    if isinstance(value, dict):
        return {key: finiteOrNull(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finiteOrNull(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value
