"""nnU-Net training resumes from its last finished epoch: a stopped training keeps its preprocessed data and a
checkpoint per epoch in ``<out>.partial-work``; ``resume=True`` continues it and, on the CPU with in-process data
augmentation and the same seed, gives the weights and losses of a training started over (its work folder
discarded, as ``--restart`` does) exactly. A checkpoint changed after it was written, a pickle payload, a record pointing elsewhere, other
settings or other cases are refused before anything is loaded or trained."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nnunetv2")

from VirtualBiopsy.data.virtualCohort import generateCase  # noqa: E402
from VirtualBiopsy.errors import CancelledError, InputError  # noqa: E402
from VirtualBiopsy.segment.training.config import TrainingConfig  # noqa: E402
from VirtualBiopsy.segment.training.datasetExport import TrainingCase  # noqa: E402
from VirtualBiopsy.segment.training.modelTraining import trainModel  # noqa: E402
from VirtualBiopsy.segment.training.nnunetCheckpoints import RECORD_NAME  # noqa: E402
from VirtualBiopsy.segment.training.trainingWork import discardWork, workFolderOf  # noqa: E402
from VirtualBiopsy.workers.inlineRunner import InlineRunner  # noqa: E402

EPOCHS = 2
TINY = {
    "epochs": EPOCHS,
    "iterationsPerEpoch": 2,
    "validationIterationsPerEpoch": 1,
    "device": "cpu",
    "planOverrides": {"featuresPerStage": [4, 8, 16], "patchSize": [16, 16, 16], "batchSize": 2},
    "sequences": ["FLAIR"],
}


def tinyCases(count: int = 3) -> list[TrainingCase]:
    cases = []
    for index in range(count):
        case = generateCase(index=index, seed=5, size=32)
        cases.append(TrainingCase(case.patient, {"FLAIR": case.images["FLAIR"]}, case.mask))
    return cases


def train(out: pathlib.Path, cases=None, stopAfterEpoch: int | None = None, **options):
    """Train the tiny configuration in this process; ``stopAfterEpoch`` stops it (as a kill would) right after
    that epoch's checkpoint."""
    changes = {key: options.pop(key) for key in list(options) if key in TrainingConfig.__dataclass_fields__}

    def progress(fraction: float, message: str) -> None:
        if stopAfterEpoch is not None and message.startswith(f"nnU-Net: epoch {stopAfterEpoch}/"):
            raise CancelledError(f"stopped at: {message}")

    config = TrainingConfig(**{**TINY, **changes})
    return trainModel(cases or tinyCases(), out, config, runner=InlineRunner(), progress=progress, **options)


def checkpointsOf(out: pathlib.Path) -> pathlib.Path:
    return workFolderOf(out) / "nnunet" / "checkpoints"


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> pathlib.Path:
    """A training of 2 epochs stopped right after epoch 1 (made once; tests copy it)."""
    out = tmp_path_factory.mktemp("stopped") / "model"
    with pytest.raises(CancelledError):
        train(out, stopAfterEpoch=1)
    return out


