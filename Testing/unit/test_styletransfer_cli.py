"""``virtual-biopsy styletransfer train | apply`` end to end (training and application in worker processes),
and its refusals: exit 2, one line on stderr naming the problem, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("torch")

from styleTransferModels import TINY_CONFIG, siteImages, tinyCohort, trainedTinyModel  # noqa: E402

from VirtualBiopsy import cli  # noqa: E402
from VirtualBiopsy.harmonize.styleTransfer.registration import registerStyleModel  # noqa: E402
from VirtualBiopsy.models.hashing import treeHashes  # noqa: E402
from VirtualBiopsy.models.manifest import readManifest  # noqa: E402


def _train(tmp_path, *extra: str) -> list[str]:
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY_CONFIG))
    return [
        "styletransfer",
        "train",
        "--manifest",
        str(tinyCohort()),
        "--sequence",
        "T2",
        "--source-site",
        "A",
        "--target-site",
        "siteb",
        "--out",
        str(tmp_path / "model"),
        "--epochs",
        "1",
        "--iterations-per-epoch",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--config",
        str(config),
        "--models-dir",
        str(tmp_path / "models"),
        *extra,
    ]


@pytest.mark.slow
def test_train_then_apply_by_id_and_by_folder(tmp_path, capsys):
    assert cli.main(_train(tmp_path, "--id", "a-to-b")) == 0
    printed = capsys.readouterr().out
    entries = readManifest(tmp_path / "models" / "models.json")
    assert [entry.id for entry in entries] == ["a-to-b"]
    assert entries[0].sha256 == treeHashes(tmp_path / "model")[0] == treeHashes(tmp_path / "models" / "a-to-b")[0]
    assert f"Registered as 'a-to-b' (sha256 {entries[0].sha256})" in printed
    assert "3 SiteA → 1 SiteB volumes" in printed
    image = siteImages("SiteA")[0]
    for model, out in (("a-to-b", tmp_path / "byId.nrrd"), (str(tmp_path / "model"), tmp_path / "byPath.nrrd")):
        assert (
            cli.main(
                [
                    "styletransfer",
                    "apply",
                    "--model",
                    model,
                    "--image",
                    image,
                    "--out",
                    str(out),
                    "--device",
                    "cpu",
                    "--models-dir",
                    str(tmp_path / "models"),
                ]
            )
            == 0
        )
        assert "SiteA → SiteB, model" in capsys.readouterr().out
    original, byId, byPath = (
        sitk.ReadImage(str(path)) for path in (image, tmp_path / "byId.nrrd", tmp_path / "byPath.nrrd")
    )
    assert byId.GetSize() == original.GetSize() and byId.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_allclose(byId.GetDirection(), original.GetDirection(), atol=1e-12)
    np.testing.assert_allclose(byId.GetSpacing(), original.GetSpacing(), rtol=1e-12)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(byId), sitk.GetArrayFromImage(byPath))


def _refused(arguments: list[str], capsys, expected: str) -> None:
    assert cli.main(arguments) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines


@pytest.mark.parametrize(
    "change,expected",
    [
        (("--sequence", "DWI"), "has no sequence 'DWI'"),
        (("--source-site", "Z"), "--source-site 'Z' is not a site"),
        (("--target-site", "SiteA"), "both 'SiteA'"),
        (("--epochs", "0"), "epochs is 0"),
        (("--device", "gpu"), "Device 'gpu'"),
        (("--config", "medium"), "neither a configuration"),
        (("--id", "bad id"), "Model id 'bad id' is not valid"),
    ],
)
def test_train_refuses_bad_input_before_training(tmp_path, capsys, change, expected):
    arguments = _train(tmp_path)
    index = arguments.index(change[0]) if change[0] in arguments else len(arguments)
    arguments[index : index + 2] = change
    _refused(arguments, capsys, expected)
    assert not (tmp_path / "model").exists() and not (tmp_path / "models").exists()


@pytest.mark.slow
def test_train_refuses_a_registered_id_and_a_full_out_folder(tmp_path, capsys):
    registerStyleModel(trainedTinyModel()[0], "taken", tmp_path / "models")
    _refused(_train(tmp_path, "--id", "taken"), capsys, "'taken' is registered already")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("x")
    _refused(_train(tmp_path, "--id", "new"), capsys, "is not empty")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["keep.txt"]


def test_train_refuses_a_stopped_training_without_resume_or_restart(tmp_path, capsys):
    work = tmp_path / "model.partial-work"
    work.mkdir()
    (work / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _refused(_train(tmp_path), capsys, "left its finished epochs in")
    _refused(_train(tmp_path, "--resume"), capsys, "cannot be read")
    with pytest.raises(SystemExit):
        cli.main(_train(tmp_path, "--resume", "--restart"))
    assert "not allowed with argument --resume" in capsys.readouterr().err
    assert (work / "checkpoint.pt").read_bytes() == b"not a checkpoint" and not (tmp_path / "model").exists()


def test_apply_refuses_bad_input(tmp_path, capsys):
    image = siteImages("SiteA")[0]
    base = ["styletransfer", "apply", "--image", image, "--models-dir", str(tmp_path / "models"), "--device", "cpu"]
    _refused([*base, "--model", "nowhere", "--out", str(tmp_path / "o.nrrd")], capsys, "No model with id 'nowhere'")
    (tmp_path / "exists.nrrd").write_text("x")
    _refused([*base, "--model", "x", "--out", str(tmp_path / "exists.nrrd")], capsys, "exists already")
    _refused(
        [
            "styletransfer",
            "apply",
            "--image",
            str(tmp_path / "absent.nrrd"),
            "--model",
            "x",
            "--out",
            str(tmp_path / "o.nrrd"),
        ],
        capsys,
        "was not found",
    )
    assert not (tmp_path / "o.nrrd").exists() and (tmp_path / "exists.nrrd").read_text(encoding="utf-8") == "x"


@pytest.mark.slow
def test_apply_with_tampered_weights_fails_in_the_worker_and_writes_nothing(tmp_path, capsys):
    registerStyleModel(trainedTinyModel()[0], "tiny", tmp_path / "models")
    weights = tmp_path / "models" / "tiny" / "generator.pt"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01
    weights.write_bytes(bytes(data))
    assert (
        cli.main(
            [
                "styletransfer",
                "apply",
                "--model",
                "tiny",
                "--image",
                siteImages("SiteA")[0],
                "--out",
                str(tmp_path / "o.nrrd"),
                "--models-dir",
                str(tmp_path / "models"),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    message = capsys.readouterr().err
    assert "Model 'tiny'" in message and "does not match its manifest" in message and "changed  generator.pt" in message
    assert not (tmp_path / "o.nrrd").exists()
