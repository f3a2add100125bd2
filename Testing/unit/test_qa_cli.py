"""``virtual-biopsy qa`` on small files: one case with several raters and a probability map, a cohort
manifest with bad cases recorded in failures.csv, and bad input answered with exit status 2, one line
on stderr and nothing written."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from qaMasks import blob, maskImage

from VirtualBiopsy import cli
from VirtualBiopsy.commands import qa
from VirtualBiopsy.files import sha256File
from VirtualBiopsy.segment.qa.metrics import computeMetrics


def test_qa_is_a_registered_command():
    assert qa in cli.COMMANDS


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main(["qa", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qa")
    masks = {name: maskImage(blob(seed=seed)) for name, seed in (("alice", 1), ("bob", 2), ("model", 3))}
    paths = {"alice": folder / "alice.nrrd", "bob": folder / "bob.nii.gz", "model": folder / "case7_pred.nrrd"}
    for name, path in paths.items():
        sitk.WriteImage(masks[name], str(path))
    scores = sitk.GetArrayFromImage(masks["model"]) * 0.6 + np.random.default_rng(0).random(blob().shape) * 0.4
    probabilities = sitk.GetImageFromArray(scores.astype(np.float32))
    probabilities.CopyInformation(masks["model"])
    paths["probabilities"] = folder / "prob.nrrd"
    sitk.WriteImage(probabilities, str(paths["probabilities"]))
    labels = sitk.GetArrayFromImage(masks["alice"]) * 2 + (
        sitk.GetArrayFromImage(masks["bob"]) * (1 - sitk.GetArrayFromImage(masks["alice"]))
    )
    labelImage = sitk.GetImageFromArray(labels.astype(np.uint8))
    labelImage.CopyInformation(masks["alice"])
    paths["labels"] = folder / "labels.nrrd"  # label 2 = alice's mask, label 1 = the rest of bob's
    sitk.WriteImage(labelImage, str(paths["labels"]))
    paths["model2"] = folder / "model_label2.nrrd"
    sitk.WriteImage(masks["model"] * 2, str(paths["model2"]))
    moved = sitk.Image(masks["bob"])
    moved.SetOrigin((0.0, 0.0, 0.0))
    paths["moved"] = folder / "moved.nrrd"
    sitk.WriteImage(moved, str(paths["moved"]))
    paths["garbage"] = folder / "garbage.nrrd"
    paths["garbage"].write_text("not an image")
    paths["empty"] = folder / "empty.nrrd"
    sitk.WriteImage(maskImage(np.zeros(blob().shape, bool)), str(paths["empty"]))
    return paths, masks, probabilities


def test_one_case_with_two_raters_and_probabilities(files, tmp_path, capsys):
    paths, masks, probabilities = files
    out = tmp_path / "qa"
    status, stdout, stderr = runCli(
        [
            "--reference",
            f"alice={paths['alice']}",
            "--reference",
            f"bob={paths['bob']}",
            "--prediction",
            paths["model"],
            "--probabilities",
            paths["probabilities"],
            "--tolerance",
            2,
            "--out",
            out,
        ],
        capsys,
    )
    assert status == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "provenance.json", "summary.csv"]
    assert "metrics.csv" in stdout
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["settings"]["toleranceMm"] == 2.0
    assert provenance["inputs"]["case7_pred"]["reference:bob"]["sha256"] == sha256File(paths["bob"])
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["pair"]) == ["model vs alice", "model vs bob", "bob vs alice"]
    assert set(metrics["patient"]) == {"case7_pred"}
    expected = computeMetrics(masks["alice"], masks["model"], probabilities, toleranceMm=2.0).toDict()
    for column in (
        "dsc",
        "jaccard",
        "hd95_mm",
        "hd_mm",
        "msd_mm",
        "surface_dsc",
        "volume_diff_ml",
        "auc",
        "sensitivity",
        "specificity",
        "fpr",
        "fnr",
        "fpr_primage",
        "fnr_primage",
    ):
        assert metrics.loc[0, column] == pytest.approx(expected[column], rel=1e-12), column
    assert math.isnan(metrics.loc[2, "auc"]) and "no probability map" in metrics.loc[2, "undefined"]
    inter = computeMetrics(masks["alice"], masks["bob"]).dsc
    assert metrics.loc[2, "dsc"] == pytest.approx(inter, rel=1e-12)
    summary = pd.read_csv(out / "summary.csv")
    pooled = summary[(summary["pair"] == "model vs references (pooled)") & (summary["metric"] == "dsc")].iloc[0]
    assert pooled["n"] == 2 and pooled["median"] == pytest.approx(metrics["dsc"][:2].median())


def test_label_picks_one_value_of_a_labelmap(files, tmp_path, capsys):
    paths, masks, _ = files
    status, _, stderr = runCli(
        ["--reference", paths["labels"], "--prediction", paths["model2"], "--label", 2, "--out", tmp_path / "qa"],
        capsys,
    )
    assert status == 0, stderr
    metrics = pd.read_csv(tmp_path / "qa" / "metrics.csv")
    assert list(metrics["pair"]) == ["model vs reference"]
    assert metrics.loc[0, "dsc"] == pytest.approx(computeMetrics(masks["alice"], masks["model"]).dsc, rel=1e-12)


def test_an_empty_prediction_gives_infinite_distances_in_the_csv(files, tmp_path, capsys):
    paths, _, _ = files
    status, _, _ = runCli(
        ["--reference", paths["alice"], "--prediction", paths["empty"], "--out", tmp_path / "qa"], capsys
    )
    metrics = pd.read_csv(tmp_path / "qa" / "metrics.csv")
    assert status == 0 and metrics.loc[0, "dsc"] == 0.0 and math.isinf(metrics.loc[0, "hd95_mm"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--reference", "{alice}", "--prediction", "{missing}"], "prediction file .*missing.nrrd was not found"),
        (
            ["--reference", "{moved}", "--prediction", "{model}"],
            "not on one grid: prediction mask: size.*reference mask: size",
        ),
        (["--reference", "{alice}", "--prediction", "{probabilities}"], "not a labelmap: it has non-integer values"),
        (["--reference", "{labels}", "--prediction", "{model}", "--label", "5"], "Label 5 is not in the reference"),
        (
            ["--reference", "{labels}", "--prediction", "{model}", "--label", "2"],
            "Label 2 is not in the prediction .*its labels: 1",
        ),
        (["--reference", "{alice}", "--prediction", "{model}", "--tolerance", "-1"], "--tolerance is -1"),
        (["--reference", "{alice}", "--prediction", "{model}", "--label", "0"], "--label 0 is the background"),
        (["--reference", "a={alice}", "--reference", "a={bob}", "--prediction", "{model}"], "rater 'a' is given twice"),
        (["--reference", "model={alice}", "--prediction", "{model}"], "named 'model'"),
        (["--prediction", "{model}"], "Missing --reference"),
        (
            ["--reference", "{garbage}", "--prediction", "{model}"],
            "Cannot read the reference 'reference' file .*garbage.nrrd",
        ),
        (
            ["--reference", "{alice}", "--prediction", "{model}", "--probabilities", "{missing}"],
            "probability map file .*not found",
        ),
        (["--manifest", "{missing}"], "QA manifest not found"),
        (["--reference", "{alice}", "--prediction", "{model}", "--segment", "Tumor"], "every mask here is a labelmap"),
        (["--manifest", "{alice}", "--reference", "{alice}"], "--manifest compares the cases"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(files, tmp_path, capsys, arguments, message):
    paths, _, _ = files
    values = {**{name: str(path) for name, path in paths.items()}, "missing": str(tmp_path / "missing.nrrd")}
    out = tmp_path / "qa"
    status, _, stderr = runCli([argument.format(**values) for argument in arguments] + ["--out", out], capsys)
    assert status == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("virtual-biopsy qa: error:")
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".qa")]


def test_an_existing_output_folder_is_not_overwritten(files, tmp_path, capsys):
    paths, _, _ = files
    out = tmp_path / "qa"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    status, _, stderr = runCli(["--reference", paths["alice"], "--prediction", paths["model"], "--out", out], capsys)
    assert status == 2 and "not empty" in stderr and (out / "keep.txt").read_text(encoding="utf-8") == "mine"


def _manifest(folder, text: str):
    path = folder / "cohort.csv"
    path.write_text(text)
    return path


def test_cohort_records_bad_cases_and_goes_on(files, tmp_path, capsys):
    paths, masks, _ = files
    folder = paths["alice"].parent
    manifest = _manifest(
        folder,
        "patient,prediction,reference,reference_bob,site,probabilities\n"
        "P1,case7_pred.nrrd,alice.nrrd,bob.nii.gz,A,prob.nrrd\n"
        "P2,case7_pred.nrrd,missing.nrrd,,B,\n"
        "P3,case7_pred.nrrd,moved.nrrd,,B,\n"
        "P4,alice.nrrd,,bob.nii.gz,A,\n",
    )
    out = tmp_path / "cohort"
    status, stdout, _ = runCli(["--manifest", manifest, "--out", out], capsys)
    assert status == 0 and "2 case(s)" in stdout
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(zip(metrics["patient"], metrics["pair"])) == [
        ("P1", "model vs reference"),
        ("P1", "model vs reference_bob"),
        ("P1", "reference_bob vs reference"),
        ("P4", "model vs reference_bob"),
    ]
    assert metrics.loc[3, "dsc"] == pytest.approx(computeMetrics(masks["bob"], masks["alice"]).dsc, rel=1e-12)
    assert 0.5 < metrics.loc[0, "auc"] <= 1.0
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures["patient"]) == ["P2", "P3"]
    assert "reference file not found" in failures.loc[0, "error"] and "GeometryError" in failures.loc[1, "error"]
    assert set(json.loads((out / "provenance.json").read_text(encoding="utf-8"))["inputs"]) == {"P1", "P2", "P3", "P4"}
    summary = pd.read_csv(out / "summary.csv")
    row = summary[(summary["pair"] == "model vs reference_bob") & (summary["metric"] == "dsc")].iloc[0]
    assert row["n"] == 2 and row["median"] == pytest.approx(metrics["dsc"][[1, 3]].median())


def test_cohort_where_every_case_fails_exits_1_with_the_failures(files, tmp_path, capsys):
    paths, _, _ = files
    manifest = _manifest(tmp_path, f"patient,prediction,reference\nP1,{paths['model']},{tmp_path / 'none.nrrd'}\n")
    refused = runCli(["--manifest", manifest, "--out", tmp_path / "cohort"], capsys)
    assert refused[0] == 2 and "--data-root DIR" in refused[2] and not (tmp_path / "cohort").exists()
    dataRoot = ["--data-root", paths["model"].parent]
    status, stdout, _ = runCli(["--manifest", manifest, *dataRoot, "--out", tmp_path / "cohort"], capsys)
    assert status == 1 and "Failed: 1" in stdout
    assert len(pd.read_csv(tmp_path / "cohort" / "failures.csv")) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("patient,reference\nP1,a.nrrd\n", "no 'prediction' column"),
        ("patient,prediction,truth\nP1,a.nrrd,b.nrrd\n", "no 'reference' column"),
        ("patient,prediction,reference\nP1,a,b\nP1,a,b\n", "patient 'P1' twice"),
        ("patient,prediction,reference\n", "no cases"),
        ("patient,prediction,reference\n,a,b\n", "no patient identifier"),
        ("patient,prediction,reference\nP1,a,b,c\n", "has 4 cells but the header names 3"),
        ("patient,prediction,reference,reference\nP1,a,b,c\n", "repeats column(s) reference"),
    ],
)
def test_bad_manifests_exit_2(tmp_path, capsys, text, message):
    status, _, stderr = runCli(["--manifest", _manifest(tmp_path, text), "--out", tmp_path / "cohort"], capsys)
    assert status == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cohort").exists()
