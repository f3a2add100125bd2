"""The shipped demo model: listed, verified, weights-only, packaged, and it segments virtual-cohort tumours
it was never trained on (scripts/trainDemoModel.py trains on indices 0–39 and evaluates on 40–59)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, readManifest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "VirtualBiopsy"
UNSEEN_INDICES = (200, 201, 202)


def demoEntry():
    entries = {entry.id: entry for entry in readManifest(SHIPPED_MANIFEST)}
    assert "demo" in entries, "the shipped manifest must list the demo model (scripts/trainDemoModel.py)"
    return entries["demo"]


def test_demo_model_is_listed_with_its_files_and_ships_in_the_package():
    entry = demoEntry()
    folder = SHIPPED_MANIFEST.parent / entry.path
    assert entry.backend == "nnunet" and [i.sequence for i in entry.inputs] == ["FLAIR", "T1c"]
    assert [(label.value, label.name) for label in entry.labels] == [(1, "tumour")]
    assert entry.licence == "Apache-2.0" and "trainDemoModel.py" in entry.source and "2026" in entry.source
    files = [folder / name for name in entry.files]
    assert all(path.is_file() for path in files)
    assert sum(path.stat().st_size for path in files) < 10 * 2**20
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    patterns = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    packaged = {path for pattern in patterns["VirtualBiopsy"] for path in PACKAGE.glob(pattern)}
    assert set(files) <= packaged


@pytest.mark.slow
def test_demo_model_verifies_loads_weights_only_and_segments_unseen_cases(tmp_path):
    import torch

    from VirtualBiopsy.data.virtualCohort import generateCase
    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.segment.backends.nnunetBackend import (
        NnunetOptions,
        predictNnunet,
    )

    registry = ModelRegistry(tmp_path / "user")
    entry = registry.get("demo")
    assert registry.verify(entry).ok
    folder = registry.modelPath(entry)
    checkpoint = torch.load(folder / "fold_all" / "checkpoint_final.pth", map_location="cpu", weights_only=True)
    assert checkpoint["trainer_name"] == "nnUNetTrainer"

    scores = []
    for index in UNSEEN_INDICES:
        case = generateCase(index=index, seed=2026, size=128)
        result = predictNnunet(
            [case.images["FLAIR"], case.images["T1c"]], folder, NnunetOptions(device="cpu", useMirroring=False)
        )
        prediction = sitk.GetArrayViewFromImage(result.labelMap) > 0
        truth = sitk.GetArrayViewFromImage(case.mask) > 0
        scores.append(2 * np.logical_and(prediction, truth).sum() / (prediction.sum() + truth.sum()))
    assert np.median(scores) >= 0.85, scores
