"""Hostile image and mask files through ``extract``, ``harmonize``, ``qa`` and ``segment``: empty, truncated and
mislabelled files, a header declaring 10^12 voxels, 2D and 4D images, masks without the label, on another grid, or
labelled 255, and identifiers planted in NRRD header fields. Each is refused with the file, what is wrong and the
fix, or gives the correct values; inputs never change and no header identifier reaches an output. (A file name the
user chose, such as ``DOE^JANE_T1.nrrd``, is theirs: only identifiers that were not in it are searched for.)"""

from __future__ import annotations

import csv
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, assertRefused, guarded, runCommand
from modelPayloads import TRAINED, datasetJson, nnunetPlans

SIZE = (12, 12, 8)
#: The identifiers planted in header fields (DOE^JANE is in the file name the user chose, so it may appear).
HEADER_IDENTIFIERS = tuple(identifier for identifier in PLANTED_IDENTIFIERS if identifier != "DOE^JANE")
NO_DATA_NRRD = (
    "NRRD0004\ntype: float\ndimension: 3\nspace: left-posterior-superior\nsizes: 10000 10000 10000\n"
    "space directions: (1,0,0) (0,1,0) (0,0,1)\nkinds: domain domain domain\nendian: little\nencoding: raw\n"
    "space origin: (0,0,0)\n\n"
)


