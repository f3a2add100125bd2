"""Hostile geometry: sheared grids are refused while oblique and left-handed ones are measured exactly, masks
resampled onto a smaller image are refused with their numbers, DICOM series with corrupt, missing or duplicated
slices are never loaded as a thinner volume, and a one-slice image never reaches a 3D model. Each case runs the
command line (:func:`runCommand`) or the library inside :func:`guarded`, and asserts the exit code or error class
and the words of the fix, or the exact values of a valid input.
"""

from __future__ import annotations

import json
import pathlib

import imageInputs as gen
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, assertRefused, guarded, runCommand

from VirtualBiopsy.errors import GeometryError, InputError


def extract(*arguments, out: pathlib.Path):
    return runCommand("extract", *arguments, "--out", out)


def features(out: pathlib.Path) -> pd.Series:
    return pd.read_csv(out).iloc[0]


# --- Grids: sheared refused, oblique and left-handed measured exactly --------------------------------------


def test_a_sheared_image_is_refused_by_the_command_line(tmp_path):
    path = gen.write(tmp_path / "in" / "sheared.nrrd", gen.image(gen.spreadValues(0, 500), direction=gen.SHEARED))
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask(direction=gen.SHEARED))
    with guarded([path, mask], [tmp_path / "out"]):
        result = extract("--image", path, "--mask", mask, out=tmp_path / "out" / "f.csv")
    assertRefused(
        result, "sheared (non-orthogonal) grid", "axes i and k meet at 45°", "0.7071 times", "orthogonal grid first"
    )


@pytest.mark.parametrize("extension", [".nrrd", ".mha"])
def test_a_sheared_file_is_refused_at_load_naming_the_file(scene, tmp_path, extension):
    from VirtualBiopsy.mrml.storage import loadVolume

    path = gen.write(
        tmp_path / "in" / f"sheared{extension}", gen.image(gen.spreadValues(0, 500), direction=gen.SHEARED)
    )
    with (
        guarded([path]),
        pytest.raises(GeometryError, match=rf"file {path}.*meet at 45°.*Resample it onto an orthogonal grid"),
    ):
        loadVolume(path, scene)
    assert scene.GetNodesByClass("vtkMRMLScalarVolumeNode").GetNumberOfItems() == 0


def test_a_sheared_mask_file_is_refused(tmp_path):
    from VirtualBiopsy.mrml.maskFiles import readMaskFile

    path = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask(direction=gen.SHEARED))
    with guarded([path]), pytest.raises(GeometryError, match="reference file .*sheared"):
        readMaskFile(path, "reference")


@pytest.mark.parametrize("direction", [gen.ROTATED, gen.LEFT_HANDED], ids=["oblique", "left-handed"])
def test_oblique_and_left_handed_grids_are_accepted_with_exact_volumes(scene, tmp_path, direction):
    from VirtualBiopsy.mrml.images import volumeNodeToImage
    from VirtualBiopsy.mrml.storage import loadVolume

    spacing = (0.5, 0.8, 2.0)
    path = gen.write(tmp_path / "in" / "image.nrrd", gen.image(gen.spreadValues(0, 500), spacing, direction))
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask(spacing=spacing, direction=direction))
    with guarded([path, mask], [tmp_path / "out"]):
        node = loadVolume(path, scene)
        result = extract("--image", path, "--mask", mask, out=tmp_path / "out" / "f.csv")
    assert result.code == 0, result.output
    assert np.allclose(volumeNodeToImage(node).GetDirection(), direction, atol=1e-12)
    assert features(tmp_path / "out" / "f.csv")["original_shape_VoxelVolume"] == pytest.approx(gen.ROI_VOXELS * 0.8)


# --- Masks resampled onto the image: the ROI must survive -------------------------------------------------


MASK_CASES = {
    # a 48 mm mask around the 16 mm image, its 32 mm ROI mostly beyond the image (1/8 of it inside)
    "larger than the image": (
        gen.maskOnGrid(48, 1.0, -16.0, (slice(8, 40),) * 3),
        ["lie outside the image", "Use the mask drawn on this image"],
    ),
    "partly outside": (gen.maskOnGrid(32, 1.0, -8.0, (slice(2, 14),) * 3), ["lie outside the image"]),
    "thin ROI on a coarser grid": (
        gen.maskOnGrid(32, 0.5, 0.0, (slice(8, 24), slice(8, 24), slice(9, 10))),
        ["its volume would go from 32 mm³ to 0 mm³", "more than the 10% allowed"],
    ),
}