def copyStopped(stopped: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    out = folder / "model"
    shutil.copytree(workFolderOf(stopped), workFolderOf(out))
    return out


def finalWeights(out: pathlib.Path) -> dict:
    return torch.load(out / "fold_all" / "checkpoint_final.pth", map_location="cpu", weights_only=True)[
        "network_weights"
    ]


@pytest.mark.slow
def test_a_resumed_training_equals_a_restarted_one_exactly(stopped, tmp_path):
    work = workFolderOf(stopped)
    assert not stopped.exists() and sorted(p.name for p in work.iterdir()) == ["nnunet", "raw", "resume.json"]
    record = json.loads((checkpointsOf(stopped) / RECORD_NAME).read_text(encoding="utf-8"))
    assert record["epochsDone"] == 1 and record["file"] == "checkpoint_epoch_0001.pth"
    saved = torch.load(checkpointsOf(stopped) / record["file"], map_location="cpu", weights_only=True)
    assert saved["current_epoch"] == 1 and len(saved["logging"]["train_losses"]) == 1

    resumedOut = copyStopped(stopped, tmp_path / "resumed")
    resumed = train(resumedOut, resume=True)
    restartedOut = copyStopped(stopped, tmp_path / "restarted")
    discardWork(workFolderOf(restartedOut))
    restarted = train(restartedOut)

    assert (resumed.result["resumedAfterEpoch"], restarted.result["resumedAfterEpoch"]) == (1, 0)
    assert resumed.result["trainLosses"][0] == saved["logging"]["train_losses"][0]
    assert (
        resumed.result["trainLosses"] == restarted.result["trainLosses"] and len(restarted.result["trainLosses"]) == 2
    )
    assert resumed.result["pseudoDice"] == restarted.result["pseudoDice"]
    ours, theirs = finalWeights(resumedOut), finalWeights(restartedOut)
    assert list(ours) == list(theirs) and all(torch.equal(ours[key], theirs[key]) for key in ours)
    for out in (resumedOut, restartedOut):
        assert not workFolderOf(out).exists()
        assert json.loads((out / "training.json").read_text(encoding="utf-8"))["resumedAfterEpoch"] in (0, 1)


@pytest.mark.slow
def test_a_left_work_folder_needs_resume_or_restart(stopped, tmp_path):
    out = copyStopped(stopped, tmp_path)
    with pytest.raises(InputError, match=r"left its work in .*model\.partial-work\. Resume it with --resume"):
        train(out)
    assert (checkpointsOf(out) / RECORD_NAME).is_file() and not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "change, named",
    [
        ({"epochs": 3}, "epochs 2 → 3"),
        ({"seed": 4}, "seed 0 → 4"),
        ({"cases": 2}, "the training cases"),
    ],
)
def test_resume_with_other_settings_or_cases_is_refused_before_training(stopped, tmp_path, change, named):
    out = copyStopped(stopped, tmp_path)
    before = (checkpointsOf(out) / "checkpoint_epoch_0001.pth").read_bytes()
    cases = tinyCases(change.pop("cases")) if "cases" in change else None
    with pytest.raises(InputError, match=named) as raised:
        train(out, cases, resume=True, **change)
    assert "pass --restart to discard it" in str(raised.value)
    assert (checkpointsOf(out) / "checkpoint_epoch_0001.pth").read_bytes() == before
    assert not (workFolderOf(out) / "raw-check").exists() and not out.exists()


class Payload:
    """Unpickling this object creates the marker file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.slow
@pytest.mark.parametrize("tampering", ["changed bytes", "payload with a forged record", "record pointing elsewhere"])
def test_a_tampered_checkpoint_is_refused_and_never_unpickled(stopped, tmp_path, tampering):
    from VirtualBiopsy.files import sha256File

    out = copyStopped(stopped, tmp_path)
    folder, marker = checkpointsOf(out), tmp_path / "payload-ran"
    path, recordPath = folder / "checkpoint_epoch_0001.pth", folder / RECORD_NAME
    record = json.loads(recordPath.read_text(encoding="utf-8"))
    if tampering == "changed bytes":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        expected = "does not match the SHA-256 recorded when this training wrote it"
    elif tampering == "payload with a forged record":
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        torch.save({**checkpoint, "_best_ema": Payload(marker)}, path)
        recordPath.write_text(json.dumps({**record, "sha256": sha256File(path)}), encoding="utf-8")
        expected = "does not load with weights_only=True"
    else:
        recordPath.write_text(json.dumps({**record, "file": "../../../elsewhere.pth"}), encoding="utf-8")
        expected = "is not a checkpoint record of this program"
    with pytest.raises(InputError, match=expected) as raised:
        train(out, resume=True)
    assert "--restart" in str(raised.value) and not marker.exists() and not out.exists()
    assert not list(folder.glob(".resume.*"))  # the private copy is gone


def test_discarding_a_work_folder_keeps_what_the_training_did_not_write(tmp_path):
    work = workFolderOf(tmp_path / "model")
    for name in ("raw/Dataset500_X/imagesTr", "nnunet/checkpoints"):
        (work / name).mkdir(parents=True)
    (work / "resume.json").write_text("{}")
    (work / "notes.txt").write_text("mine")
    discardWork(work)
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]
    (work / "notes.txt").unlink()
    discardWork(work)
    assert not work.exists()
