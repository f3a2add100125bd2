"""Long commands killed with SIGKILL part-way, then run again: nothing half-written is left where the output goes,
the inputs are unchanged, and the rerun (with ``--resume`` where the command has it) finishes with the result of
an uninterrupted run.

- ``extract --manifest``: killed after k of n cases; the rerun takes the k finished cases from the result cache and
  writes the uninterrupted run's tables exactly.
- ``styletransfer train``: killed during epoch 2 (after epoch 1's checkpoint); ``--resume`` gives the uninterrupted
  training's weights bit for bit (CPU, one thread, same seed).
- ``train`` (nnU-Net, 2d, two epochs of one iteration): killed after epoch 1's checkpoint; ``--resume`` trains the
  second epoch only, keeps the first epoch's loss, and the model segments. (Equality with an uninterrupted run
  holds too on the CPU; Testing/unit/test_training_resume.py checks it, more cheaply, in one process.)
- ``run``: Testing/e2e/test_cohort_run_kill.py kills a cohort run at four moments and checks the tables.

The commands run in new processes; each kill waits for the file that marks a finished step (a cache entry, a
checkpoint), so it lands at a known point.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from hostile import guarded, runCommand
from killInputs import cacheEntries, command, runUntil, stagingLeftovers, writeTinyStyleConfig

from VirtualBiopsy.data.virtualCohort import generateCohort

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a process tree is POSIX"),
]


def readTable(path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Four virtual cases at 40³ (two of site A, two of site B), written once."""
    return generateCohort(tmp_path_factory.mktemp("kill") / "cohort", cases=4, seed=4, size=40)


def test_extract_killed_after_two_of_four_cases_reruns_to_the_uninterrupted_tables(cohort, tmp_path):
    options = ["--feature-class", "firstorder", "--feature-class", "glcm", "--feature-class", "glrlm"]
    reference = tmp_path / "reference"
    with guarded([cohort.parent], outputs=[tmp_path]):
        result = runCommand("extract", "--manifest", cohort, "--out", reference, "--no-cache", *options)
        assert result.code == 0, result.output

        out, cache = tmp_path / "features", tmp_path / "cache"
        argv = command("extract", "--manifest", cohort, "--out", out, "--cache", cache, *options)
        assert runUntil(argv, lambda: cacheEntries(cache) >= 2, tmp_path / "killed.log")
        finished = cacheEntries(cache)
        assert 2 <= finished < 4 and not out.exists() and stagingLeftovers(out) == []

        rerun = runCommand("extract", "--manifest", cohort, "--out", out, "--cache", cache, *options)
        assert rerun.code == 0, rerun.output
        assert f"4 extracted ({finished} from the cache), 0 failed" in rerun.stdout
        for name in ("features.csv", "features_long.csv", "failures.csv"):
            pd.testing.assert_frame_equal(readTable(out / name), readTable(reference / name), check_exact=True)
        assert len(readTable(out / "features.csv")) == 4 and stagingLeftovers(out) == []


def test_styletransfer_killed_in_epoch_two_resumes_to_the_same_weights(cohort, tmp_path):
    from VirtualBiopsy.files import sha256File
    from VirtualBiopsy.harmonize.styleTransfer.trainingState import CHECKPOINT_NAME
    from VirtualBiopsy.resumableWork import workFolderOf

    config = writeTinyStyleConfig(tmp_path / "tiny.yaml")

    def train(out, *extra):
        return [
            "styletransfer", "train", "--manifest", cohort, "--sequence", "T2", "--source-site", "A",
            "--target-site", "B", "--out", out, "--epochs", "3", "--iterations-per-epoch", "15", "--device", "cpu",
            "--threads", "1", "--config", config, "--models-dir", tmp_path / "models", *extra,
        ]  # fmt: skip

    reference, out = tmp_path / "reference", tmp_path / "model"
    work = workFolderOf(out)
    with guarded([cohort.parent], outputs=[tmp_path]):
        result = runCommand(*train(reference, "--id", "reference"))
        assert result.code == 0, result.output

        assert runUntil(command(*train(out, "--id", "resumed")), (work / CHECKPOINT_NAME).is_file, tmp_path / "log")
        assert not out.exists() and stagingLeftovers(out) == []
        import torch

        saved = torch.load(work / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
        assert saved["epochsDone"] in (1, 2) and len(saved["history"]) == saved["epochsDone"]

        refused = runCommand(*train(out, "--id", "resumed"))
        assert refused.code == 2 and "left its finished epochs in" in refused.output and "--resume" in refused.output

        resumed = runCommand(*train(out, "--id", "resumed", "--resume"))
        assert resumed.code == 0, resumed.output
        assert f"Resumed after epoch {saved['epochsDone']} of 3." in resumed.stdout
        assert sha256File(out / "generator.pt") == sha256File(reference / "generator.pt")
        losses = [pd.read_csv(folder / "losses.csv").drop(columns="seconds") for folder in (out, reference)]
        pd.testing.assert_frame_equal(*losses, check_exact=True)
        assert not work.exists() and stagingLeftovers(out) == []


def test_train_killed_after_the_first_checkpoint_resumes_and_the_model_segments(cohort, tmp_path):
    import numpy as np
    import SimpleITK as sitk
    import torch

    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.segment.backends.nnunetBackend import NnunetOptions, predictNnunet

    out = tmp_path / "model"
    checkpoints = tmp_path / "model.partial-work" / "nnunet" / "checkpoints"
    argv = [
        "train", "--manifest", cohort, "--out", out, "--sequences", "FLAIR", "--configuration", "2d",
        "--epochs", "2", "--iterations-per-epoch", "1", "--device", "cpu",
    ]  # fmt: skip
    with guarded([cohort.parent], outputs=[tmp_path]):
        assert runUntil(command(*argv), (checkpoints / "checkpoint.json").is_file, tmp_path / "log", timeout=400)
        assert not out.exists() and stagingLeftovers(out) == []
        record = json.loads((checkpoints / "checkpoint.json").read_text(encoding="utf-8"))
        assert record["epochsDone"] == 1
        saved = torch.load(checkpoints / record["file"], map_location="cpu", weights_only=True)

        resumed = runCommand(*argv, "--resume")
        assert resumed.code == 0, resumed.output
        assert "Resumed after epoch 1 of 2." in resumed.stdout
        training = json.loads((out / "training.json").read_text(encoding="utf-8"))
        assert training["resumedAfterEpoch"] == 1 and len(training["trainLosses"]) == 2
        assert training["trainLosses"][0] == saved["logging"]["train_losses"][0]
        assert not (tmp_path / "model.partial-work").exists() and stagingLeftovers(out) == []

        image = sitk.ReadImage(str(readManifest(cohort).cases[0].sequences["FLAIR"]))
        labelMap = predictNnunet([image], out, NnunetOptions(device="cpu", useMirroring=False)).labelMap
        assert labelMap.GetSize() == image.GetSize() and labelMap.GetOrigin() == image.GetOrigin()
        assert set(np.unique(sitk.GetArrayViewFromImage(labelMap))) <= {0, 1}