@pytest.mark.parametrize("case", MASK_CASES, ids=list(MASK_CASES))
def test_resampling_a_mask_that_would_lose_the_roi_is_refused(tmp_path, case):
    mask, words = MASK_CASES[case]
    path = gen.write(tmp_path / "in" / "image.nrrd", gen.image(gen.spreadValues(0, 500)))
    maskPath = gen.write(tmp_path / "in" / "mask.nrrd", mask)
    with guarded([path, maskPath], [tmp_path / "out"]):
        result = extract(
            "--image", path, "--mask", maskPath, "--resample-mask", "--min-voxels", "1", out=tmp_path / "out" / "f.csv"
        )
    assertRefused(result, "Resampling the mask onto the grid of the image", *words)


def test_a_mask_on_a_finer_grid_inside_the_image_is_resampled_and_said(tmp_path):
    path = gen.write(tmp_path / "in" / "image.nrrd", gen.image(gen.spreadValues(0, 500)))
    fine = gen.maskOnGrid(32, 0.5, -0.2, (slice(8, 24),) * 3)  # the same 8 mm cube, half-size voxels
    maskPath = gen.write(tmp_path / "in" / "mask.nrrd", fine)
    out = tmp_path / "out" / "f.csv"
    with guarded([path, maskPath], [tmp_path / "out"]):
        result = extract("--image", path, "--mask", maskPath, "--resample-mask", out=out)
    assert result.code == 0, result.output
    assert "Resampled the mask onto the grid of the image" in result.stderr and "512 mm³" in result.stderr
    record = json.loads(out.with_name("f.provenance.json").read_text())["labels"]["1"]["provenance"]["maskResampling"]
    assert record["image"]["volumeBeforeMm3"] == record["image"]["volumeAfterMm3"] == 512.0
    assert features(out)["original_shape_VoxelVolume"] == 512.0


# --- DICOM series: every file accounted for ---------------------------------------------------------------


def loadSeries(scene, folder, **options):
    from VirtualBiopsy.mrml.storage import loadVolume

    return loadVolume(folder, scene, **options)


def test_a_complete_series_loads_with_its_spacing(scene, tmp_path):
    from VirtualBiopsy.mrml.images import volumeNodeToImage

    folder = tmp_path / "series"
    gen.dicomSeries(folder)
    with guarded([folder]):
        image = volumeNodeToImage(loadSeries(scene, folder))
    assert image.GetSize() == (8, 8, 16) and image.GetSpacing() == pytest.approx((0.5, 0.5, 2.0), abs=1e-9)
    assert sitk.GetArrayViewFromImage(image)[:, 0, 0].tolist() == [10 * index for index in range(16)]


def damagedSeries(folder: pathlib.Path, damage: str) -> list[str]:
    """Write a 16-slice series with one kind of damage; return the words its refusal must say."""
    if damage == "duplicated":
        gen.dicomSeries(folder, positions=[2.0 * i for i in range(8)] + [14.0] + [2.0 * i for i in range(8, 15)])
        return ["duplicated slice positions", "at 14 mm"]
    if damage == "uneven":
        gen.dicomSeries(folder, positions=[2.0 * i for i in range(8)] + [2.0 * i + 0.5 for i in range(8, 16)])
        return ["uneven slice spacing (typical 2 mm)", "2.5 mm between slice_007.dcm and slice_008.dcm"]
    if damage == "mixed sizes":
        gen.dicomSeries(folder, sizes={3: 10})
        return ["slices of different sizes (Columns×Rows)", "10×8: slice_003.dcm"]
    paths = gen.dicomSeries(folder)
    if damage == "two corrupt slices":
        gen.truncate(paths[7])
        gen.truncate(paths[11], keep=900)
        return [
            "slice_007.dcm is not readable DICOM",
            "slice_011.dcm is not readable DICOM",
            "missing slices (typical spacing 2 mm)",
        ]
    if damage == "one missing slice":
        paths[5].unlink()
        return [
            "missing slices (typical spacing 2 mm) between slice_004.dcm and slice_006.dcm (8 mm, 12 mm): 4 mm, about 1 slice(s)"
        ]
    (folder / "notes.txt").write_text("not a slice")
    return ["notes.txt is not readable DICOM"]


