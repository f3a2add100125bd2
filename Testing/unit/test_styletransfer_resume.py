"""Style-transfer training resumes from its last finished epoch: the work folder's checkpoint loads with
``weights_only=True`` only, a resumed training gives the uninterrupted training's weights bit for bit (CPU, one
thread, same seed), and a work folder of other settings or inputs, a damaged or hostile checkpoint, or a work
folder left without ``resume``/``restart`` are refused with the way on."""

from __future__ import annotations

import functools
import json
import pathlib

import pytest

torch = pytest.importorskip("torch")

from styleTransferModels import TINY_CONFIG, sessionFolder, siteImages  # noqa: E402

from VirtualBiopsy.errors import InputError  # noqa: E402
from VirtualBiopsy.files import sha256File  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.training import trainCycleGan, trainingArguments  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.trainingState import CHECKPOINT_NAME  # noqa: E402
from VirtualBiopsy.resumableWork import workFolderOf  # noqa: E402

pytestmark = pytest.mark.slow

EPOCHS, ITERATIONS = 3, 2


class Killed(Exception):
    """Stands for SIGKILL: raised from the progress callback, it stops the training at a chosen step."""


def arguments(out: pathlib.Path, **changes) -> dict:
    options = {"epochs": EPOCHS, "seed": 0, "resume": False, "restart": False, **changes}
    config = CycleGanConfig.fromDict({**TINY_CONFIG, **options.pop("config", {})})
    source = options.pop("source", siteImages("SiteA"))
    return trainingArguments(
        source,
        siteImages("SiteB"),
        str(out),
        "T2",
        "SiteA",
        "SiteB",
        config,
        options.pop("epochs"),
        ITERATIONS,
        "cpu",
        threads=1,
        **options,
    )


def train(out: pathlib.Path, stopAt: str | None = None, **changes) -> dict:
    """Train; with ``stopAt``, stop (raise :class:`Killed`) at the first progress message that starts with it."""

    def progress(fraction: float, message: str) -> None:
        if stopAt is not None and message.startswith(stopAt):
            raise Killed(message)

    return trainCycleGan(arguments(out, **changes), progress)


@functools.cache
def straight() -> tuple[pathlib.Path, dict]:
    """The uninterrupted training of EPOCHS epochs (made once)."""
    out = sessionFolder() / "resume-reference"
    return out, train(out)


def killedAfterFirstEpoch(out: pathlib.Path) -> pathlib.Path:
    """Train until the middle of epoch 2; returns the work folder, which holds epoch 1's checkpoint."""
    with pytest.raises(Killed):
        train(out, stopAt="epoch 2/3, iteration 2/2")
    return workFolderOf(out)


def withoutSeconds(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in epoch.items() if key != "seconds"} for epoch in history]


def test_a_resumed_training_equals_the_uninterrupted_one_bit_for_bit(tmp_path):
    reference, expected = straight()
    out = tmp_path / "model"
    work = killedAfterFirstEpoch(out)
    assert not out.exists() and [p.name for p in work.iterdir()] == [CHECKPOINT_NAME]
    checkpoint = torch.load(work / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert checkpoint["epochsDone"] == 1 and [epoch["epoch"] for epoch in checkpoint["history"]] == [1]
    assert set(checkpoint["networks"]) == {
        "generator",
        "reverseGenerator",
        "sourceDiscriminator",
        "targetDiscriminator",
    }
    assert len(checkpoint["pools"]["source"]) == ITERATIONS * TINY_CONFIG["batchSize"]  # pool of 4 filled in epoch 1

    result = train(out, resume=True)

    assert result["resumedAfterEpoch"] == 1 and not work.exists()
    assert sha256File(out / "generator.pt") == sha256File(reference / "generator.pt")
    assert withoutSeconds(result["history"]) == withoutSeconds(expected["history"])
    document = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert document["training"]["resumedAfterEpoch"] == 1 and len(document["losses"]) == EPOCHS


def test_a_training_killed_while_writing_the_model_folder_resumes_to_the_same_folder(tmp_path):
    reference, _ = straight()
    out = tmp_path / "model"
    with pytest.raises(Killed):
        train(out, stopAt="writing the model folder")
    assert not out.exists()
    assert torch.load(workFolderOf(out) / CHECKPOINT_NAME, weights_only=True)["epochsDone"] == EPOCHS
    result = train(out, resume=True)
    assert result["resumedAfterEpoch"] == EPOCHS and result["iterationsPerSecond"] == 0.0
    assert sha256File(out / "generator.pt") == sha256File(reference / "generator.pt")


def test_a_left_work_folder_needs_resume_or_restart(tmp_path):
    reference, _ = straight()
    out = tmp_path / "model"
    work = killedAfterFirstEpoch(out)
    before = sha256File(work / CHECKPOINT_NAME)
    with pytest.raises(
        InputError, match=r"left its finished epochs in .*model\.partial-work\. Resume it with --resume"
    ):
        arguments(out)
    with pytest.raises(InputError, match="either resume"):
        arguments(out, resume=True, restart=True)
    assert sha256File(work / CHECKPOINT_NAME) == before and not out.exists()
    result = train(out, restart=True)
    assert result["resumedAfterEpoch"] == 0 and not work.exists()
    assert sha256File(out / "generator.pt") == sha256File(reference / "generator.pt")


def test_resume_without_a_work_folder_trains_from_the_start(tmp_path):
    reference, _ = straight()
    result = train(tmp_path / "model", resume=True)
    assert result["resumedAfterEpoch"] == 0
    assert sha256File(tmp_path / "model" / "generator.pt") == sha256File(reference / "generator.pt")


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"epochs": 4}, "epochs 3 → 4"),
        ({"seed": 1}, "seed 0 → 1"),
        ({"config": {"cycleWeight": 5.0}}, "config.cycleWeight 10.0 → 5.0"),
        ({"source": "other"}, "the source images"),
    ],
)
def test_resume_with_other_settings_or_inputs_is_refused(tmp_path, changes, named):
    out = tmp_path / "model"
    work = killedAfterFirstEpoch(out)
    if changes.get("source") == "other":
        changes["source"] = siteImages("SiteC")[:3]
    before = sha256File(work / CHECKPOINT_NAME)
    with pytest.raises(InputError) as raised:
        arguments(out, resume=True, **changes)
    assert named in str(raised.value) and "pass --restart to discard it" in str(raised.value)
    with pytest.raises(InputError, match=named):  # the worker checks again
        trainCycleGan({**arguments(out, restart=True, **changes), "restart": False, "resume": True}, lambda *_: None)
    assert sha256File(work / CHECKPOINT_NAME) == before and not out.exists()


class Payload:
    """Unpickling this object would create the marker file."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("damage", ["truncated", "pickle payload", "other content"])
def test_a_damaged_or_hostile_checkpoint_is_refused_and_never_unpickled(tmp_path, damage):
    out = tmp_path / "model"
    work = killedAfterFirstEpoch(out)
    path, marker = work / CHECKPOINT_NAME, tmp_path / "payload-ran"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "pickle payload":
        checkpoint = torch.load(path, weights_only=True)
        torch.save({**checkpoint, "history": Payload(marker)}, path)
    else:
        torch.save({"format": 99, "weights": torch.zeros(2)}, path)
    expected = "not a style-transfer training checkpoint" if damage == "other content" else "cannot be read"
    with pytest.raises(InputError, match=expected) as raised:
        arguments(out, resume=True)
    assert "--restart" in str(raised.value) and not marker.exists()
