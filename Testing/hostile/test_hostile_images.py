"""Hostile images: no silent wrong number, no hang, no explosion.

Bin counts are refused before pyradiomics runs (binWidth 1 / 1e-9 on CT, 0, -1, NaN, inf, a huge binCount, a
filter's own binWidth), integer storage never changes a feature, NaN/inf voxels are located, sheared grids are
refused while oblique and left-handed ones are measured exactly, masks resampled onto a smaller image are
refused with their numbers, DICOM series with corrupt, missing or duplicated slices are never loaded as a
thinner volume, and a one-slice image never reaches a 3D model. Each case runs the command line
(:func:`runCommand`) or the library inside :func:`guarded`, and asserts the exit code or error class and the
words of the fix, or the exact values of a valid input.
"""

from __future__ import annotations

import json
import math
import pathlib

import imageInputs as gen
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, assertRefused, guarded, runCommand

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

MR_DEFAULT = RadiomicsSettings.fromPreset("mr-default")


def extract(*arguments, out: pathlib.Path):
    return runCommand("extract", *arguments, "--out", out)


def features(out: pathlib.Path) -> pd.Series:
    return pd.read_csv(out).iloc[0]


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    return gen.ctCase(tmp_path_factory.mktemp("ct"))


# --- Bin counts: refused before pyradiomics, with the bin width or count that fits -------------------------

BIN_REFUSALS = {
    "binWidth 1 on CT": (
        ["--bin-width", "1"],
        ["4,000 grey levels", "binWidth ≥ 7.9", "range of 3999", "binCount: 64"],
    ),
    "binWidth 1e-9": (["--bin-width", "1e-9"], ["binWidth 1e-09 cuts into 3,999,", "binWidth ≥ 7.9"]),
    "binWidth -1": (["--bin-width", "-1"], ["ExtractionConfig.binWidth is -1.0", "finite bin width > 0"]),
    "binWidth nan": (["--bin-width", "nan"], ["ExtractionConfig.binWidth is nan", "finite bin width > 0"]),
    "binWidth inf": (["--bin-width", "inf"], ["ExtractionConfig.binWidth is inf", "finite bin width > 0"]),
    "limit lowered": (["--bin-width", "10", "--max-bins", "100"], ["400 grey levels", "limit of 100", "binWidth ≥ 41"]),
}


@pytest.mark.parametrize("case", BIN_REFUSALS, ids=list(BIN_REFUSALS))
def test_bin_width_options_that_would_hang_or_explode_are_refused(ct, tmp_path, case):
    options, words = BIN_REFUSALS[case]
    out = tmp_path / "out" / "features.csv"
    with guarded(ct.values(), [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], *options, out=out)
    assertRefused(result, *words)
    assert not out.exists()


PARAMETER_REFUSALS = {
    "binWidth 0": ("setting: {binWidth: 0}", ["/setting/binWidth"]),
    "binWidth .nan": ("setting: {binWidth: .nan}", ["setting/binWidth is nan", "finite bin width > 0"]),
    "binCount 1e9": ("setting: {binCount: 1000000000}", ["binCount is 1000000000", "from 1 to 512", "binCount: 64"]),
    "binCount 2.5": ("setting: {binCount: 2.5}", ["/setting/binCount", "not of type 'int'"]),
    "LoG's own binWidth": (
        "imageType: {Original: {}, LoG: {sigma: [1.0], binWidth: 0.001}}\nsetting: {binWidth: 25}",
        ["in a filtered image", "binWidth 0.001", "above the limit of 512", "binWidth ≥"],
    ),
    "normalised, binWidth 0.001": (
        "setting: {binWidth: 0.001, normalize: true}",
        ["grey levels, above the limit of 512", "binWidth ≥"],
    ),
}


@pytest.mark.parametrize("case", PARAMETER_REFUSALS, ids=list(PARAMETER_REFUSALS))
def test_parameter_files_with_absurd_bins_are_refused(ct, tmp_path, case):
    text, words = PARAMETER_REFUSALS[case]
    params = gen.parameterFile(tmp_path / "in" / "params.yaml", text)
    out = tmp_path / "out" / "features.csv"
    with guarded([*ct.values(), params], [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], "--params", params, out=out)
    assertRefused(result, *words)
    assert not out.exists()


def test_resegmentation_narrows_the_range_so_binwidth_1_is_accepted(ct, tmp_path):
    """binWidth 1 over the whole CT range is refused; re-segmented to [0, 100] HU it makes 101 levels: valid,
    and the values are pyradiomics' own on the same voxels."""
    params = gen.parameterFile(tmp_path / "in" / "params.yaml", "setting: {binWidth: 1, resegmentRange: [0, 100]}")
    out = tmp_path / "out" / "features.csv"
    with guarded([*ct.values(), params], [tmp_path / "out"]):
        result = extract("--image", ct["image"], "--mask", ct["mask"], "--params", params, out=out)
    assert result.code == 0, result.output
    voxels = sitk.GetArrayFromImage(sitk.ReadImage(str(ct["image"])))[gen.ROI].astype(float)
    kept = voxels[(voxels >= 0) & (voxels <= 100)]
    row = features(out)
    assert row["original_firstorder_Mean"] == pytest.approx(kept.mean(), rel=1e-12)
    assert row["original_firstorder_Range"] == kept.max() - kept.min()


