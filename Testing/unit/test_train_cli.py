"""``virtual-biopsy train``: bad input exits with 2, one line naming the problem, and writes nothing."""

from __future__ import annotations

import pytest
import SimpleITK as sitk

from VirtualBiopsy.cli import main
from VirtualBiopsy.data.manifest import writeManifest


@pytest.fixture
def manifest(tmp_path):
    folder = tmp_path / "cohort"
    folder.mkdir()
    image = sitk.Image(4, 4, 4, sitk.sitkInt16)
    for name in ("FLAIR", "T1c", "mask"):
        sitk.WriteImage(image, str(folder / f"{name}.nrrd"))
    return writeManifest(
        [{"patient": "P1", "FLAIR": folder / "FLAIR.nrrd", "T1c": folder / "T1c.nrrd", "mask": folder / "mask.nrrd"}],
        folder / "manifest.csv",
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sequences", "FLAIR,DWI"], "DWI is not a sequence column"),
        (["--sequences", "FLAIR,"], "empty name"),
        (["--epochs", "0"], "epochs must be"),
        (["--iterations-per-epoch", "-3"], "iterationsPerEpoch must be"),
        (["--fold", "first"], "--fold 'first'"),
        (["--fold", "7"], "fold must be 0–4"),
        (["--configuration", "3d"], "configuration '3d'"),
        (["--id", "../escape"], "escape"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(manifest, tmp_path, capsys, extra, message):
    out = tmp_path / "model"
    status = main(["train", "--manifest", str(manifest), "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert status == 2
    assert message in captured.err and captured.err.count("\n") == 1
    assert not out.exists()


def test_missing_manifest_and_non_empty_output_are_refused(manifest, tmp_path, capsys):
    assert main(["train", "--manifest", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m")]) == 2
    assert "none.csv" in capsys.readouterr().err and not (tmp_path / "m").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    assert main(["train", "--manifest", str(manifest), "--out", str(taken)]) == 2
    assert "not empty" in capsys.readouterr().err and [p.name for p in taken.iterdir()] == ["keep.txt"]


def test_a_stopped_training_needs_resume_or_restart(manifest, tmp_path, capsys):
    import json

    out, work = tmp_path / "model", tmp_path / "model.partial-work"
    work.mkdir()
    record = {"format": 1, "settings": {"epochs": 7}, "datasetSha256": "0" * 64}
    (work / "resume.json").write_text(json.dumps(record))
    assert main(["train", "--manifest", str(manifest), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"left its work in {work}. Resume it with --resume" in error and "--restart to discard it" in error
    assert main(["train", "--manifest", str(manifest), "--out", str(out), "--resume", "--epochs", "7"]) == 2
    error = capsys.readouterr().err
    assert "started with other settings or cases" in error and "the training cases" in error
    assert "iterationsPerEpoch None → 250" in error and "epochs 7 → 7" not in error
    with pytest.raises(SystemExit):
        main(["train", "--manifest", str(manifest), "--out", str(out), "--resume", "--restart"])
    assert "not allowed with argument --resume" in capsys.readouterr().err
    assert json.loads((work / "resume.json").read_text()) == record and sorted(p.name for p in work.iterdir()) == [
        "resume.json"
    ]
    assert not out.exists()


def test_help_names_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for option in (
        "--manifest",
        "--out",
        "--epochs",
        "--iterations-per-epoch",
        "--configuration",
        "--device",
        "--sequences",
        "--id",
        "--fold",
        "--seed",
        "--models-dir",
        "--resume",
        "--restart",
    ):
        assert option in text


def test_command_builds_the_training_config_of_the_logic(manifest):
    """The options land in the TrainingConfig that TrainingLogic.train and trainModel take."""
    from VirtualBiopsy.cli import buildParser
    from VirtualBiopsy.commands.train import trainingConfig
    from VirtualBiopsy.segment.training.config import TrainingConfig

    arguments = buildParser().parse_args(
        [
            "train",
            "--manifest",
            str(manifest),
            "--out",
            "model",
            "--epochs",
            "3",
            "--iterations-per-epoch",
            "7",
            "--fold",
            "2",
            "--device",
            "cpu",
            "--seed",
            "5",
            "--configuration",
            "2d",
        ]
    )
    config = trainingConfig(arguments, ["T1c", "FLAIR"])
    assert type(config) is TrainingConfig
    assert (
        config.epochs,
        config.iterationsPerEpoch,
        config.fold,
        config.device,
        config.seed,
        config.configuration,
    ) == (3, 7, 2, "cpu", 5, "2d")
    assert config.sequences == ["T1c", "FLAIR"] and config.modelName == "manifest"
    assert TrainingConfig.fromDict(config.toDict()) == config
