"""Writing a virtual cohort: files, manifest and clinical round trip, refusal to overwrite, cancel."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.manifest import readClinical, readManifest
from VirtualBiopsy.data.virtualCohort import generateCase, generateCohort
from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.progress import CancelToken

SIZE = 40


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A three-patient cohort and the progress reports it made."""
    reports = []
    outDir = tmp_path_factory.mktemp("cohorts") / "cohort"
    manifest = generateCohort(outDir, cases=3, seed=5, size=SIZE, progress=lambda f, m: reports.append((f, m)))
    return manifest, reports


def test_cohort_files_are_written_with_relative_paths(written):
    manifest, reports = written
    folder = manifest.parent
    assert manifest == folder / "manifest.csv"
    assert sorted(p.name for p in folder.iterdir()) == [
        "VB0001",
        "VB0002",
        "VB0003",
        "clinical.csv",
        "latent.csv",
        "manifest.csv",
        "provenance.json",
    ]
    for patient in ("VB0001", "VB0002", "VB0003"):
        assert sorted(p.name for p in (folder / patient).iterdir()) == [
            "FLAIR.nrrd",
            "T1c.nrrd",
            "T2.nrrd",
            "anatomy.nrrd",
            "mask.nrrd",
            "regions.nrrd",
        ]
    with open(manifest, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["patient", "site", "T1c", "T2", "FLAIR", "mask"]
    assert rows[0]["T1c"] == "VB0001/T1c.nrrd" and rows[0]["mask"] == "VB0001/mask.nrrd"
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["seed"] == 5 and provenance["size"] == SIZE and len(provenance["sites"]) == 3
    assert [fraction for fraction, _ in reports] == [0.0, 1 / 3, 2 / 3, 1.0]
    assert "VB0002" in reports[1][1]


def test_written_cohort_round_trips_through_manifest_and_clinical(written):
    manifest, _ = written
    cohort = readManifest(manifest)
    assert cohort.sequences == ["T1c", "T2", "FLAIR"]
    assert cohort.patients == ["VB0001", "VB0002", "VB0003"]
    assert cohort.validate() == []
    clinical = readClinical(manifest.parent / "clinical.csv")
    assert list(clinical.columns) == ["patient", "site", "grade", "time", "event", "age", "sex"]
    for index, case in enumerate(cohort.cases):
        expected = generateCase(index, seed=5, size=SIZE)
        assert case.site == expected.site
        for name, path in case.sequences.items():
            image = sitk.ReadImage(str(path))
            np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(expected.images[name]))
            assert image.GetSpacing() == pytest.approx(expected.images[name].GetSpacing())
        np.testing.assert_array_equal(
            sitk.GetArrayFromImage(sitk.ReadImage(str(case.mask))), sitk.GetArrayFromImage(expected.mask)
        )
        row = clinical.iloc[index]
        assert row["patient"] == expected.patient and row["grade"] == expected.clinical["grade"]
        assert row["time"] == pytest.approx(expected.clinical["time"]) and row["event"] == expected.clinical["event"]


def test_existing_non_empty_folder_is_never_overwritten(written):
    manifest, _ = written
    before = {p: p.stat().st_mtime_ns for p in manifest.parent.rglob("*")}
    with pytest.raises(InputError, match="Cohort folder .* is not empty.*Choose a new folder"):
        generateCohort(manifest.parent, cases=1, size=SIZE)
    assert {p: p.stat().st_mtime_ns for p in manifest.parent.rglob("*")} == before


def test_empty_folder_is_used_and_a_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert generateCohort(empty, cases=1, size=32).is_file()
    aFile = tmp_path / "file.txt"
    aFile.write_text("keep me")
    with pytest.raises(InputError, match="is a file"):
        generateCohort(aFile, cases=1, size=32)
    assert aFile.read_text(encoding="utf-8") == "keep me"
    with pytest.raises(InputError, match="cases is 0"):
        generateCohort(tmp_path / "none", cases=0, size=32)


def test_cancel_leaves_nothing_behind(tmp_path):
    token = CancelToken()

    def cancelAfterFirst(fraction, message):
        if fraction > 0:
            token.cancel()

    with pytest.raises(CancelledError):
        generateCohort(tmp_path / "cohort", cases=3, size=32, progress=cancelAfterFirst, cancel=token)
    assert list(tmp_path.iterdir()) == []
