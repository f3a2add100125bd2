"""nnU-Net training end to end on tiny virtual-cohort cases: ``virtual-biopsy train`` in a worker process,
a weights-only checkpoint, registration, prediction with the nnU-Net backend; cancel leaves no model folder,
only the finished epochs in the work folder (see test_training_resume.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.cli import main
from VirtualBiopsy.data.virtualCohort import generateCase, generateCohort
from VirtualBiopsy.errors import CancelledError
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.training.config import TrainingConfig
from VirtualBiopsy.segment.training.datasetExport import TrainingCase
from VirtualBiopsy.segment.training.modelTraining import trainModel
from VirtualBiopsy.workers.inlineRunner import InlineRunner

pytestmark = pytest.mark.slow

CHECKPOINT_KEYS = {"network_weights", "init_args", "trainer_name", "inference_allowed_mirroring_axes"}
NNUNET_VARIABLES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnUNet_n_proc_DA", "nnUNet_compile")


def test_train_command_writes_a_weights_only_model_that_registers_and_predicts(tmp_path):
    import torch

    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.segment.backends.nnunetBackend import (
        NnunetOptions,
        predictNnunet,
    )

    manifest = generateCohort(tmp_path / "cohort", cases=4, seed=3, size=32)
    before = {name: os.environ.get(name) for name in NNUNET_VARIABLES}
    out, models = tmp_path / "model", tmp_path / "models"

    status = main(
        [
            "train",
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--iterations-per-epoch",
            "2",
            "--sequences",
            "FLAIR,T1c",
            "--device",
            "cpu",
            "--id",
            "tiny",
            "--models-dir",
            str(models),
        ]
    )

    assert status == 0
    assert {name: os.environ.get(name) for name in NNUNET_VARIABLES} == before
    dataset = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["channel_names"] == {"0": "FLAIR", "1": "T1c"}
    assert dataset["labels"] == {"background": 0, "tumour": 1}
    assert dataset["numTraining"] == 4 and dataset["name"] == "manifest"
    assert list(json.loads((out / "plans.json").read_text(encoding="utf-8"))["configurations"]) == ["3d_fullres"]
    checkpoint = torch.load(out / "fold_all" / "checkpoint_final.pth", map_location="cpu", weights_only=True)
    assert set(checkpoint) == CHECKPOINT_KEYS and checkpoint["trainer_name"] == "nnUNetTrainer"
    assert checkpoint["init_args"]["configuration"] == "3d_fullres"
    training = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert training["settings"]["epochs"] == 1 and len(training["trainLosses"]) == 1
    assert np.isfinite(training["trainLosses"][0])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # scratch folders are gone
    assert "VB000" not in " ".join(str(p) for p in out.rglob("*"))

    registry = ModelRegistry(models)
    entry = registry.get("tiny")
    assert entry.backend == "nnunet" and [i.sequence for i in entry.inputs] == ["FLAIR", "T1c"]
    assert [(label.value, label.name) for label in entry.labels] == [(1, "tumour")]
    assert registry.verify(entry).ok

    case = generateCase(index=9, seed=3, size=32)
    images = [case.images["FLAIR"], case.images["T1c"]]
    result = predictNnunet(images, registry.modelPath(entry), NnunetOptions(device="cpu", useMirroring=False))
    labelMap = result.labelMap
    assert labelMap.GetSize() == images[0].GetSize()
    assert labelMap.GetSpacing() == images[0].GetSpacing() and labelMap.GetOrigin() == images[0].GetOrigin()
    assert labelMap.GetDirection() == images[0].GetDirection()
    assert set(np.unique(sitk.GetArrayViewFromImage(labelMap))) <= {0, 1}
    assert result.probabilities.shape == (2, *sitk.GetArrayViewFromImage(images[0]).shape)


def test_cancelled_training_writes_no_model_and_restores_the_environment(tmp_path):
    cases = []
    for index in range(3):
        case = generateCase(index=index, seed=5, size=32)
        cases.append(TrainingCase(case.patient, {"FLAIR": case.images["FLAIR"]}, case.mask))
    token = CancelToken()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if "epoch 1/" in message:
            token.cancel()

    config = TrainingConfig(
        epochs=3,
        iterationsPerEpoch=1,
        validationIterationsPerEpoch=1,
        device="cpu",
        planOverrides={"featuresPerStage": [4, 8, 16], "patchSize": [16, 16, 16], "batchSize": 2},
        sequences=["FLAIR"],
    )
    before = dict(os.environ)
    with pytest.raises(CancelledError):
        trainModel(cases, tmp_path / "model", config, runner=InlineRunner(), progress=progress, cancel=token)
    assert any("epoch 1/3" in message for message in seen) and not any("epoch 2/3" in m for m in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["model.partial-work"]  # no model folder, no staging folder
    record = json.loads((tmp_path / "model.partial-work/nnunet/checkpoints/checkpoint.json").read_text())
    assert record["epochsDone"] == 2  # cancel is seen at the next report, after epoch 2 was saved
    assert dict(os.environ) == before
