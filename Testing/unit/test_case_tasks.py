"""The manifest's rows as case tasks: a bad row fails alone with its reason (the check's problems, an id that
cannot name files, a sequence or mask the settings need), paths resolve against the manifest's folder, and an
input's hash covers a DICOM folder's files."""

import hashlib

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.cohort.caseTask import COHORT_CASES, inputHash, readCaseTasks
from VirtualBiopsy.cohort.cohortCheck import checkCohort


def image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((4, 5, 6), np.float32)), str(path))
    return path


def test_bad_rows_fail_alone_with_their_reason(tmp_path):
    for patient in ("P1", "P2", "P3", "bad id", COHORT_CASES[0], "P5"):
        image(tmp_path / patient / "T1c.nrrd")
        image(tmp_path / patient / "FLAIR.nrrd")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "patient,site,T1c,FLAIR,mask\n"
        "P1,A,P1/T1c.nrrd,P1/FLAIR.nrrd,\n"
        "P2,A,P2/T1c.nrrd,,\n"
        "P3,B,P3/T1c.nrrd,P3/missing.nrrd,\n"
        "bad id,B,bad id/T1c.nrrd,bad id/FLAIR.nrrd,\n"
        f"{COHORT_CASES[0]},B,{COHORT_CASES[0]}/T1c.nrrd,{COHORT_CASES[0]}/FLAIR.nrrd,\n"
        "P5,B,P5/T1c.nrrd,P5/FLAIR.nrrd,P5/T1c.nrrd\n"
    )
    check = checkCohort(manifest)
    tasks, failed, patients = readCaseTasks(check, tmp_path / "run", {"x": 1}, ["FLAIR", "T1c"], False)
    assert patients == ["P1", "P2", "P3", "bad id", COHORT_CASES[0], "P5"]
    assert [task.patient for task in tasks] == ["P1", "P5"]
    assert "no FLAIR image (the settings need FLAIR, T1c)" in failed["P2"]
    assert "column FLAIR" in failed["P3"] and "file not found" in failed["P3"]
    assert "cannot name a ledger journal" in failed["bad id"]
    assert "reserved for the run's cohort steps" in failed[COHORT_CASES[0]]
    first = tasks[0]
    assert first.images == {"T1c": str(tmp_path / "P1" / "T1c.nrrd"), "FLAIR": str(tmp_path / "P1" / "FLAIR.nrrd")}
    assert first.site == "A" and first.mask is None and first.settings == {"x": 1}
    assert first.runFolder == str((tmp_path / "run").absolute())
    _, failedWithMasks, _ = readCaseTasks(check, tmp_path / "run", {}, ["T1c"], True)
    assert "no mask, and segment.source reads the manifest's masks" in failedWithMasks["P1"]
    assert "P5" not in failedWithMasks


def test_input_hash_of_a_file_and_of_a_dicom_folder(tmp_path):
    path = image(tmp_path / "a.nrrd")
    assert inputHash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "1.dcm").write_bytes(b"one")
    (folder / "2.dcm").write_bytes(b"two")
    before = inputHash(folder)
    assert before == inputHash(folder)
    (folder / "2.dcm").write_bytes(b"TWO")
    assert inputHash(folder) != before
    (folder / "2.dcm").write_bytes(b"two")
    (folder / "2.dcm").rename(folder / "3.dcm")
    assert inputHash(folder) != before
