"""``virtual-biopsy register``: transform and image written, QC printed; bad input gives exit 2, one line, nothing written."""

import numpy as np
import pytest
import SimpleITK as sitk
from harmonizePhantoms import knownRigidTransform, twoContrastHead

from VirtualBiopsy import cli
from VirtualBiopsy.commands import register


def test_register_is_a_registered_command():
    assert register in cli.COMMANDS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    fixed, t2Like, lesion = twoContrastHead(size=32, spacing=4.0)
    moving = sitk.Resample(t2Like, t2Like, knownRigidTransform().GetInverse(), sitk.sitkLinear, 0.0)
    paths = {"fixed": folder / "t1.nrrd", "moving": folder / "t2.nii.gz", "mask": folder / "lesion.nrrd"}
    sitk.WriteImage(fixed, str(paths["fixed"]))
    sitk.WriteImage(moving, str(paths["moving"]))
    sitk.WriteImage(lesion, str(paths["mask"]))
    return paths


def runCli(arguments, capsys):
    status = cli.main(["register", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.slow
def test_register_writes_the_transform_and_the_image(files, tmp_path, capsys):
    transformPath, imagePath = tmp_path / "out" / "T.tfm", tmp_path / "out" / "t2_on_t1.nrrd"
    status, out, err = runCli(
        [
            "--fixed",
            files["fixed"],
            "--moving",
            files["moving"],
            "--mask",
            files["mask"],
            "--stages",
            "rigid",
            "--out-transform",
            transformPath,
            "--out-image",
            imagePath,
        ],
        capsys,
    )
    assert status == 0, err
    assert "QC: passed" in out and "NMI" in out and str(transformPath) in out
    transform = sitk.ReadTransform(str(transformPath))
    fixed, moving = sitk.ReadImage(str(files["fixed"])), sitk.ReadImage(str(files["moving"]))
    image = sitk.ReadImage(str(imagePath))
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(image),
        sitk.GetArrayFromImage(sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)),
    )
    for point in ((0.0, 0.0, 0.0), (30.0, -30.0, 20.0)):
        error = np.linalg.norm(
            np.subtract(transform.TransformPoint(point), knownRigidTransform().TransformPoint(point))
        )
        assert error < 1.5  # mm, on 4 mm voxels
    assert sorted(p.name for p in transformPath.parent.iterdir()) == ["T.tfm", "t2_on_t1.nrrd"]  # no temporary left
    # never overwrite
    status, _, err = runCli(
        [
            "--fixed",
            files["fixed"],
            "--moving",
            files["moving"],
            "--out-transform",
            transformPath,
            "--out-image",
            tmp_path / "other.nrrd",
        ],
        capsys,
    )
    assert status == 2 and "exists already" in err and not (tmp_path / "other.nrrd").exists()


def test_failed_qc_writes_nothing(files, tmp_path, capsys):
    status, out, err = runCli(
        [
            "--fixed",
            files["fixed"],
            "--moving",
            files["moving"],
            "--stages",
            "rigid",
            "--qc-minimum-nmi",
            1.99,
            "--out-transform",
            tmp_path / "T.tfm",
            "--out-image",
            tmp_path / "i.nrrd",
        ],
        capsys,
    )
    assert status == 1 and "QC: FAILED" in out and "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--fixed": "missing.nrrd"}, "fixed image file .* was not found"),
        ({"--moving": "BAD"}, "Cannot read the moving image file"),
        ({"--out-transform": "T.json"}, "must end with .tfm"),
        ({"--out-image": "out.png"}, "must end with .nrrd"),
        ({"--stages": "affine,rigid"}, "registrationStages is 'affine,rigid'"),
        ({"--qc-minimum-nmi": "2.5"}, r"qcMinimumNmi is 2.5; it must lie in \[1.0, 2.0\]"),
        ({"--mask": "SMALLMASK"}, "does not lie on the image grid"),
        ({"--moving": "NAN"}, "NaN or infinite"),
        ({"--moving": "CONSTANT"}, "constant"),
        ({"--moving": "4D"}, "4D"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(files, tmp_path, capsys, change, message):
    special = tmp_path / "inputs"
    special.mkdir()
    fixed = sitk.ReadImage(str(files["fixed"]))
    made = {
        "BAD": special / "bad.nrrd",
        "SMALLMASK": special / "small.nrrd",
        "NAN": special / "nan.nrrd",
        "CONSTANT": special / "constant.nrrd",
        "4D": special / "4d.nrrd",
    }
    made["BAD"].write_text("not an image")
    sitk.WriteImage(sitk.Image(8, 8, 8, sitk.sitkUInt8) + 1, str(made["SMALLMASK"]))
    voxels = sitk.GetArrayFromImage(fixed)
    voxels[3, 3, 3] = np.nan
    sitk.WriteImage(sitk.GetImageFromArray(voxels), str(made["NAN"]))
    sitk.WriteImage(fixed * 0.0 + 7.0, str(made["CONSTANT"]))
    sitk.WriteImage(sitk.JoinSeries([fixed, fixed]), str(made["4D"]))
    arguments = {
        "--fixed": files["fixed"],
        "--moving": files["moving"],
        "--out-transform": tmp_path / "T.tfm",
        "--out-image": tmp_path / "i.nrrd",
    }
    for key, value in change.items():
        arguments[key] = made.get(value, tmp_path / value if value.startswith("missing") else value)
    if "--out-transform" in change or "--out-image" in change:
        arguments[next(iter(change))] = tmp_path / next(iter(change.values()))
    status, _, err = runCli([part for pair in arguments.items() for part in pair], capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"]
