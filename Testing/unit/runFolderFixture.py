"""A run folder laid out as ``docs/cohort-run.md`` says, from real computation on a small virtual cohort.

Eight virtual patients (64³) go through the demo pipeline (:func:`~VirtualBiopsy.cohort.demo.runCohort`, threshold
segmentation, Cox model, classifier comparison and Shapley values; no CNN), plus a ninth whose FLAIR file is
missing, so that it fails. The demo's outputs are then arranged into the run folder: per case the harmonized
images and the automatic segmentation taken from the patient's scene, ``case.json`` with the volume, Dice and
HD95 computed from the masks, ``features.csv``; the cohort tables, ``check.csv`` from
:func:`~VirtualBiopsy.cohort.cohortCheck.checkCohort` and the cohort analyses under ``cohort/``.

The folder is built once per test session (:func:`runFolder`); tests that change it work on a copy.
"""

from __future__ import annotations

import html
import json
import pathlib
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml

#: Patients of the virtual cohort, and the extra patient that fails (its FLAIR file does not exist).
CASES = 8
FAILING_PATIENT = "VB0009"
SEGMENTATION_SEQUENCE = "FLAIR"

_BUILT: dict[str, pathlib.Path] = {}


@pytest.fixture(scope="session")
def runFolder(tmp_path_factory) -> pathlib.Path:
    """The run folder (built once per session; do not modify it, copy it with :func:`copyRunFolder`)."""
    if "run" not in _BUILT:
        _BUILT["run"] = buildRunFolder(tmp_path_factory.mktemp("runFolder"))
    return _BUILT["run"]


def copyRunFolder(runFolder: pathlib.Path, destination: pathlib.Path) -> pathlib.Path:
    """A copy of the run folder (the images it points to outside the folder are shared)."""
    return pathlib.Path(shutil.copytree(runFolder, destination, symlinks=True))


def pipelineConfig():
    """The demo preset with threshold segmentation, small cross-validation settings and no CNN."""
    from VirtualBiopsy.cohort.pipelineConfig import PRESETS, PipelineConfig
    from VirtualBiopsy.settings import readYamlFile

    document = readYamlFile(PRESETS / "demo.yaml", "demo preset")
    document["segmentation"]["method"] = "thresholdLargestIsland"
    document["cohort"]["analyses"] = ["cox", "classification", "explanation"]
    document["classification"].update(folds=3, repeats=1, bootstrapSamples=100, trees=20)
    document["cox"]["cindexBootstrap"] = 20
    document["explanation"]["backgroundSize"] = 8
    return PipelineConfig.fromDict(document)


