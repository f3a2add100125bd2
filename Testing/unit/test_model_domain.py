"""The model domain check (issue 13): a model's training domain is read from nnU-Net's fingerprint, images
inside it give no warning, and images far outside it (another intensity scale, another resolution, a real
brain MR for the virtual-cohort demo model) give a warning naming the sequence, the values and the fix."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.virtualCase import generateCase
from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, entryToDict, readManifest
from VirtualBiopsy.models.trainingDomain import TrainingDomain, domainWarnings

DEMO = SHIPPED_MANIFEST.parent / "demo"


def demoPlans() -> tuple[dict, dict]:
    return (
        json.loads((DEMO / "plans.json").read_text(encoding="utf-8")),
        json.loads((DEMO / "dataset.json").read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def demoDomain() -> TrainingDomain:
    return TrainingDomain.fromNnunetPlans(*demoPlans())


@pytest.fixture(scope="module")
def case():
    return generateCase(index=200, seed=2026, size=64)  # unseen by the demo model; 3.75 mm, twice its spacing


def scaled(image: sitk.Image, factor: float) -> sitk.Image:
    result = sitk.Cast(sitk.Cast(image, sitk.sitkFloat32) * factor, image.GetPixelID())
    result.CopyInformation(image)
    return result


def test_demo_domain_holds_the_fingerprint_of_its_plans(demoDomain):
    plans, dataset = demoPlans()
    assert demoDomain.model == plans["dataset_name"]
    assert [channel.sequence for channel in demoDomain.channels] == ["FLAIR", "T1c"]
    spacing = plans["original_median_spacing_after_transp"]
    for channel in demoDomain.channels:
        recorded = plans["foreground_intensity_properties_per_channel"][str(channel.index)]
        assert channel.sequence == dataset["channel_names"][str(channel.index)]
        assert (channel.percentile005, channel.median, channel.percentile995) == (
            recorded["percentile_00_5"],
            recorded["median"],
            recorded["percentile_99_5"],
        )
        assert (channel.mean, channel.std) == (recorded["mean"], recorded["std"])
        assert channel.spacing == tuple(spacing[::-1])


def test_spacing_comes_back_to_simpleitk_order_through_transpose_forward():
    # nnU-Net stores z/y/x spacing permuted by transpose_forward: here (z, y, x) = (5, 0.5, 0.8) became
    # [0.5, 0.8, 5] with transpose_forward [1, 2, 0]; SimpleITK's x/y/z is then (0.8, 0.5, 5).
    plans = {"original_median_spacing_after_transp": [0.5, 0.8, 5.0], "transpose_forward": [1, 2, 0]}
    domain = TrainingDomain.fromNnunetPlans(plans, {"channel_names": {"0": "T2"}})
    assert domain.channels[0].spacing == (0.8, 0.5, 5.0) and not domain.channels[0].hasIntensities
    with pytest.raises(ModelError, match="malformed"):
        TrainingDomain.fromNnunetPlans({"original_median_spacing_after_transp": ["thick", 1, 1]})


@pytest.mark.parametrize("index", [0, 40, 200, 201, 202])  # a training case, a validation case, unseen ones
def test_virtual_cohort_cases_are_inside_the_demo_domain(demoDomain, index):
    case = generateCase(index=index, seed=2026, size=64)
    assert domainWarnings(demoDomain, case.images) == []
    assert domainWarnings(demoDomain, case.images, mask=case.mask) == []


def test_another_intensity_scale_is_flagged_per_sequence(demoDomain, case):
    warnings = domainWarnings(demoDomain, {name: scaled(case.images[name], 0.1) for name in ("FLAIR", "T1c")})
    assert len(warnings) == 2
    flair, t1c = warnings
    assert "sequence 'FLAIR'" in flair and "sequence 'T1c'" in t1c
    for warning in warnings:
        assert "median lies outside the training 0.5–99.5 percentile range, even widened 2-fold" in warning
        assert "outside the data it was trained on" in warning and "harmonize the intensities" in warning
    assert "(median 2332, 0.5–99.5 percentiles 1090–4217)" in flair
    assert "(median 1096, 0.5–99.5 percentiles 519–4253)" in t1c

    larger = domainWarnings(demoDomain, {"FLAIR": scaled(case.images["FLAIR"], 10.0)})
    assert len(larger) == 1 and "sequence 'FLAIR'" in larger[0]
    assert "times the training one (more than 4 times)" in larger[0]


def test_another_resolution_is_flagged_once_for_the_grid(demoDomain, case):
    fine = {}
    for name in ("FLAIR", "T1c"):
        fine[name] = sitk.Image(case.images[name])
        fine[name].SetSpacing((0.5, 0.5, 0.5))  # the same voxels on a 0.5 mm grid (a 32 mm field of view)
    warnings = domainWarnings(demoDomain, fine)
    assert len(warnings) == 1, warnings
    assert "sequences 'FLAIR', 'T1c'" in warnings[0]
    assert "0.5 × 0.5 × 0.5 mm" in warnings[0] and "1.88 × 1.88 × 1.88 mm" in warnings[0]
    assert "x ×0.27, y ×0.27, z ×0.27" in warnings[0] and "Use a model trained on images" in warnings[0]


@pytest.mark.network  # the shared sampleCases fixture fetches pyradiomics' sample cases through pip once
def test_real_brain_mr_is_outside_the_demo_domain(demoDomain, sampleCases):
    brain = sitk.ReadImage(str(sampleCases["brain1"].image))
    warnings = domainWarnings(demoDomain, {"FLAIR": brain, "T1c": brain})
    # Its 0.78 × 0.78 × 6.5 mm voxels are far from the demo's 1.875 mm; its intensities (foreground median
    # 600) lie within the widened training range, so the resolution is what the warning names.
    assert len(warnings) == 1, warnings
    assert "sequences 'FLAIR', 'T1c': voxel spacing 0.781 × 0.781 × 6.5 mm" in warnings[0]
    assert "x ×0.42, y ×0.42, z ×3.5 the training spacing" in warnings[0]


@pytest.mark.slow
def test_run_inference_records_and_logs_the_warnings(case, tmp_path, caplog):
    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.segment.inferenceTask import runInference

    entry = {item.id: item for item in readManifest(SHIPPED_MANIFEST)}["demo"]
    images = {}
    for name in ("FLAIR", "T1c"):
        images[name] = str(tmp_path / f"{name}.nrrd")
        sitk.WriteImage(scaled(case.images[name], 0.1), images[name])
    arguments = {
        "images": images,
        "model": entryToDict(entry),
        "modelPath": str(ModelRegistry(tmp_path / "user").modelPath(entry)),
        "device": "cpu",
        "testTimeAugmentation": False,
        "outputs": {"labelMap": str(tmp_path / "labels.nrrd")},
    }
    with caplog.at_level(logging.WARNING, logger="VirtualBiopsy.segment.inferenceTask"):
        result = runInference(arguments, lambda fraction, message="": None)
    warnings = result["provenance"]["domainWarnings"]
    assert len(warnings) == 2 and "sequence 'FLAIR'" in warnings[0] and "Model 'demo'" in warnings[0]
    logged = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings[0] in logged and warnings[1] in logged
    assert not any(str(tmp_path) in message for message in logged)  # no file paths of the patient's images
    assert np.isfinite(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "labels.nrrd")))).all()


@pytest.mark.slow
def test_segment_command_prints_the_warnings_and_succeeds(case, tmp_path, capsys):
    from VirtualBiopsy import cli

    paths = {}
    for name in ("FLAIR", "T1c"):
        paths[name] = tmp_path / f"{name}.nrrd"
        sitk.WriteImage(scaled(case.images[name], 0.1), str(paths[name]))
    out = tmp_path / "labels.nrrd"
    status = cli.main(
        ["segment", "--model", "demo", "--models-dir", str(tmp_path / "user"), "--device", "cpu", "--no-tta"]
        + [f"--image={name}={path}" for name, path in paths.items()]
        + ["--out", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    printed = [line for line in captured.err.splitlines() if line.startswith("virtual-biopsy segment: warning: ")]
    assert len(printed) == 2 and "sequence 'FLAIR'" in printed[0] and "sequence 'T1c'" in printed[1]
    provenance = json.loads((tmp_path / "labels.provenance.json").read_text(encoding="utf-8"))
    assert [f"virtual-biopsy segment: warning: {w}" for w in provenance["domainWarnings"]] == printed
