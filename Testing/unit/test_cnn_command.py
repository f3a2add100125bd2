"""``virtual-biopsy outcome cnn``: training in a worker process, Grad-CAM and deep features files, and bad input
(exit 2, one line on stderr, nothing written)."""

import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from VirtualBiopsy.cli import main
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.models.registry import ModelRegistry

pytestmark = pytest.mark.slow
pytest.importorskip("monai")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cnncli")
    return generateCohort(root / "cohort", cases=8, seed=1, size=48)


def trainArguments(cohort, out, modelsDir, *extra):
    return [
        "outcome",
        "cnn",
        "train",
        "--manifest",
        str(cohort),
        "--clinical",
        str(cohort.parent / "clinical.csv"),
        "--target",
        "grade",
        "--sequences",
        "T1c,FLAIR",
        "--epochs",
        "2",
        "--crop-size",
        "24",
        "--crop-spacing",
        "4",
        "--device",
        "cpu",
        "--models-dir",
        str(modelsDir),
        "--out",
        str(out),
        *extra,
    ]


def test_train_gradcam_and_features_from_the_command_line(cohort, tmp_path, capsys):
    models = tmp_path / "models"
    assert main(trainArguments(cohort, tmp_path / "grade-cnn", models)) == 0
    printed = capsys.readouterr().out
    entry = ModelRegistry(models).get("grade-cnn")
    assert entry.sha256 == treeHashes(tmp_path / "grade-cnn")[0] and entry.sha256 in printed
    assert "Validation AUC" in printed

    folder = cohort.parent / "VB0002"
    out, png = tmp_path / "maps" / "VB0002_gradcam.nrrd", tmp_path / "png"
    assert (
        main(
            [
                "outcome",
                "cnn",
                "gradcam",
                "--model",
                "grade-cnn",
                "--models-dir",
                str(models),
                "--image",
                f"T1c={folder / 'T1c.nrrd'}",
                "--image",
                f"FLAIR={folder / 'FLAIR.nrrd'}",
                "--mask",
                str(folder / "mask.nrrd"),
                "--out",
                str(out),
                "--png",
                str(png),
            ]
        )
        == 0
    )
    camMap, image = sitk.ReadImage(str(out)), sitk.ReadImage(str(folder / "T1c.nrrd"))
    assert (camMap.GetSize(), camMap.GetSpacing(), camMap.GetOrigin(), camMap.GetDirection()) == (
        image.GetSize(),
        image.GetSpacing(),
        image.GetOrigin(),
        image.GetDirection(),
    )
    values = sitk.GetArrayViewFromImage(camMap)
    assert 0.0 <= values.min() and values.max() <= 1.0 + 1e-6
    assert sorted(p.name for p in png.iterdir()) == ["axial.png", "coronal.png", "sagittal.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in png.iterdir())
    record = json.loads((tmp_path / "maps" / "VB0002_gradcam.json").read_text(encoding="utf-8"))
    assert record["model"] == "grade-cnn" and record["modelSha256"] == entry.sha256
    assert record["class"] in ("HGG", "LGG") and sum(record["probabilities"].values()) == pytest.approx(1.0)
    assert "inside the tumour over outside" in capsys.readouterr().out

    features = tmp_path / "deep.csv"
    assert (
        main(
            [
                "outcome",
                "cnn",
                "features",
                "--model",
                str(tmp_path / "grade-cnn"),
                "--models-dir",
                str(models),
                "--manifest",
                str(cohort),
                "--out",
                str(features),
            ]
        )
        == 0
    )
    table = pd.read_csv(features)
    assert table["patient"].tolist() == [f"VB{i:04d}" for i in range(1, 9)]
    assert table.columns[1] == "deep_0000" and np.isfinite(table.iloc[:, 1:].to_numpy()).all()

    again = tmp_path / "again.nrrd"
    assert (
        main(
            [
                "outcome",
                "cnn",
                "gradcam",
                "--model",
                "grade-cnn",
                "--models-dir",
                str(models),
                "--image",
                f"T1c={folder / 'T1c.nrrd'}",
                "--mask",
                str(folder / "mask.nrrd"),
                "--out",
                str(again),
            ]
        )
        == 2
    )
    assert "Sequence 'FLAIR' is needed" in capsys.readouterr().err and not again.exists()
    assert (
        main(
            [
                "outcome",
                "cnn",
                "features",
                "--model",
                "grade-cnn",
                "--models-dir",
                str(models),
                "--manifest",
                str(cohort),
                "--out",
                str(features),
            ]
        )
        == 2
    )
    assert "exists already" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.__setitem__(a.index("grade"), "histology"), "no column 'histology'"),
        (lambda a: a.__setitem__(a.index("T1c,FLAIR"), "T1c,DWI"), "--sequences names DWI"),
        (lambda a: a.__setitem__(a.index("cpu"), "tpu"), "Device 'tpu' is not known"),
        (lambda a: a.__setitem__(a.index("--epochs") + 1, "0"), "epochs is 0"),
        (lambda a: a.__setitem__(a.index("--crop-size") + 1, "8"), "Crop size 8 is too small"),
        (lambda a: a.extend(["--seed", "-1"]), "seed is -1"),
        (lambda a: a.__setitem__(a.index("--crop-spacing") + 1, "nan"), "Crop spacing nan is not valid"),
        (lambda a: a.extend(["--id", "../x"]), "Model id '../x' is not valid"),
    ],
)
def test_bad_training_input_exits_2_with_one_line_and_writes_nothing(cohort, tmp_path, capsys, change, message):
    arguments = trainArguments(cohort, tmp_path / "model", tmp_path / "models")
    change(arguments)
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_existing_model_folder_or_id_is_never_replaced(cohort, tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "keep.txt").write_text("mine")
    assert main(trainArguments(cohort, tmp_path / "model", tmp_path / "models")) == 2
    assert "not empty" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["keep.txt"]


def test_gradcam_of_an_unknown_model_or_to_a_non_image_file_fails_cleanly(cohort, tmp_path, capsys):
    folder = cohort.parent / "VB0001"
    common = [
        "--image",
        f"T1c={folder / 'T1c.nrrd'}",
        "--mask",
        str(folder / "mask.nrrd"),
        "--models-dir",
        str(tmp_path / "models"),
        "--out",
        str(tmp_path / "map.nrrd"),
    ]
    assert main(["outcome", "cnn", "gradcam", "--model", "nothing-here", *common]) == 2
    assert "No model with id 'nothing-here'" in capsys.readouterr().err
    assert main(["outcome", "cnn", "gradcam", "--model", "x", *common[:-1], str(tmp_path / "map.png")]) == 2
    assert "must name an image file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
