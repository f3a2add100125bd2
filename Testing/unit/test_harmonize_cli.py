"""``virtual-biopsy harmonize`` and ``virtual-biopsy nyul fit`` on files: each method equals the library
on the same images; bad input exits 2 with one line on stderr and writes nothing."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from syntheticImages import headWithLesion

from VirtualBiopsy import cli
from VirtualBiopsy.data.manifest import writeManifest
from VirtualBiopsy.harmonize import normalization
from VirtualBiopsy.harmonize.foreground import foregroundMask


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main([*map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def files(tmp_path):
    """Three synthetic heads (image and head mask files), a lesion mask and a cohort manifest."""
    paths, rows = {}, []
    for seed in range(3):
        image, lesion, head = headWithLesion(size=24, seed=seed)
        image = image * (1.0 + seed) + 30.0 * seed  # three "scanners"
        for name, volume in (("image", image), ("head", head), ("lesion", lesion)):
            paths[f"{name}{seed}"] = tmp_path / f"{name}{seed}.nrrd"
            sitk.WriteImage(volume, str(paths[f"{name}{seed}"]))
        rows.append(
            {
                "patient": f"P{seed}",
                "site": f"S{seed}",
                "T1c": paths[f"image{seed}"],
                "brain": paths[f"head{seed}"],
                "mask": paths[f"lesion{seed}"],
            }
        )
    paths["manifest"] = writeManifest(rows, tmp_path / "cohort.csv")
    return paths


def _read(path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _image(files, key="image0"):
    return sitk.ReadImage(str(files[key]))


def test_nyul_fit_then_apply_equals_the_library(files, tmp_path, capsys):
    model = tmp_path / "landmarks.json"
    status, out, err = runCli(
        ["nyul", "fit", "--manifest", files["manifest"], "--sequence", "T1c", "--mask-column", "brain", "--out", model],
        capsys,
    )
    assert status == 0, err
    assert "fitted on 3 images" in out
    images = [_image(files, f"image{seed}") for seed in range(3)]
    expected = normalization.fitNyulLandmarks(images, [_image(files, f"head{seed}") for seed in range(3)])
    loaded = normalization.NyulModel.load(model)
    np.testing.assert_allclose(loaded.standardLandmarks, expected.standardLandmarks, rtol=1e-12)
    assert loaded.sequence == "T1c" and loaded.fittedOnHashes == expected.fittedOnHashes
    output = tmp_path / "nyul.nii.gz"
    status, out, err = runCli(
        [
            "harmonize",
            "--image",
            files["image1"],
            "--mask",
            files["head1"],
            "--method",
            "nyul",
            "--model",
            model,
            "--out",
            output,
        ],
        capsys,
    )
    assert status == 0, err
    library = normalization.applyNyul(images[1], _image(files, "head1"), loaded)
    np.testing.assert_array_equal(_read(output), sitk.GetArrayFromImage(library))
    provenance = json.loads((tmp_path / "nyul.provenance.json").read_text(encoding="utf-8"))
    assert provenance["method"] == "nyul" and len(provenance["inputs"]["model"]["sha256"]) == 64
    assert not list(tmp_path.glob(".*partial*"))


def test_nyul_fit_with_the_foreground_by_default(files, tmp_path, capsys):
    model = tmp_path / "landmarks.json"
    assert runCli(["nyul", "fit", "--manifest", files["manifest"], "--sequence", "T1c", "--out", model], capsys)[0] == 0
    images = [_image(files, f"image{seed}") for seed in range(3)]
    expected = normalization.fitNyulLandmarks(images, [foregroundMask(image) for image in images])
    np.testing.assert_allclose(normalization.NyulModel.load(model).standardLandmarks, expected.standardLandmarks)


LIBRARY = {
    "zscore": ([], lambda image, mask: normalization.zScoreNormalize(image, mask, 0.0)),
    "whitestripe": (
        ["--contrast", "T2", "--width", "0.1"],
        lambda image, mask: normalization.whiteStripeNormalize(image, mask, "T2", 0.1, 0.0),
    ),
    "percentile": (
        ["--low", "5", "--high", "95", "--no-clip"],
        lambda image, mask: normalization.percentileRescale(image, mask, 5, 95, (0, 1), False, 0.0),
    ),
    "histeq": (["--bins", "64"], lambda image, mask: normalization.histogramEqualization(image, mask, 64, 0.0)),
    "clahe": (
        ["--clip-limit", "0.05", "--kernel-size-mm", "12"],
        lambda image, mask: normalization.clahe(image, mask, 0.05, 12.0, 256, 0.0),
    ),
}


@pytest.mark.parametrize("method", LIBRARY)
def test_each_normalization_equals_the_library_with_a_mask_file(method, files, tmp_path, capsys):
    options, library = LIBRARY[method]
    output = tmp_path / f"{method}.nrrd"
    status, _, err = runCli(
        [
            "harmonize",
            "--image",
            files["image0"],
            "--mask",
            files["head0"],
            "--method",
            method,
            *options,
            "--out",
            output,
        ],
        capsys,
    )
    assert status == 0, err
    np.testing.assert_array_equal(_read(output), sitk.GetArrayFromImage(library(_image(files), _image(files, "head0"))))


def test_histogram_matching_and_foreground_and_whole_image_modes(files, tmp_path, capsys):
    image, reference = _image(files), _image(files, "image2")
    output = tmp_path / "matched.mha"
    status, _, err = runCli(
        [
            "harmonize",
            "--image",
            files["image0"],
            "--method",
            "histmatch",
            "--reference",
            files["image2"],
            "--match-points",
            "5",
            "--out",
            output,
        ],
        capsys,
    )
    assert status == 0, err
    expected = normalization.histogramMatching(
        image, foregroundMask(image), reference, foregroundMask(reference), matchPoints=5
    )
    np.testing.assert_array_equal(_read(output), sitk.GetArrayFromImage(expected))
    whole = tmp_path / "whole.nrrd"
    assert (
        runCli(
            ["harmonize", "--image", files["image0"], "--method", "zscore", "--mask-mode", "none", "--out", whole],
            capsys,
        )[0]
        == 0
    )
    np.testing.assert_array_equal(_read(whole), sitk.GetArrayFromImage(normalization.zScoreNormalize(image, None)))


def test_preprocessing_methods_equal_the_library(files, tmp_path, capsys):
    from VirtualBiopsy.harmonize.biasField import correctBiasField
    from VirtualBiopsy.harmonize.denoising import denoiseImage
    from VirtualBiopsy.harmonize.resampling import resampleImage

    image = _image(files)
    runs = {
        "n4": (["--shrink-factor", "2", "--iterations", "5,5"], correctBiasField(image, None, 2, [5, 5])[0]),
        "denoise": (["--denoise-method", "curvatureFlow"], denoiseImage(image, "curvatureFlow")),
        "resample": (
            ["--spacing-mm", "3", "--interpolator", "linear"],
            resampleImage(image, "isotropic", 3.0, "linear"),
        ),
    }
    for method, (options, expected) in runs.items():
        output = tmp_path / f"{method}.nrrd"
        status, _, err = runCli(
            ["harmonize", "--image", files["image0"], "--method", method, *options, "--out", output], capsys
        )
        assert status == 0, err
        assert sitk.ReadImage(str(output)).GetSize() == expected.GetSize()
        np.testing.assert_allclose(_read(output), sitk.GetArrayFromImage(expected), rtol=1e-6, atol=1e-4)


def _hostileImages(files, tmp_path):
    voxels = _read(files["image0"]).astype(np.float32)
    voxels[12, 12, 12] = np.nan
    nan = sitk.GetImageFromArray(voxels)
    nan.CopyInformation(_image(files))
    moved = _image(files, "head0")
    moved.SetOrigin((0.0, 0.0, 0.0))
    paths = {
        "nan": tmp_path / "nan.nrrd",
        "constant": tmp_path / "constant.nrrd",
        "moved": tmp_path / "moved.nrrd",
        "empty": tmp_path / "empty.nrrd",
    }
    sitk.WriteImage(nan, str(paths["nan"]))
    sitk.WriteImage(_image(files) * 0 + 5, str(paths["constant"]))
    sitk.WriteImage(moved, str(paths["moved"]))
    sitk.WriteImage(_image(files, "head0") * 0, str(paths["empty"]))
    return paths


def test_bad_input_exits_2_with_one_line_and_writes_nothing(files, tmp_path, capsys):
    hostile = _hostileImages(files, tmp_path)
    existing = tmp_path / "exists.nrrd"
    existing.write_text("keep")
    out = tmp_path / "out.nrrd"
    base = ["harmonize", "--image", files["image0"]]
    cases = [
        ([*base, "--method", "zscore", "--out", existing], "exists already"),
        ([*base, "--method", "zscore", "--out", tmp_path / "out.png"], "must end with"),
        (
            [*base, "--method", "zscore", "--contrast", "T2", "--out", out],
            "--contrast do(es) not apply to --method zscore",
        ),
        ([*base, "--method", "n4", "--bins", "3", "--out", out], "--bins"),
        (
            [*base, "--method", "zscore", "--mask", files["head0"], "--mask-mode", "none", "--out", out],
            "give one of them",
        ),
        ([*base, "--method", "nyul", "--out", out], "needs --model"),
        ([*base, "--method", "nyul", "--model", tmp_path / "absent.json", "--out", out], "model file not found"),
        ([*base, "--method", "histmatch", "--out", out], "needs --reference"),
        ([*base, "--method", "denoise", "--mask", files["head0"], "--out", out], "--mask does not apply"),
        ([*base, "--method", "n4", "--iterations", "5,x", "--out", out], "--iterations"),
        (["harmonize", "--image", tmp_path / "absent.nrrd", "--method", "zscore", "--out", out], "not found"),
        (
            ["harmonize", "--image", hostile["nan"], "--method", "whitestripe", "--out", out],
            "1 NaN or infinite voxel(s) (1 NaN, 0 infinite), the first at index",
        ),
        (
            ["harmonize", "--image", hostile["constant"], "--method", "zscore", "--mask-mode", "none", "--out", out],
            "constant",
        ),
        ([*base, "--method", "percentile", "--mask", hostile["moved"], "--out", out], "does not lie on the image grid"),
        ([*base, "--method", "clahe", "--mask", hostile["empty"], "--out", out], "mask is empty"),
        (
            [*base, "--method", "percentile", "--low", "90", "--high", "10", "--out", out],
            "percentileLow (90.0) must be below percentileHigh",
        ),
        ([*base, "--method", "clahe", "--clip-limit", "0", "--out", out], "claheClipLimit is 0.0"),
    ]
    for arguments, message in cases:
        status, _, err = runCli(arguments, capsys)
        assert status == 2, (arguments, err)
        assert message in err and len(err.strip().splitlines()) == 1, (message, err)
        assert not out.exists() and not (tmp_path / "out.provenance.json").exists()
    assert existing.read_text(encoding="utf-8") == "keep"
    assert not list(tmp_path.glob(".*partial*"))


def test_nyul_fit_bad_input(files, tmp_path, capsys):
    out = tmp_path / "model.json"
    base = ["nyul", "fit", "--manifest", files["manifest"]]
    cases = [
        ([*base, "--sequence", "FLAIR", "--out", out], "no sequence column 'FLAIR'"),
        ([*base, "--sequence", "T1c", "--mask-column", "atlas", "--out", out], "no column 'atlas'"),
        ([*base, "--sequence", "T1c", "--percentiles", "1,50,40,99", "--out", out], "strictly increasing"),
        ([*base, "--sequence", "T1c", "--percentiles", "1,x", "--out", out], "--percentiles"),
        ([*base, "--sequence", "T1c", "--standard-range", "0", "--out", out], "--standard-range"),
        ([*base, "--sequence", "T1c", "--out", tmp_path / "model.txt"], "must name a .json file"),
        (["nyul", "fit", "--manifest", tmp_path / "absent.csv", "--sequence", "T1c", "--out", out], "not found"),
    ]
    for arguments, message in cases:
        status, _, err = runCli(arguments, capsys)
        assert status == 2, (arguments, err)
        assert message in err and len(err.strip().splitlines()) == 1, (message, err)
        assert not out.exists()
    files["image1"].unlink()
    status, _, err = runCli([*base, "--sequence", "T1c", "--out", out], capsys)
    assert status == 2 and "patient P1: T1c image not found" in err and not out.exists()


def test_parser_choices_follow_the_library():
    from VirtualBiopsy.commands import harmonize
    from VirtualBiopsy.harmonize.config import NORMALIZATION_METHODS
    from VirtualBiopsy.harmonize.normalization.whiteStripe import CONTRASTS

    parser = cli.buildParser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    options = {action.dest: action for action in subparsers.choices["harmonize"]._actions}
    assert tuple(options["contrast"].choices) == tuple(CONTRASTS)
    assert harmonize.NORMALIZATIONS == NORMALIZATION_METHODS
    # "action": the optional 'evaluate' subcommand (harmonize evaluate ...)
    assert set(harmonize.METHOD_OPTIONS) | {"help", "image", "mask", "method", "out", "action"} == set(options)
    assert list(options["action"].choices) == ["evaluate"]


def test_the_command_builds_the_panels_configs():
    """``harmonize`` builds the Harmonization panel's PreprocessingConfig / HarmonizationConfig, ``register`` its
    RegistrationConfig and ``combat fit`` its ComBatConfig, from the options given (the rest: the defaults)."""
    from VirtualBiopsy.commands.combat import fitConfig
    from VirtualBiopsy.commands.harmonizeMethods import harmonizationConfig, preprocessingConfig
    from VirtualBiopsy.commands.register import registrationConfig
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
    from VirtualBiopsy.harmonize.config import HarmonizationConfig
    from VirtualBiopsy.harmonize.preprocessingConfig import PreprocessingConfig, RegistrationConfig

    parser = cli.buildParser()
    image = ["harmonize", "--image", "i.nrrd", "--out", "o.nrrd", "--method"]
    arguments = parser.parse_args([*image, "n4", "--shrink-factor", "2", "--iterations", "5,5"])
    assert preprocessingConfig(arguments) == PreprocessingConfig(n4ShrinkFactor=2, n4Levels=2, n4Iterations=5)
    arguments = parser.parse_args([*image, "resample", "--spacing-mm", "3", "--interpolator", "linear"])
    assert preprocessingConfig(arguments) == PreprocessingConfig(
        resamplingSpacingMm=3.0, resamplingInterpolator="linear"
    )
    with pytest.raises(InputError, match="same number of iterations"):
        preprocessingConfig(parser.parse_args([*image, "n4", "--iterations", "50,40"]))
    arguments = parser.parse_args([*image, "percentile", "--mask", "m.nrrd", "--low", "5", "--no-clip"])
    assert harmonizationConfig(arguments) == HarmonizationConfig(
        normalization="percentile", maskMode="mask", percentileLow=5.0, percentileClip=False
    )
    arguments = parser.parse_args(
        [
            "register",
            "--fixed",
            "f.nrrd",
            "--moving",
            "m.nrrd",
            "--stages",
            "rigid",
            "--seed",
            "3",
            "--no-retry",
            "--out-transform",
            "t.tfm",
            "--out-image",
            "o.nrrd",
        ]
    )
    assert registrationConfig(arguments) == RegistrationConfig(
        registrationStages="rigid", registrationSeed=3, registrationRetry=False
    )
    arguments = parser.parse_args(
        [
            "combat",
            "fit",
            "--features",
            "f.csv",
            "--clinical",
            "c.csv",
            "--batch",
            "site",
            "--covariates",
            "age,grade",
            "--categorical",
            "grade",
            "--out",
            "m.json",
        ]
    )
    assert fitConfig(arguments) == ComBatConfig(
        combatCovariates="age,grade", categoricalCovariates="grade", combatModelFile="m.json"
    )
