"""The walking pipeline end to end, through the command line, on a small virtual cohort."""

import contextlib
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import slicer
import yaml

from VirtualBiopsy.cli import main
from VirtualBiopsy.cohort import run
from VirtualBiopsy.cohort.runCompletion import runCompletion
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.mrml.images import volumeNodeToImage
from VirtualBiopsy.mrml.storage import loadScene
from VirtualBiopsy.mrml.tables import tableNodeToDataFrame
from VirtualBiopsy.outcome.kaplanMeier import kaplanMeier

CASES = 8


@pytest.fixture(scope="module")
def demoRun(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    out = folder / "demo"
    # the shipped demo settings, with 3 folds: 8 patients of seed 11 have 3 low-grade tumours
    (folder / "demo.yaml").write_text(yaml.safe_dump({"analyses": {"classification": {"folds": 3}}}))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(
            ["demo", "--out", str(out), "--cases", str(CASES), "--seed", "11", "--config", str(folder / "demo.yaml")]
        )
    return status, out, printed.getvalue()


@pytest.mark.slow
def test_demo_writes_every_output(demoRun):
    status, demo, _ = demoRun
    assert status == 0
    out, cohort = demo / "run", demo / "virtual-cohort"
    features = pd.read_csv(out / "features.csv", index_col="patient")
    clusters = pd.read_csv(out / "cohort" / "clusters.csv")
    clinical = pd.read_csv(cohort / "clinical.csv")
    assert len(features) == CASES and features.shape[1] >= 190
    assert np.isfinite(features.to_numpy()).all()
    assert list(clusters["patient"]) == list(features.index) == list(clinical["patient"])
    assert set(clusters["cluster"]) == {0, 1}
    pd.testing.assert_series_equal(clusters["time"], clinical["time"])
    assert pd.read_csv(out / "failures.csv").empty
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["settings"]["segment"]["modelId"] == "demo"
    assert provenance["versions"]["pyradiomics"] == "3.0.1"
    firstT1c = cohort / pd.read_csv(cohort / "manifest.csv")["T1c"][0]
    recorded = provenance["inputs"][clinical["patient"][0]]["harmonize.T1c"]["image"]
    assert recorded == hashlib.sha256(firstT1c.read_bytes()).hexdigest()
    assert (out / "cohort" / "kaplan-meier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "cohort" / "kaplan-meier.svg").read_text().lstrip().startswith("<?xml")
    # the demo model segments cases of a cohort it never saw (another seed) as its held-out evaluation did
    assert clusters["dice"].median() > 0.85


@pytest.mark.slow
def test_demo_scene_reopens_with_its_nodes(demoRun):
    _, demo, _ = demoRun
    out = demo / "run"
    patient = pd.read_csv(out / "features.csv")["patient"].iloc[0]
    scene = loadScene(out / "cases" / patient / f"{patient}.mrb")
    volumes = [
        scene.GetNthNodeByClass(i, "vtkMRMLScalarVolumeNode")
        for i in range(scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode"))
    ]
    assert {v.GetName() for v in volumes} >= {f"{patient}_T1c", f"{patient}_T2", f"{patient}_FLAIR"}
    assert all(v.GetImageData() is not None for v in volumes)
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 2  # automatic and ground truth
    saved = pd.read_csv(out / "features.csv", index_col="patient", float_precision="round_trip").loc[patient]
    values = tableNodeToDataFrame(scene.GetFirstNodeByName(f"{patient}_features")).set_index("Feature")["Value"]
    assert list(values.index) == list(saved.index)
    np.testing.assert_array_equal(values.to_numpy(), saved.to_numpy())
    for sequence in ("T1c", "FLAIR"):
        assert len(saved[saved.index.str.startswith(f"{sequence}_")]) >= 80
    assert not any("FLAIR_original_shape" in name for name in saved.index)  # shape comes once


@pytest.mark.slow
def test_demo_cluster_survival_in_the_cohort_scene(demoRun):
    _, demo, printed = demoRun
    out = demo / "run"
    clusters = pd.read_csv(out / "cohort" / "clusters.csv", dtype={"patient": str})
    expected = kaplanMeier(clusters["time"], clusters["event"], clusters["cluster"]).logRankPValue
    assert f"Clusters' survival, log-rank p = {expected:.3g}" in printed
    scene = loadScene(out / "cohort" / "cohort-outcome.mrb")
    table = tableNodeToDataFrame(scene.GetFirstNodeByName("Clusters clusters"))
    assert table["patient"].astype(str).tolist() == clusters["patient"].tolist()
    assert table["cluster"].tolist() == clusters["cluster"].tolist()
    logrank = tableNodeToDataFrame(scene.GetFirstNodeByName("Clusters logrank"))
    assert logrank["p"].iloc[0] == pytest.approx(expected, rel=1e-12)
    chart = scene.GetFirstNodeByName("Clusters Kaplan–Meier")
    assert chart.IsA("vtkMRMLPlotChartNode") and f"log-rank p = {expected:.3g}" in chart.GetTitle()
    names = {chart.GetNthPlotSeriesNode(i).GetName() for i in range(chart.GetNumberOfPlotSeriesNodes())}
    assert {"0", "1"} <= names
    scene.Clear(True)


@pytest.mark.slow
def test_demo_cohort_analyses(demoRun):
    status, demo, printed = demoRun
    assert status == 0
    out, cohort = demo / "run" / "cohort", demo / "virtual-cohort"
    analyses = pd.read_csv(out / "analyses.csv")
    assert list(analyses["analysis"]) == [
        "combat",
        "signature",
        "clusters",
        "cox",
        "classification",
        "explanation",
        "deepLearning",
    ]
    assert list(analyses["status"]) == ["done"] * 7, analyses["error"].tolist()
    patients = list(pd.read_csv(out.parent / "features.csv")["patient"].astype(str))

    cindex = pd.read_csv(out / "cox" / "cindex.csv").iloc[0]
    assert 0.0 <= cindex["ci_lower"] <= cindex["cindex"] <= cindex["ci_upper"] <= 1.0
    assert list(pd.read_csv(out / "cox" / "coefficients.csv")["covariate"]) == ["age", "cluster"]
    for name in ("cox/risk_km", "classification/roc", "classification/summary"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")

    performance = pd.read_csv(out / "classification" / "performance.csv")
    assert list(performance["model"]) == ["lr", "rf"] and (performance["patients"] == CASES).all()
    assert performance["auc_pooled"].between(0, 1).all()
    assert (performance["auc_ci_lower"] <= performance["auc_pooled"]).all()
    assert (performance["auc_pooled"] <= performance["auc_ci_upper"]).all()
    for model in ("lr", "rf"):
        card = json.loads((out / "classification" / "models" / model / "model.json").read_text())
        skops = (out / "classification" / "models" / model / "model.skops").read_bytes()
        assert card["modelSha256"] == hashlib.sha256(skops).hexdigest()

    shap = pd.read_csv(out / "classification" / "shap.csv", dtype={"patient": str})
    assert list(shap["patient"]) == patients
    contributions = shap.drop(columns=["patient", "base_value", "model_output"]).sum(axis=1)
    np.testing.assert_allclose(contributions + shap["base_value"], shap["model_output"], atol=1e-6)
    assert len(list((out / "classification" / "waterfall").glob("*.png"))) >= 1

    maps = pd.read_csv(out / "gradcam" / "gradcam.csv", dtype={"patient": str})
    clinical = pd.read_csv(cohort / "clinical.csv", dtype={"patient": str}).set_index("patient")
    assert set(clinical.loc[maps["patient"], "grade"]) == {"HGG", "LGG"}  # the first patient of each grade
    for row in maps.itertuples():
        camMap = sitk.ReadImage(str(out / "gradcam" / row.map))
        image = sitk.ReadImage(str(cohort / row.patient / "T1c.nrrd"))
        assert camMap.GetSize() == image.GetSize()
        np.testing.assert_allclose(camMap.GetOrigin(), image.GetOrigin(), atol=1e-6)
        np.testing.assert_allclose(camMap.GetSpacing(), image.GetSpacing(), rtol=1e-9)
        np.testing.assert_allclose(camMap.GetDirection(), image.GetDirection(), atol=1e-9)
        values = sitk.GetArrayViewFromImage(camMap)
        assert values.min() >= 0.0 and values.max() <= 1.0 and values.max() > 0.5
        assert row.inside_over_outside > 0 and row.inside_over_outside_within_crop > 0
        assert {p.name for p in (out / "gradcam" / row.patient).iterdir()} == {
            "axial.png",
            "coronal.png",
            "sagittal.png",
            f"{row.patient}.mrb",
        }
        scene = loadScene(out / "gradcam" / row.patient / f"{row.patient}.mrb")
        node = scene.GetFirstNodeByName(f"{row.patient}_gradcam")
        np.testing.assert_array_equal(sitk.GetArrayFromImage(volumeNodeToImage(node)), values)
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
        item = hierarchy.GetItemByDataNode(node)
        assert hierarchy.GetItemName(hierarchy.GetItemParent(hierarchy.GetItemParent(item))) == row.patient
        scene.Clear(True)

    provenance = json.loads((out.parent / "provenance.json").read_text())
    recorded = {entry["name"]: entry for entry in provenance["analyses"]}
    assert recorded["deepLearning"]["summary"]["settings"]["cropSize"] == 32
    assert (
        recorded["explanation"]["summary"]["modelSha256"]
        == recorded["classification"]["summary"]["models"]["lr"]["modelSha256"]
    )
    assert "Cox model (age, cluster): C-index" in printed and "Best classifier of grade" in printed
    assert "Grad-CAM mean inside the tumour over outside" in printed


@pytest.mark.slow
def test_demo_refuses_another_cohort_in_its_folder(demoRun, capsys):
    _, out, _ = demoRun
    before = sorted(p.name for p in out.iterdir())
    assert main(["demo", "--out", str(out), "--cases", "2"]) == 2
    assert f"holds a demo of another cohort (--cases {CASES}, --seed 11, --size 128)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.slow
def test_the_same_demo_again_finds_everything_done(demoRun, capsys):
    _, demo, _ = demoRun
    assert runCompletion(demo / "run")["done"] == CASES
    (demo / "run" / "run-complete.json").unlink()  # as a kill after the last case would leave it
    before = {p: p.read_bytes() for p in (demo / "run").rglob("*.csv")}
    options = ["--cases", str(CASES), "--seed", "11", "--config", str(demo.parent / "demo.yaml")]
    assert main(["demo", "--out", str(demo), *options]) == 0
    assert {p: p.read_bytes() for p in (demo / "run").rglob("*.csv")} == before
    assert runCompletion(demo / "run")["done"] == CASES


@pytest.mark.slow
def test_bad_cases_are_recorded_and_the_batch_goes_on(tmp_path):
    manifest = generateCohort(tmp_path / "cohort", cases=6, seed=5)
    frame = pd.read_csv(manifest)
    files = {column: [manifest.parent / path for path in frame[column]] for column in frame.columns[2:]}
    before = {path: path.read_bytes() for column in files.values() for path in column}
    files["T1c"][0].write_bytes(b"this is not an image")
    files["FLAIR"][1].unlink()
    mask = sitk.ReadImage(str(files["mask"][2]))
    sitk.WriteImage(
        sitk.Resample(mask, [64, 64, 64], sitk.Transform(), sitk.sitkNearestNeighbor, mask.GetOrigin(), [3.75] * 3),
        str(files["mask"][2]),
    )
    t2 = sitk.ReadImage(str(files["T2"][3]))
    sitk.WriteImage(sitk.JoinSeries([t2, t2]), str(files["T2"][3]))

    result = run(manifest, tmp_path / "run", preset="demo", report=False)

    failures = pd.read_csv(tmp_path / "run" / "failures.csv").set_index("patient")
    patients = list(frame["patient"])
    assert list(failures.index) == patients[:4]
    assert list(failures["stage"]) == ["check", "check", "check", "scene"]
    reasons = failures["error"]
    assert "row 1, column T1c" in reasons[patients[0]] and "unreadable as an image" in reasons[patients[0]]
    assert "row 2, column FLAIR" in reasons[patients[1]] and "file not found" in reasons[patients[1]]
    assert "row 3, column mask" in reasons[patients[2]] and "not on the grid of T1c" in reasons[patients[2]]
    assert "GeometryError" in reasons[patients[3]] and "4D" in reasons[patients[3]]
    assert list(pd.read_csv(tmp_path / "run" / "features.csv")["patient"]) == patients[4:] == result.done
    # the cohort analyses that cannot run on 2 patients are recorded, and write nothing
    analyses = pd.read_csv(tmp_path / "run" / "cohort" / "analyses.csv").set_index("analysis")
    assert (
        analyses.loc["classification", "status"] == "failed" and "InputError" in analyses.loc["classification", "error"]
    )
    assert "explanation" not in analyses.index or analyses.loc["explanation", "status"] == "skipped"
    assert not (tmp_path / "run" / "cohort" / "classification").exists()
    assert (tmp_path / "run" / "cohort" / "cohort-outcome.mrb").is_file()
    # inputs are never modified (apart from the damage done above)
    for path in (files["T1c"][5], files["FLAIR"][5], files["mask"][5]):
        assert path.read_bytes() == before[path]


def test_cli_reports_bad_input_with_status_2(tmp_path, capsys):
    bad = tmp_path / "settings.yaml"
    bad.write_text("segment: {threshhold: 2}\n")
    assert main(["demo", "--out", str(tmp_path / "out"), "--config", str(bad)]) == 2
    assert "Did you mean 'threshold'" in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in ([], ["demo"], ["synth"], ["sample-data"]):
        with pytest.raises(SystemExit) as exit:
            main([*command, "--help"])
        assert exit.value.code == 0
        assert "usage: virtual-biopsy" in capsys.readouterr().out
