"""``virtual-biopsy segment``: a real MONAI model by path or by registry id, run in a worker process, gives
the backend's labels as a label map or a ``.seg.nrrd``; bad input is one line on stderr, exit 2, no file."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.networks.nets import UNet

from VirtualBiopsy import cli
from VirtualBiopsy.commands import segment
from VirtualBiopsy.segment.backends.monaiBackend import MonaiSettings, predictMonai

NETWORK_ARGS = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 2,
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 1,
}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unet")
    torch.manual_seed(9)
    torch.save(UNet(**NETWORK_ARGS).state_dict(), folder / "weights.pt")
    metadata = {
        "network": "UNet",
        "networkArgs": NETWORK_ARGS,
        "roiSize": [16, 16, 8],
        "inputs": ["T1c", "FLAIR"],
        "labels": [{"value": 1, "name": "Tumor", "color": [1.0, 0.0, 0.0], "terminology": "SCT^108369006^Neoplasm"}],
    }
    (folder / "model.json").write_text(json.dumps(metadata))
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    rng = np.random.default_rng(4)
    paths = {}
    for name in ("t1c", "flair"):
        image = sitk.GetImageFromArray(rng.normal(100, 30, (9, 17, 19)).astype(np.float32))
        image.SetSpacing((0.8, 0.9, 3.0))
        image.SetDirection((0, 1, 0, 1, 0, 0, 0, 0, -1))
        paths[name] = folder / f"{name}.nii.gz"
        sitk.WriteImage(image, str(paths[name]))
    return paths


def expected(model, images) -> np.ndarray:
    network = UNet(**NETWORK_ARGS)
    network.load_state_dict(torch.load(model / "weights.pt", weights_only=True))
    settings = MonaiSettings(network="UNet", networkArgs=NETWORK_ARGS, roiSize=(16, 16, 8))
    inputs = [sitk.ReadImage(str(images[name])) for name in ("t1c", "flair")]
    return sitk.GetArrayFromImage(predictMonai(inputs, network, settings, device="cpu").labelMap)


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main(["segment", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_segment_is_a_registered_command():
    assert segment in cli.COMMANDS


@pytest.mark.slow
def test_label_map_by_path_and_segmentation_by_id(model, images, tmp_path, capsys):
    out = tmp_path / "labels.nii.gz"
    status, printed, _ = runCli(
        [
            "--model",
            model,
            "--image",
            f"FLAIR={images['flair']}",
            "--image",
            f"T1Gd={images['t1c']}",
            "--out",
            out,
            "--device",
            "cpu",
            "--uncertainty",
            tmp_path / "entropy.nrrd",
        ],
        capsys,
    )
    assert status == 0, printed
    labels = sitk.ReadImage(str(out))
    assert np.array_equal(sitk.GetArrayFromImage(labels), expected(model, images))
    assert labels.GetDirection() == sitk.ReadImage(str(images["t1c"])).GetDirection()
    provenance = json.loads((tmp_path / "labels.provenance.json").read_text(encoding="utf-8"))
    assert provenance["channelMapping"] == {"T1c": "T1Gd", "FLAIR": "FLAIR"} and provenance["device"] == "cpu"
    assert (tmp_path / "entropy.nrrd").is_file()

    modelsDir = tmp_path / "models"
    assert cli.main(["models", "import", str(model), "--id", "unet", "--models-dir", str(modelsDir)]) == 0
    capsys.readouterr()
    seg = tmp_path / "case.seg.nrrd"
    status, printed, _ = runCli(
        [
            "--model",
            "unet",
            "--models-dir",
            modelsDir,
            "--image",
            f"T1c={images['t1c']}",
            "--image",
            f"FLAIR={images['flair']}",
            "--out",
            seg,
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert status == 0 and ("Tumor" in printed or "nothing" in printed)
    from VirtualBiopsy.mrml.scene import createScene
    from VirtualBiopsy.mrml.segmentations import segmentationToLabelmapImage
    from VirtualBiopsy.mrml.storage import loadSegmentation

    scene = createScene()
    node = loadSegmentation(seg, scene)
    assert node.GetSegmentation().GetNthSegment(0).GetName() == "Tumor"
    exported, _ = segmentationToLabelmapImage(node)
    resampled = sitk.Resample(exported, labels, sitk.Transform(), sitk.sitkNearestNeighbor)
    assert np.array_equal(sitk.GetArrayFromImage(resampled), sitk.GetArrayFromImage(labels))
    scene.Clear(True)


def test_bad_input_is_one_line_and_writes_nothing(model, images, tmp_path, capsys):
    base = ["--model", model, "--image", f"T1c={images['t1c']}", "--device", "cpu"]
    cases = [
        (base + ["--out", tmp_path / "a.nrrd"], "FLAIR"),  # missing sequence, named
        (base + ["--image", f"FLAIR={images['flair']}", "--out", tmp_path / "a.csv"], ".seg.nrrd"),
        (base + ["--image", f"FLAIR={images['flair']}", "--out", tmp_path / "a.nrrd", "--device", "gpu"], "Device"),
        (
            [
                "--model",
                "nope",
                "--models-dir",
                tmp_path / "none",
                "--image",
                str(images["t1c"]),
                "--out",
                tmp_path / "a.nrrd",
            ],
            "No model with id 'nope'",
        ),
        (base + ["--image", f"FLAIR={images['flair']}", "--out", images["t1c"]], "exists already"),
        (base + ["--image", f"FLAIR={images['flair']}", "--out", tmp_path / "a.nrrd", "--folds", "x"], "folds"),
    ]
    for arguments, expectedText in cases:
        status, printed, error = runCli(arguments, capsys)
        assert status == 2, (arguments, printed, error)
        assert expectedText in error and len(error.strip().splitlines()) == 1, error
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_failure_inside_the_worker_leaves_no_output(model, images, tmp_path, capsys):
    status, _, error = runCli(
        [
            "--model",
            model,
            "--image",
            f"T1c={images['t1c']}",
            "--image",
            f"FLAIR={images['flair']}",
            "--out",
            tmp_path / "a.nrrd",
            "--device",
            "cpu",
            "--probabilities",
            tmp_path / "p.nrrd",
            "--variance",
            tmp_path / "v.nrrd",
        ],
        capsys,
    )
    assert status == 2 and "variance across folds" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == []
