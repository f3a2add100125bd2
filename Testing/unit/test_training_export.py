"""Export of training cases to an nnU-Net v2 raw dataset: names, dataset.json, geometry, bad cases."""

from __future__ import annotations

import csv
import json
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.manifest import readManifest, writeManifest
from VirtualBiopsy.errors import CancelledError, GeometryError, InputError
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.training.config import DatasetExportConfig
from VirtualBiopsy.segment.training.datasetExport import (
    TrainingCase,
    casesFromCohort,
    checkedCase,
    datasetFolderName,
    exportDataset,
)

SEQUENCES = ["FLAIR", "T1c"]


def exportConfig(datasetId: int, name: str, sequences=SEQUENCES, **extra) -> DatasetExportConfig:
    return DatasetExportConfig(datasetId=datasetId, datasetName=name, sequences=list(sequences), **extra)


def obliqueLeftHanded() -> tuple[float, ...]:
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3)
    return tuple((rotation @ np.diag([1.0, 1.0, -1.0])).ravel())


def makeCase(caseId: str, seed: int, size=(7, 8, 9), labels=(0, 1)) -> TrainingCase:
    generator = np.random.default_rng(seed)
    shape = size[::-1]
    images = {}
    for name in SEQUENCES:
        image = sitk.GetImageFromArray(generator.normal(100, 20, shape).astype(np.float32))
        images[name] = image
    mask = sitk.GetImageFromArray(generator.choice(labels, shape).astype(np.uint8))
    for image in (*images.values(), mask):
        image.SetSpacing((0.7, 1.3, 2.9))
        image.SetOrigin((-12.5, 30.25, 4.0))
        image.SetDirection(obliqueLeftHanded())
    return TrainingCase(caseId, images, mask)


def readCasesCsv(folder: pathlib.Path) -> list[list[str]]:
    with open(folder / "cases.csv", newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_files_are_numbered_and_dataset_json_names_the_sequences(tmp_path):
    cases = [makeCase(f"PATIENT-{i}", i) for i in range(3)]
    export = exportDataset(cases, tmp_path, exportConfig(7, "Tiny"))

    assert export.folder == tmp_path / "Dataset007_Tiny"
    assert sorted(p.name for p in (export.folder / "imagesTr").iterdir()) == [
        f"case_{c:04d}_{k:04d}.nii.gz" for c in range(3) for k in range(2)
    ]
    assert sorted(p.name for p in (export.folder / "labelsTr").iterdir()) == [f"case_{c:04d}.nii.gz" for c in range(3)]
    assert json.loads((export.folder / "dataset.json").read_text(encoding="utf-8")) == {
        "channel_names": {"0": "FLAIR", "1": "T1c"},
        "labels": {"background": 0, "tumour": 1},
        "numTraining": 3,
        "file_ending": ".nii.gz",
    }
    assert readCasesCsv(export.folder) == [
        ["case", "source"],
        ["case_0000", "PATIENT-0"],
        ["case_0001", "PATIENT-1"],
        ["case_0002", "PATIENT-2"],
    ]
    everyName = " ".join(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert "PATIENT" not in everyName
    assert export.skipped == [] and [caseId for _, caseId in export.cases] == ["PATIENT-0", "PATIENT-1", "PATIENT-2"]


def test_voxels_and_oblique_left_handed_geometry_survive_the_round_trip(tmp_path):
    case = makeCase("A", 3)
    export = exportDataset([case], tmp_path, exportConfig(8, "Geometry"))
    for channel, name in enumerate(SEQUENCES):
        written = sitk.ReadImage(str(export.folder / "imagesTr" / f"case_0000_{channel:04d}.nii.gz"))
        original = case.images[name]
        assert np.array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(original))
        assert np.allclose(written.GetSpacing(), original.GetSpacing(), atol=1e-5)
        assert np.allclose(written.GetOrigin(), original.GetOrigin(), atol=1e-4)
        assert np.allclose(written.GetDirection(), original.GetDirection(), atol=1e-5)
    label = sitk.ReadImage(str(export.folder / "labelsTr" / "case_0000.nii.gz"))
    assert label.GetPixelID() == sitk.sitkUInt8
    assert np.array_equal(sitk.GetArrayFromImage(label), sitk.GetArrayFromImage(case.mask))
    assert np.allclose(label.GetDirection(), case.mask.GetDirection(), atol=1e-5)


def test_bad_cases_are_reported_and_skipped_and_the_others_numbered_without_gaps(tmp_path):
    missing = makeCase("missing-T1c", 1)
    missing.images = {"FLAIR": missing.images["FLAIR"]}
    offGrid = makeCase("off-grid", 2)
    offGrid.images["T1c"].SetOrigin((0.0, 0.0, 0.0))
    unknownLabel = makeCase("label-2", 3, labels=(0, 1, 2))
    noMask = makeCase("no-mask", 4)
    noMask.mask = None
    vector = makeCase("vector", 5)
    vector.images["FLAIR"] = sitk.Compose(vector.images["FLAIR"], vector.images["FLAIR"])
    fractional = makeCase("fractional-mask", 6)
    fractional.mask = sitk.Cast(fractional.mask, sitk.sitkFloat32) * 0.5
    reported = makeCase("reported", 7)
    reported.problems = ["FLAIR image not found: /nowhere/flair.nrrd"]
    good = [makeCase("good-1", 8), makeCase("good-2", 9)]
    cases = [good[0], missing, offGrid, unknownLabel, noMask, vector, fractional, reported, good[1]]

    export = exportDataset(cases, tmp_path, exportConfig(9, "Mixed"))

    assert export.cases == [("case_0000", "good-1"), ("case_0001", "good-2")]
    reasons = dict(export.skipped)
    assert list(reasons) == ["missing-T1c", "off-grid", "label-2", "no-mask", "vector", "fractional-mask", "reported"]
    assert "T1c" in reasons["missing-T1c"] and "missing" in reasons["missing-T1c"]
    assert "origin" in reasons["off-grid"] and "T1c" in reasons["off-grid"]
    assert "[2]" in reasons["label-2"]
    assert "no mask" in reasons["no-mask"]
    assert "components" in reasons["vector"]
    assert "non-integer" in reasons["fractional-mask"]
    assert "/nowhere/flair.nrrd" in reasons["reported"]
    assert json.loads((export.folder / "dataset.json").read_text(encoding="utf-8"))["numTraining"] == 2
    assert len(list((export.folder / "imagesTr").iterdir())) == 4


def test_checked_case_raises_the_specific_error():
    offGrid = makeCase("x", 1)
    offGrid.images["FLAIR"].SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="spacing"):
        checkedCase(offGrid, SEQUENCES, {0, 1})


def test_no_usable_case_writes_nothing(tmp_path):
    bad = makeCase("bad", 1, labels=(0, 5))
    with pytest.raises(InputError, match="No case could be exported.*bad"):
        exportDataset([bad], tmp_path, exportConfig(10, "Empty"))
    assert list(tmp_path.iterdir()) == []


def test_cancel_writes_nothing(tmp_path):
    token = CancelToken()

    def cases():
        yield makeCase("a", 1)
        token.cancel()
        yield makeCase("b", 2)

    with pytest.raises(CancelledError):
        exportDataset(cases(), tmp_path, exportConfig(11, "Cancelled"), cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_existing_dataset_folder_is_never_overwritten(tmp_path):
    folder = tmp_path / "Dataset012_Taken"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        exportDataset([makeCase("a", 1)], tmp_path, exportConfig(12, "Taken"))
    assert (folder / "keep.txt").read_text(encoding="utf-8") == "mine" and len(list(folder.iterdir())) == 1


@pytest.mark.parametrize(
    "datasetId, name",
    [(0, "Ok"), (1000, "Ok"), (True, "Ok"), ("5", "Ok"), (5, "has space"), (5, "under_score"), (5, "../up"), (5, "")],
)
def test_bad_dataset_id_or_name(datasetId, name):
    with pytest.raises(InputError):
        datasetFolderName(datasetId, name)


@pytest.mark.parametrize(
    "labels",
    [
        {"tumour": 1},
        {"background": 0, "tumour": 2},
        {"background": 0, "a": 1, "b": 1},
        {"background": 0, "tumour": -1},
        {"background": 0, "tumour": 1.0},
    ],
)
def test_bad_label_maps(tmp_path, labels):
    with pytest.raises(InputError):
        exportDataset([makeCase("a", 1)], tmp_path, exportConfig(13, "Labels", labels=labels))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sequences", [[], ["FLAIR", "FLAIR"], ["FLAIR", "../T1c"], ["FLAIR", ""]])
def test_bad_sequence_lists(tmp_path, sequences):
    with pytest.raises(InputError):
        exportDataset([makeCase("a", 1)], tmp_path, exportConfig(14, "Sequences", sequences))


def test_cases_from_a_manifest_read_files_lazily_and_keep_its_problems(tmp_path):
    case = makeCase("VB1", 1)
    folder = tmp_path / "cohort"
    folder.mkdir()
    for name, image in {**case.images, "mask": case.mask}.items():
        sitk.WriteImage(image, str(folder / f"{name}.nrrd"))
    manifest = writeManifest(
        [
            {
                "patient": "VB1",
                "FLAIR": folder / "FLAIR.nrrd",
                "T1c": folder / "T1c.nrrd",
                "mask": folder / "mask.nrrd",
            },
            {
                "patient": "VB2",
                "FLAIR": folder / "FLAIR.nrrd",
                "T1c": folder / "gone.nrrd",
                "mask": folder / "mask.nrrd",
            },
        ],
        folder / "manifest.csv",
    )

    cases = casesFromCohort(readManifest(manifest), ["T1c"])
    export = exportDataset(cases, tmp_path / "raw", exportConfig(15, "Manifest", ["T1c"]))

    assert export.cases == [("case_0000", "VB1")]
    assert export.skipped[0][0] == "VB2" and "gone.nrrd" in export.skipped[0][1]
    written = sitk.ReadImage(str(export.folder / "imagesTr" / "case_0000_0000.nii.gz"))
    assert np.array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(case.images["T1c"]))
