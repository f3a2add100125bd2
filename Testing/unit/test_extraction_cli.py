"""``virtual-biopsy extract`` on one case: the CSV and its provenance sidecar, and bad input
answered with exit status 2, one line on stderr and no file left behind."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from syntheticImages import headWithLesion

from VirtualBiopsy import cli
from VirtualBiopsy.commands import extract


def test_extract_is_a_registered_command():
    assert extract in cli.COMMANDS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    image, lesion, head = headWithLesion(size=32)
    labels = sitk.Cast(lesion, sitk.sitkUInt8) * 2  # label 2 only
    paths = {"t1": folder / "case7_t1.nrrd", "flair": folder / "case7_flair.nii.gz", "mask": folder / "mask.nrrd"}
    sitk.WriteImage(image, str(paths["t1"]))
    sitk.WriteImage(image * 2, str(paths["flair"]))
    sitk.WriteImage(labels, str(paths["mask"]))
    return paths


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main(["extract", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_one_image_keeps_pyradiomics_names(files, tmp_path, capsys):
    out = tmp_path / "features.csv"
    status, stdout, _ = runCli(["--image", files["t1"], "--mask", files["mask"], "--label", 2, "--out", out], capsys)
    assert status == 0 and str(out) in stdout
    table = pd.read_csv(out)
    assert list(table.columns[:2]) == ["patient", "label"] and table.shape == (1, 2 + 107)
    assert table["patient"][0] == "case7_t1" and table["label"][0] == 2
    assert "original_glcm_Contrast" in table.columns
    provenance = json.loads((tmp_path / "features.provenance.json").read_text(encoding="utf-8"))
    record = provenance["labels"]["2"]
    assert record["provenance"]["settingsName"] == "mr-default" and record["undefined"] == {}
    assert any(key.startswith("diagnostics_") for key in record["diagnostics"])
    assert provenance["inputs"]["mask"] == str(files["mask"])


def test_named_sequences_are_prefixed_with_shape_once(files, tmp_path, capsys):
    out = tmp_path / "sub" / "f.csv"
    status, _, _ = runCli(
        [
            "--image",
            f"T1c={files['t1']}",
            "--image",
            f"FLAIR={files['flair']}",
            "--mask",
            files["mask"],
            "--label",
            2,
            "--patient",
            "P1",
            "--preset",
            "mr-default",
            "--out",
            out,
        ],
        capsys,
    )
    assert status == 0
    table = pd.read_csv(out).set_index("patient")
    assert "T1c_original_shape_VoxelVolume" in table.columns and not any(
        c.startswith("FLAIR_original_shape") for c in table.columns
    )
    assert table.loc["P1", "FLAIR_original_firstorder_Mean"] == pytest.approx(
        2 * table.loc["P1", "T1c_original_firstorder_Mean"]
    )


def test_params_file_and_undefined_features_as_empty_cells(files, tmp_path, capsys):
    image = sitk.ReadImage(str(files["t1"]))
    voxels = sitk.GetArrayFromImage(image)
    voxels[sitk.GetArrayFromImage(sitk.ReadImage(str(files["mask"]))) == 2] = 7.0
    flat = sitk.GetImageFromArray(voxels)
    flat.CopyInformation(image)
    sitk.WriteImage(flat, str(tmp_path / "flat.nrrd"))
    params = tmp_path / "params.yaml"
    params.write_text("featureClass: {firstorder: , glcm: }\nsetting: {binWidth: 5}\n")
    out = tmp_path / "flat.csv"
    status, stdout, _ = runCli(
        ["--image", tmp_path / "flat.nrrd", "--mask", files["mask"], "--label", 2, "--params", params, "--out", out],
        capsys,
    )
    assert status == 0 and "24 undefined" in stdout
    table = pd.read_csv(out)
    assert table["original_glcm_Contrast"].isna().all() and table["original_firstorder_Mean"][0] == 7.0
    undefined = json.loads((tmp_path / "flat.provenance.json").read_text(encoding="utf-8"))["labels"]["2"]["undefined"]
    assert "constant ROI" in undefined["original_glcm_Contrast"]


def test_refuses_to_overwrite(files, tmp_path, capsys):
    out = tmp_path / "features.csv"
    out.write_text("precious")
    status, _, err = runCli(["--image", files["t1"], "--mask", files["mask"], "--label", 2, "--out", out], capsys)
    assert status == 2 and "exists already" in err and out.read_text(encoding="utf-8") == "precious"
    other = tmp_path / "other.csv"
    (tmp_path / "other.provenance.json").write_text("{}")
    status, _, err = runCli(["--image", files["t1"], "--mask", files["mask"], "--label", 2, "--out", other], capsys)
    assert status == 2 and "other.provenance.json exists already" in err and not other.exists()


def damaged(files, folder):
    """Bad inputs, each with the message it must give."""
    image = sitk.ReadImage(str(files["t1"]))
    mask = sitk.ReadImage(str(files["mask"]))
    sitk.WriteImage(sitk.JoinSeries([image, image]), str(folder / "4d.nrrd"))
    (folder / "garbage.nrrd").write_bytes(b"not an image at all")
    soft = sitk.Cast(mask, sitk.sitkFloat32) * 0.3
    sitk.WriteImage(soft, str(folder / "soft.nrrd"))
    shifted = sitk.Image(mask)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    sitk.WriteImage(shifted, str(folder / "shifted.nrrd"))
    sitk.WriteImage(mask * 0, str(folder / "empty.nrrd"))
    voxels = sitk.GetArrayFromImage(image)
    voxels[sitk.GetArrayFromImage(mask) == 2] = np.nan
    nan = sitk.GetImageFromArray(voxels)
    nan.CopyInformation(image)
    sitk.WriteImage(nan, str(folder / "nan.nrrd"))
    (folder / "broken.yaml").write_text("setting: {binwidth: 25}\n")
    t1, good = str(files["t1"]), str(files["mask"])
    return [
        (["--image", folder / "missing.nrrd", "--mask", good], "image file .*missing.nrrd was not found"),
        (["--image", folder / "garbage.nrrd", "--mask", good], "Cannot read the image file"),
        (["--image", folder / "4d.nrrd", "--mask", good], "image is 4D"),
        (["--image", t1, "--mask", folder / "soft.nrrd"], r"soft \(non-integer\) mask"),
        (["--image", t1, "--mask", folder / "shifted.nrrd"], "does not lie on the grid.*--resample-mask"),
        (["--image", t1, "--mask", folder / "empty.nrrd"], "mask is empty"),
        (["--image", t1, "--mask", good, "--label", 1], "Label 1 is not in the mask; labels present: 2"),
        (["--image", t1, "--mask", good, "--label", 2, "--min-voxels", 100000], "fewer than the minimum of 100000"),
        (
            ["--image", folder / "nan.nrrd", "--mask", good, "--label", 2],
            r"\d+ NaN or infinite voxel\(s\) \(\d+ NaN, 0 infinite\) inside the ROI, the first at index",
        ),
        (
            ["--image", t1, "--mask", good, "--label", 2, "--params", folder / "broken.yaml"],
            r"unknown key 'binwidth' under '/setting' \(did you mean 'binWidth'\?\)",
        ),
        (["--image", t1, "--mask", good, "--label", 2, "--preset", "ibsi-Z"], "No radiomics preset named 'ibsi-Z'"),
        (["--image", f"T1={t1}", "--image", t1, "--mask", good], "not all are named"),
    ]


def test_bad_input_exits_2_with_one_line_and_no_output(files, tmp_path, capsys):
    cases = damaged(files, tmp_path)
    for index, (arguments, message) in enumerate(cases):
        out = tmp_path / f"out{index}" / "features.csv"
        status, stdout, err = runCli([*arguments, "--out", out], capsys)
        assert status == 2, (arguments, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("virtual-biopsy extract: error: "), err
        assert re.search(message, lines[0]), (message, lines[0])
        assert not out.exists() and not out.with_name("features.provenance.json").exists()


def test_resample_mask_when_asked(files, tmp_path, capsys):
    mask = sitk.ReadImage(str(files["mask"]))
    coarse = sitk.Resample(
        mask,
        [16, 16, 16],
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        mask.GetOrigin(),
        [4.0, 4.0, 4.0],
        mask.GetDirection(),
        0,
        mask.GetPixelID(),
    )
    sitk.WriteImage(coarse, str(tmp_path / "coarse.nrrd"))
    out = tmp_path / "features.csv"
    status, _, _ = runCli(
        ["--image", files["t1"], "--mask", tmp_path / "coarse.nrrd", "--label", 2, "--resample-mask", "--out", out],
        capsys,
    )
    assert status == 0
    provenance = json.loads((tmp_path / "features.provenance.json").read_text(encoding="utf-8"))
    assert provenance["labels"]["2"]["provenance"]["maskResampledToImage"] == ["image"]


def test_help(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["extract", "--help"])
    assert exit.value.code == 0 and "--image PATH|NAME=PATH" in capsys.readouterr().out


def test_options_build_the_same_extraction_config_as_the_panel_and_the_pipeline(files, tmp_path, capsys):
    """--bin-width and --feature-class reach pyradiomics through ExtractionConfig: the features equal pyradiomics
    run by hand with that bin width, a --config file's 'extraction' section gives the same table, and a bad value
    is named as the config's field."""
    import radiomics.featureextractor

    from VirtualBiopsy.extract.config import ExtractionConfig

    out = tmp_path / "bins.csv"
    arguments = [
        "--image",
        files["t1"],
        "--mask",
        files["mask"],
        "--label",
        2,
        "--bin-width",
        3,
        "--feature-class",
        "firstorder",
        "--feature-class",
        "glcm",
    ]
    status, _, _ = runCli([*arguments, "--out", out], capsys)
    assert status == 0
    table = pd.read_csv(out)
    assert {column.split("_")[1] for column in table.columns[2:]} == {"firstorder", "glcm"}
    settings = ExtractionConfig(binWidth=3.0, featureClasses=["firstorder", "glcm"]).settings()
    provenance = json.loads((tmp_path / "bins.provenance.json").read_text(encoding="utf-8"))
    assert provenance["config"]["binWidth"] == 3.0 and provenance["config"]["featureClasses"] == ["firstorder", "glcm"]
    extractor = radiomics.featureextractor.RadiomicsFeatureExtractor(**settings.setting)
    extractor.disableAllFeatures()
    extractor.enableFeatureClassByName("firstorder")
    extractor.enableFeatureClassByName("glcm")
    expected = extractor.execute(str(files["t1"]), str(files["mask"]), label=2)
    assert settings.setting["binWidth"] == 3.0
    assert table["original_glcm_Contrast"][0] == pytest.approx(float(expected["original_glcm_Contrast"]), rel=1e-9)
    default = tmp_path / "default.csv"
    assert runCli(["--image", files["t1"], "--mask", files["mask"], "--label", 2, "--out", default], capsys)[0] == 0
    assert pd.read_csv(default)["original_glcm_Contrast"][0] != pytest.approx(table["original_glcm_Contrast"][0])

    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("extraction:\n  binWidth: 3\n  featureClasses: [firstorder, glcm]\n", encoding="utf-8")
    fromFile = tmp_path / "fromFile.csv"
    status, _, _ = runCli(
        ["--image", files["t1"], "--mask", files["mask"], "--label", 2, "--config", pipeline, "--out", fromFile], capsys
    )
    assert status == 0
    pd.testing.assert_frame_equal(pd.read_csv(fromFile), table)

    status, _, error = runCli([*arguments[:6], "--bin-width", -1, "--out", tmp_path / "bad.csv"], capsys)
    assert status == 2 and "ExtractionConfig.binWidth is -1.0" in error and not (tmp_path / "bad.csv").exists()