DAMAGES = ["two corrupt slices", "one missing slice", "duplicated", "uneven", "mixed sizes", "a stray file"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_series_is_never_loaded_as_a_thinner_volume(scene, tmp_path, damage):
    folder = tmp_path / "series"
    words = damagedSeries(folder, damage)
    with guarded([folder]), pytest.raises(InputError) as refused:
        loadSeries(scene, folder)
    message = str(refused.value)
    for word in [*words, "Nothing was loaded", "Export the series again", "acceptSeriesProblems=True"]:
        assert word in message, (word, message)
    assert not any(identifier in message for identifier in PLANTED_IDENTIFIERS)
    assert scene.GetNodesByClass("vtkMRMLScalarVolumeNode").GetNumberOfItems() == 0


def test_the_cohort_check_reads_the_same_refusal(tmp_path):
    from VirtualBiopsy.cohort.imageHeaders import readDicomSeriesHeader

    folder = tmp_path / "series"
    damagedSeries(folder, "two corrupt slices")
    with guarded([folder]), pytest.raises(InputError, match="slice_007.dcm is not readable DICOM"):
        readDicomSeriesHeader(folder)


def test_loading_a_damaged_series_anyway_is_asked_for_and_said(scene, tmp_path, caplog):
    folder = tmp_path / "series"
    damagedSeries(folder, "two corrupt slices")
    with guarded([folder]), caplog.at_level("WARNING"):
        node = loadSeries(scene, folder, acceptSeriesProblems=True)
    assert node.GetImageData().GetDimensions()[2] == 14
    assert "loaded despite: slice_007.dcm is not readable DICOM" in caplog.text


# --- A one-slice image never reaches a 3D model -----------------------------------------------------------


def test_a_one_slice_image_to_the_demo_model_is_refused_with_the_minimum(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    voxels = np.random.default_rng(0).normal(1000, 100, (1, 64, 64)).astype(np.float32)
    paths = {name: gen.write(tmp_path / "in" / f"{name}.nrrd", gen.image(voxels)) for name in ("FLAIR", "T1c")}
    out = tmp_path / "out" / "labels.nrrd"
    out.parent.mkdir()
    with guarded(paths.values(), [tmp_path / "out"]):
        result = runCommand(
            "segment",
            "--model",
            "demo",
            *[f"--image={name}={path}" for name, path in paths.items()],
            "--out",
            out,
            "--device",
            "cpu",
            "--no-tta",
        )
    assertRefused(
        result,
        "The image is 64×64×1 voxels",
        "too few for model 'demo'",
        "at least 2 voxels and 1.5 mm",
        "Give the whole volume",
    )
    assert "bug in the task" not in result.output and not out.exists()


@pytest.mark.parametrize(
    "size, patch, target, refused",
    [
        ((64, 64, 1), (64, 64, 1), None, False),
        ((64, 64, 1), (96, 96, 96), None, True),
        ((64, 64, 2), (48, 48, 48), (3.0, 3.0, 3.0), True),
        ((64, 64, 3), (48, 48, 48), (3.0, 3.0, 3.0), False),
    ],
    ids=["2D model takes one slice", "3D MONAI window", "two 0.5 mm slices at 3 mm", "three 0.5 mm slices at 3 mm"],
)
def test_model_input_size_follows_the_patch(size, patch, target, refused):
    from VirtualBiopsy.segment.backends.inputSize import requireModelInputSize

    image = sitk.Image(size, sitk.sitkFloat32)
    image.SetSpacing((1.0, 1.0, 0.5))
    if not refused:
        requireModelInputSize(image, "m", patch, target)
        return
    with pytest.raises(InputError, match=r"too few for model 'm', a 3D model"):
        requireModelInputSize(image, "m", patch, target)