def buildRunFolder(root: pathlib.Path) -> pathlib.Path:
    """Generate the cohort under ``root/input``, run the demo pipeline in ``root/demo`` and arrange its outputs
    into the run folder ``root/run``; returns the run folder."""
    from VirtualBiopsy.cohort.cohortCheck import checkCohort
    from VirtualBiopsy.cohort.demo import runCohort
    from VirtualBiopsy.data.virtualCohort import generateCohort
    from VirtualBiopsy.files import sha256File

    manifest = generateCohort(root / "input", cases=CASES, seed=0, size=64)
    _addFailingPatient(manifest)
    config = pipelineConfig()
    demo = runCohort(manifest, root / "demo", config=config)
    run = root / "run"
    (run / "cohort").mkdir(parents=True)
    clinicalPath = manifest.parent / "clinical.csv"
    (run / "pipeline.yaml").write_text(yaml.safe_dump(_documentedSettings(config), sort_keys=False))
    (run / "run.json").write_text(
        json.dumps(
            {
                "manifest": {"path": str(manifest), "sha256": sha256File(manifest)},
                "clinical": {"path": str(clinicalPath), "sha256": sha256File(clinicalPath)},
                "settings": {"path": "pipeline.yaml", "sha256": sha256File(run / "pipeline.yaml")},
            },
            indent=2,
        )
    )
    checkCohort(manifest, clinicalPath).writeCsv(run / "check.csv")
    features = pd.read_csv(demo.featuresCsv, index_col="patient")
    manifestRows = pd.read_csv(manifest, dtype=str).set_index("patient")
    qaRows, failureRows = [], []
    demoFailures = pd.read_csv(demo.failuresCsv, dtype=str)
    for patient, row in manifestRows.iterrows():
        images = {seq: str((manifest.parent / row[seq]).resolve()) for seq in ("T1c", "T2", "FLAIR")}
        reference = str((manifest.parent / row["mask"]).resolve())
        if patient in features.index:
            summary = _doneCase(run, demo.outDir, str(patient), images, reference, features.loc[patient])
            qaRows.append(
                {
                    "patient": patient,
                    "dice": summary["dice"],
                    "hausdorff95Mm": summary["hausdorff95Mm"],
                    "volumeMm3": summary["volumeMm3"],
                    "referenceVolumeMm3": summary.pop("referenceVolumeMm3"),
                }
            )
        else:
            error = demoFailures.set_index("patient").loc[patient, "error"]
            summary = _failedCase(str(patient), row["site"], images, reference, "harmonize", error)
            failureRows.append({"patient": patient, "stage": "harmonize", "error": error})
        caseFolder = run / "cases" / str(patient)
        caseFolder.mkdir(parents=True, exist_ok=True)
        (caseFolder / "case.json").write_text(json.dumps(summary, indent=2))
    features.to_csv(run / "features.csv")
    pd.DataFrame(qaRows).to_csv(run / "segmentation-qa.csv", index=False)
    pd.DataFrame(failureRows, columns=["patient", "stage", "error"]).to_csv(run / "failures.csv", index=False)
    for name in ("clusters.csv", "kaplan-meier.png", "kaplan-meier.svg", "analyses.csv", "cox", "classification"):
        shutil.move(demo.outDir / name, run / "cohort" / name)
    shutil.move(demo.outDir / "scenes" / "cohort-outcome.mrb", run / "cohort" / "cohort-outcome.mrb")
    shutil.move(demo.outDir / "provenance.json", run / "provenance.json")
    return run


def _addFailingPatient(manifest: pathlib.Path) -> None:
    """A ninth manifest row whose FLAIR file does not exist (the demo pipeline records it as failed)."""
    rows = pd.read_csv(manifest, dtype=str)
    last = rows.iloc[-1].copy()
    last["patient"], last["FLAIR"] = FAILING_PATIENT, f"{FAILING_PATIENT}/FLAIR.nrrd"
    pd.concat([rows, last.to_frame().T]).to_csv(manifest, index=False, lineterminator="\n")
    clinicalPath = manifest.parent / "clinical.csv"
    clinical = pd.read_csv(clinicalPath, dtype=str)
    extra = clinical.iloc[-1].copy()
    extra["patient"] = FAILING_PATIENT
    pd.concat([clinical, extra.to_frame().T]).to_csv(clinicalPath, index=False, lineterminator="\n")


def _documentedSettings(config) -> dict:
    """The run's settings in the sections of ``docs/cohort-run.md`` (harmonize, segment, extract, analyses)."""
    settings = config.toDict()
    analyses = config.cohort.analyses
    return {
        "harmonize": {"enabled": True, **settings["harmonization"]},
        "segment": {"enabled": True, "source": "both", "sequence": SEGMENTATION_SEQUENCE, **settings["segmentation"]},
        "extract": {"enabled": True, "sequences": list(config.cohort.featureSequences), **settings["extraction"]},
        "analyses": {
            "enabled": True,
            "combat": {"enabled": False, "batchColumn": "site"},
            "signature": {"enabled": False},
            "clusters": {"enabled": True, **settings["outcome"]},
            **{name: {"enabled": name in analyses, **settings[name]} for name in ("cox", "classification")},
            "explanation": {"enabled": "explanation" in analyses, **settings["explanation"]},
            "deepLearning": {"enabled": "deepLearning" in analyses, **settings["deepLearning"]},
        },
    }