def _volume(voxels: np.ndarray, spacing=(1.0, 1.0, 2.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing(spacing)
    return image


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, pathlib.Path]:
    """Every input file, written once: good ones and hostile ones."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    voxels = rng.normal(100, 10, SIZE[::-1]).astype(np.float32)
    voxels[2:6, 3:9, 3:9] += rng.normal(60, 15, (4, 6, 6)).astype(np.float32)
    labels = np.zeros(SIZE[::-1], np.uint8)
    labels[2:6, 3:9, 3:9] = 1
    paths = {name: folder / name for name in ("image.nrrd", "mask.nrrd")}
    sitk.WriteImage(_volume(voxels), str(paths["image.nrrd"]))
    sitk.WriteImage(_volume(labels), str(paths["mask.nrrd"]))

    def write(name: str, image: sitk.Image | None = None, data: bytes | None = None) -> None:
        paths[name] = folder / name
        if image is not None:
            sitk.WriteImage(image, str(paths[name]))
        else:
            paths[name].write_bytes(data or b"")

    write("zero.nrrd", data=b"")
    write("full.nii.gz", _volume(voxels))
    write("truncated.nii.gz", data=paths["full.nii.gz"].read_bytes()[: paths["full.nii.gz"].stat().st_size // 2])
    write("truncated.nrrd", data=paths["image.nrrd"].read_bytes()[:-2000])
    write("noData.nrrd", data=NO_DATA_NRRD.encode() + bytes(100))
    write("table.nrrd", data=b"patient,age\nP1,3\n")
    write("niftiNamed.nrrd", data=paths["full.nii.gz"].read_bytes())
    write("twoD.nrrd", sitk.GetImageFromArray(voxels[3]))
    write("fourD.nrrd", sitk.JoinSeries([_volume(voxels), _volume(voxels)]))
    write("emptyMask.nrrd", _volume(np.zeros_like(labels)))
    write("otherGridMask.nrrd", _volume(labels, spacing=(1.5, 1.0, 2.0)))
    write("mask255.nrrd", _volume(labels * 255))
    planted = _volume(voxels)
    plantedMask = _volume(labels)
    for image in (planted, plantedMask):
        image.SetMetaData("PatientName", "ACC-7731")
        image.SetMetaData("PatientBirthDate", "19230101")
        image.SetMetaData("PatientID", "NHS-943-476-5919")
    write("DOE^JANE_T1.nrrd", planted)
    write("plantedMask.nrrd", plantedMask)
    return paths


def features(path: pathlib.Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    return row


UNREADABLE = "give a volume SimpleITK reads (NRRD, NIfTI, MHA/MHD)"
NOT_3D = "a 3D scalar volume is needed"
EXTRACT_REFUSALS = {
    "zero.nrrd": ("mask.nrrd", [], ["Cannot read the image file", "Unable to determine ImageIO reader", UNREADABLE]),
    "truncated.nrrd": ("mask.nrrd", [], ["Cannot read the image file", "fread got only", UNREADABLE]),
    "noData.nrrd": ("mask.nrrd", [], ["noData.nrrd is damaged: its header declares", "copy it again"]),
    "table.nrrd": ("mask.nrrd", [], ["Cannot read the image file", UNREADABLE]),
    "niftiNamed.nrrd": ("mask.nrrd", [], ["Cannot read the image file", "Unable to determine ImageIO reader"]),
    "twoD.nrrd": ("mask.nrrd", [], ["The image is 2D (size (12, 12))", NOT_3D]),
    "fourD.nrrd": ("mask.nrrd", [], ["The image is 4D (size (12, 12, 8, 2))", NOT_3D]),
    "emptyMask": ("emptyMask.nrrd", [], ["The mask is empty (every voxel is 0)", "Segment the region of interest"]),
    "missingLabel": ("mask.nrrd", ["--label", "2"], ["Label 2 is not in the mask; labels present: 1", "--label N"]),
    "label255": ("mask255.nrrd", [], ["Label 1 is not in the mask; labels present: 255", "--label N"]),
    "otherGrid": ("otherGridMask.nrrd", [], ["does not lie on the grid", "(1.5, 1, 2) (mask)", "--resample-mask"]),
}


@pytest.mark.parametrize("case", EXTRACT_REFUSALS)
def test_a_hostile_image_or_mask_is_refused_by_extract(files, tmp_path, case):
    mask, extra, words = EXTRACT_REFUSALS[case]
    image = files[case] if case.endswith(".nrrd") else files["image.nrrd"]
    with guarded([image, files[mask]], [tmp_path]):
        result = runCommand("extract", "--image", image, "--mask", files[mask], "--out", tmp_path / "f.csv", *extra)
    assertRefused(result, *words)
    assert not any(tmp_path.iterdir())


def test_a_truncated_nifti_is_refused_by_extract(files, tmp_path):
    with guarded([files["truncated.nii.gz"], files["mask.nrrd"]], [tmp_path]):
        result = runCommand(
            "extract", "--image", files["truncated.nii.gz"], "--mask", files["mask.nrrd"], "--out", tmp_path / "f.csv"
        )
    assertRefused(result, "truncated.nii.gz is damaged", "Copy it again from its source")


def test_values_do_not_depend_on_the_extension_label_value_or_identifiers(files, tmp_path):
    """The same voxels give the same features: a NIfTI file, label 255 asked for with --label 255, and a file named
    DOE^JANE_T1.nrrd whose header holds identifiers (none of which reach an output)."""
    runs = {
        "reference": (files["image.nrrd"], files["mask.nrrd"], []),
        "nifti": (files["full.nii.gz"], files["mask.nrrd"], []),
        "label255": (files["image.nrrd"], files["mask255.nrrd"], ["--label", "255"]),
        "identifiers": (files["DOE^JANE_T1.nrrd"], files["plantedMask.nrrd"], ["--patient", "P1"]),
    }
    rows = {}
    out = tmp_path / "out"
    out.mkdir()
    with guarded(list(files.values()), [out], identifiers=HEADER_IDENTIFIERS):
        for name, (image, mask, extra) in runs.items():
            result = runCommand("extract", "--image", image, "--mask", mask, "--out", out / f"{name}.csv", *extra)
            assert result.code == 0, result.output
            rows[name] = features(out / f"{name}.csv")
    values = {name: {k: v for k, v in row.items() if k.startswith("original_")} for name, row in rows.items()}
    assert len(values["reference"]) == 107
    assert float(values["reference"]["original_shape_VoxelVolume"]) == 4 * 6 * 6 * 2.0
    for name in ("nifti", "label255", "identifiers"):
        assert values[name] == values["reference"], name
    # the provenance records the input path the user gave; the table holds the patient id they chose instead
    assert "DOE^JANE" not in (out / "identifiers.csv").read_text(encoding="utf-8")
    assert "P1" in rows["identifiers"].values()


HARMONIZE_REFUSALS = {
    "zero.nrrd": ["Cannot read the image file", UNREADABLE],
    "noData.nrrd": ["noData.nrrd is damaged: its header declares", "copy it again"],
    "twoD.nrrd": ["is 2D (size (12, 12))", NOT_3D],
    "fourD.nrrd": ["is 4D (size (12, 12, 8, 2))", NOT_3D],
}


@pytest.mark.parametrize("case", HARMONIZE_REFUSALS)
def test_a_hostile_image_is_refused_by_harmonize(files, tmp_path, case):
    with guarded([files[case]], [tmp_path]):
        result = runCommand("harmonize", "--method", "zscore", "--image", files[case], "--out", tmp_path / "h.nrrd")
    assertRefused(result, *HARMONIZE_REFUSALS[case])
    assert not any(tmp_path.iterdir())


def test_harmonize_copies_no_header_identifier_into_its_outputs(files, tmp_path):
    image = files["DOE^JANE_T1.nrrd"]
    out = tmp_path / "DOE^JANE_T1_zscore.nrrd"  # the user's own name for the output
    with guarded([image, files["mask.nrrd"]], [tmp_path], identifiers=HEADER_IDENTIFIERS):
        result = runCommand(
            "harmonize", "--method", "zscore", "--image", image, "--mask", files["mask.nrrd"], "--out", out
        )
    assert result.code == 0, result.output
    voxels = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    inside = sitk.GetArrayFromImage(sitk.ReadImage(str(files["mask.nrrd"]))) > 0
    assert abs(float(voxels[inside].mean())) < 1e-5 and abs(float(voxels[inside].std()) - 1.0) < 1e-3


QA_REFUSALS = {
    "zero.nrrd": ["Cannot read the prediction file", "Unable to determine ImageIO reader"],
    "noData.nrrd": ["noData.nrrd is damaged: its header declares", "copy it again"],
    "twoD.nrrd": ["The prediction file twoD.nrrd is 2D (size (12, 12))", NOT_3D],
    "otherGridMask.nrrd": ["Resample the prediction mask onto the reference mask's grid", "nearest neighbour"],
}


@pytest.mark.parametrize("case", QA_REFUSALS)
def test_a_hostile_prediction_is_refused_by_qa(files, tmp_path, case):
    with guarded([files[case], files["mask.nrrd"]], [tmp_path]):
        result = runCommand(
            "qa", "--reference", files["mask.nrrd"], "--prediction", files[case], "--out", tmp_path / "qa"
        )
    assertRefused(result, *QA_REFUSALS[case])
    assert not (tmp_path / "qa").exists()


def test_qa_of_a_255_mask_with_planted_headers_is_exact_and_leaks_nothing(files, tmp_path):
    out = tmp_path / "qa"
    with guarded([files["plantedMask.nrrd"], files["mask255.nrrd"]], [tmp_path], identifiers=HEADER_IDENTIFIERS):
        result = runCommand(
            "qa", "--reference", files["plantedMask.nrrd"], "--prediction", files["mask255.nrrd"], "--out", out
        )
    assert result.code == 0, result.output
    with open(out / "metrics.csv", newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (float(row["dsc"]), float(row["hd95_mm"]), int(row["tp"]), int(row["fp"])) == (1.0, 0.0, 144, 0)
    assert float(row["reference_ml"]) == pytest.approx(0.288)  # 144 voxels of 2 mm³


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> pathlib.Path:
    """An nnU-Net folder that passes every check made before the worker (its checkpoint is never loaded here)."""
    import json

    folder = tmp_path_factory.mktemp("model") / TRAINED
    (folder / "fold_0").mkdir(parents=True)
    (folder / "plans.json").write_text(json.dumps(nnunetPlans()), encoding="utf-8")
    (folder / "dataset.json").write_text(json.dumps(datasetJson()), encoding="utf-8")
    (folder / "fold_0" / "checkpoint_final.pth").write_bytes(b"never loaded: the images are refused first")
    return folder


SEGMENT_REFUSALS = {
    "zero.nrrd": ["Cannot read the image 'T1c' file", UNREADABLE],
    "truncated.nrrd": ["Cannot read the image 'T1c' file", "fread got only"],
    "twoD.nrrd": ["2D", NOT_3D],
}


@pytest.mark.parametrize("case", SEGMENT_REFUSALS)
def test_a_hostile_image_is_refused_by_segment_before_the_model_runs(files, model, tmp_path, case):
    with guarded([files[case], model], [tmp_path]):
        result = runCommand(
            "segment",
            "--model",
            model,
            "--image",
            f"T1c={files[case]}",
            "--out",
            tmp_path / "l.nrrd",
            "--device",
            "cpu",
        )
    assertRefused(result, *SEGMENT_REFUSALS[case])
    assert not any(tmp_path.iterdir())