# --- Integer storage never changes a feature ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32", "uint8", "uint16"])
def test_the_same_voxels_give_the_same_features_in_any_storage(tmp_path, dtype):
    """int8 at the bottom of its range (pyradiomics' bin edges overflowed: 77 of 107 features wrong, or
    'Calculation of GLCM Failed') and uint8 at the top give exactly the features of the same values as floats."""
    low, high = (187, 255) if dtype.startswith("uint") else (-128, -60)
    reference = extractFeatures(gen.image(gen.spreadValues(low, high, seed=3)), gen.roiMask(), MR_DEFAULT).features
    path = gen.write(tmp_path / "in" / f"{dtype}.nrrd", gen.sameVoxels(dtype))
    assert sitk.GetArrayViewFromImage(sitk.ReadImage(str(path))).dtype == np.dtype(dtype)
    with guarded([path]):
        stored = extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT).features
    assert len(stored) == 107 and stored.keys() == reference.keys()
    differences = {
        name: (stored[name], value)
        for name, value in reference.items()
        if stored[name] != pytest.approx(value, rel=1e-12, abs=1e-12)
    }
    assert not differences


def test_an_int8_file_through_the_command_line_equals_its_float_copy(tmp_path):
    paths = {
        dtype: gen.write(tmp_path / "in" / f"{dtype}.nrrd", gen.sameVoxels(dtype)) for dtype in ("int8", "float32")
    }
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask())
    with guarded([*paths.values(), mask], [tmp_path / "out"]):
        results = {
            dtype: extract("--image", path, "--mask", mask, out=tmp_path / "out" / f"{dtype}.csv")
            for dtype, path in paths.items()
        }
    assert all(result.code == 0 for result in results.values()), [r.output for r in results.values()]
    assert "RuntimeWarning" not in results["int8"].output
    pd.testing.assert_series_equal(
        features(tmp_path / "out" / "int8.csv").drop("patient"),
        features(tmp_path / "out" / "float32.csv").drop("patient"),
        check_names=False,
    )


# --- NaN and infinite voxels: located, refused where they would reach a feature ----------------------------


def withValue(value: float, index: tuple[int, int, int]) -> sitk.Image:
    voxels = gen.spreadValues(0, 500)
    voxels[index] = value
    return gen.image(voxels)


def test_nan_inside_the_roi_through_the_command_line_names_count_and_index(tmp_path):
    path = gen.write(tmp_path / "in" / "nan.nrrd", withValue(math.nan, (5, 6, 7)))
    mask = gen.write(tmp_path / "in" / "mask.nrrd", gen.roiMask())
    with guarded([path, mask], [tmp_path / "out"]):
        result = extract("--image", path, "--mask", mask, out=tmp_path / "out" / "f.csv")
    assertRefused(
        result, "1 NaN or infinite voxel(s) (1 NaN, 0 infinite) inside the ROI", "(i, j, k) = (7, 6, 5)", "nan_to_num"
    )


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_infinity_inside_the_roi_is_refused_by_the_library(tmp_path, value):
    path = gen.write(tmp_path / "in" / "inf.nrrd", withValue(value, (11, 4, 8)))
    with (
        guarded([path]),
        pytest.raises(
            InputError, match=r"\(0 NaN, 1 infinite\) inside the ROI, the first at index \(i, j, k\) = \(8, 4, 11\)"
        ),
    ):
        extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT)


def test_nan_outside_the_roi_is_harmless_for_original_features(tmp_path):
    """Decision: features of the Original image read only ROI voxels, so a NaN background is accepted and the
    features equal those of the clean image exactly."""
    path = gen.write(tmp_path / "in" / "nan.nrrd", withValue(math.nan, (0, 0, 0)))
    with guarded([path]):
        result = extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), MR_DEFAULT)
    assert result.features == extractFeatures(withValue(0.0, (0, 0, 0)), gen.roiMask(), MR_DEFAULT).features


def test_infinity_outside_the_roi_is_refused_when_a_filter_would_spread_it(tmp_path):
    path = gen.write(tmp_path / "in" / "inf.nrrd", withValue(math.inf, (2, 2, 2)))
    settings = RadiomicsSettings({"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}}, "setting": {"binWidth": 25}})
    with (
        guarded([path]),
        pytest.raises(
            InputError,
            match=r"outside the ROI, the first at index \(i, j, k\) = \(2, 2, 2\), and the settings apply the LoG filter",
        ),
    ):
        extractFeatures(sitk.ReadImage(str(path)), gen.roiMask(), settings)


def test_one_infinite_voxel_is_not_reported_as_no_foreground():
    from VirtualBiopsy.harmonize.foreground import foregroundMask

    voxels = gen.spreadValues(10, 500)
    voxels[3, 2, 1] = math.inf
    with pytest.raises(
        InputError,
        match=r"1 NaN or infinite voxel\(s\) \(0 NaN, 1 infinite\), the first at index \(i, j, k\) = \(1, 2, 3\), so its foreground",
    ):
        foregroundMask(gen.image(voxels))


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