def _doneCase(
    run: pathlib.Path, demoDir: pathlib.Path, patient: str, images: dict, reference: str, features: pd.Series
) -> dict:
    """Write a done case's harmonized images, segmentation, features and scene from its demo scene; returns its
    ``case.json`` (with ``referenceVolumeMm3`` for ``segmentation-qa.csv``)."""
    from VirtualBiopsy.files import writeImageAtomically
    from VirtualBiopsy.mrml.images import volumeNodeToImage
    from VirtualBiopsy.mrml.segmentations import segmentMaskImage
    from VirtualBiopsy.mrml.storage import loadScene
    from VirtualBiopsy.segment.overlap import diceCoefficient
    from VirtualBiopsy.segment.qa.metrics import computeMetrics

    folder = run / "cases" / patient
    (folder / "harmonized").mkdir(parents=True)
    scenePath = demoDir / "scenes" / f"{patient}.mrb"
    scene = loadScene(scenePath)
    harmonized = {}
    for sequence in ("T1c", "FLAIR"):
        node = scene.GetFirstNodeByName(f"{patient}_{sequence}_harmonized")
        writeImageAtomically(volumeNodeToImage(node), folder / "harmonized" / f"{sequence}.nrrd")
        harmonized[sequence] = f"cases/{patient}/harmonized/{sequence}.nrrd"
    referenceNode = scene.GetFirstNodeByName(f"{patient}_{SEGMENTATION_SEQUENCE}")
    automatic = next(
        node
        for node in (
            scene.GetNthNodeByClass(i, "vtkMRMLSegmentationNode")
            for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"))
        )
        if not node.GetName().endswith("_groundTruth")
    )
    mask = segmentMaskImage(automatic, automatic.GetSegmentation().GetNthSegmentID(0), referenceNode)
    scene.Clear(True)
    writeImageAtomically(sitk.Cast(mask, sitk.sitkUInt8), folder / "segmentation.nrrd")
    truth = sitk.ReadImage(reference)
    truthOnGrid = sitk.Resample(truth, mask, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8) > 0
    metrics = computeMetrics(sitk.Cast(truthOnGrid, sitk.sitkUInt8), mask)
    voxelMm3 = float(np.prod(mask.GetSpacing()))
    pd.DataFrame({"feature": features.index, "value": features.to_numpy()}).to_csv(folder / "features.csv", index=False)
    shutil.move(scenePath, folder / f"{patient}.mrb")
    return {
        "patient": patient,
        "site": str(
            pd.read_csv(run.parent / "input" / "clinical.csv", dtype=str).set_index("patient").at[patient, "site"]
        ),
        "status": "done",
        "failedStage": None,
        "error": None,
        "images": images,
        "reference": reference,
        "harmonized": harmonized,
        "segmentation": f"cases/{patient}/segmentation.nrrd",
        "segmentationSource": "model",
        "scene": f"cases/{patient}/{patient}.mrb",
        "volumeMm3": float(sitk.GetArrayViewFromImage(mask).sum()) * voxelMm3,
        "referenceVolumeMm3": float(sitk.GetArrayViewFromImage(truthOnGrid).sum()) * voxelMm3,
        "dice": diceCoefficient(mask, sitk.Cast(truthOnGrid, sitk.sitkUInt8)),
        "hausdorff95Mm": metrics.hd95Mm,
        "domainWarnings": [],
        "stages": {stage: {"status": "done", "seconds": None, "skipped": False} for stage in _STAGES},
        "peakMemoryBytes": None,
    }


_STAGES = ("harmonize", "segment", "extract")


def _failedCase(patient: str, site: str, images: dict, reference: str, stage: str, error: str) -> dict:
    """``case.json`` of a case that failed at ``stage``."""
    return {
        "patient": patient,
        "site": site,
        "status": "failed",
        "failedStage": stage,
        "error": error,
        "images": images,
        "reference": reference,
        "harmonized": {},
        "segmentation": None,
        "segmentationSource": None,
        "scene": None,
        "volumeMm3": None,
        "dice": None,
        "hausdorff95Mm": None,
        "domainWarnings": [],
        "stages": {stage: {"status": "failed", "seconds": None, "skipped": False}},
        "peakMemoryBytes": None,
    }


# Reading the report's pages in tests.


def pages(report: pathlib.Path) -> dict[str, str]:
    """Every page of a report folder by its path relative to the folder."""
    return {str(p.relative_to(report)): p.read_text(encoding="utf-8") for p in sorted(report.rglob("*.html"))}


def tableRows(fragment: str) -> list[list[str]]:
    """The rows of the first table in ``fragment``, each a list of its cells' text (tags stripped, unescaped)."""
    table = re.search(r"<table>.*?</table>", fragment, re.S)
    assert table, "no table"
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)
    ]


def section(page: str, anchor: str) -> str:
    """The HTML of the section ``anchor`` of a page."""
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert match, f"no section {anchor}"
    return match.group(1)
