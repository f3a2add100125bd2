"""De-identifying a hospital-like export (planted identifiers, known UIDs and dates) with known answers: no
planted value anywhere in the output, keyed pseudonyms consistent across studies and runs, references and pixel
bytes kept, dates shifted consistently, the output re-indexes the same, dciodvfy finds no new error."""

from __future__ import annotations

import csv
import datetime
import pathlib
import shutil
import subprocess

import pytest

pydicom = pytest.importorskip("pydicom")

from VirtualBiopsy.data.dicomExport import identifiersOf, writeHospitalExport  # noqa: E402
from VirtualBiopsy.dicom.deidentify.dates import shiftDate  # noqa: E402
from VirtualBiopsy.dicom.deidentify.folder import deidentifyFolder  # noqa: E402
from VirtualBiopsy.dicom.deidentify.profile import ProfileOptions  # noqa: E402
from VirtualBiopsy.dicom.deidentify.pseudonyms import Pseudonyms  # noqa: E402
from VirtualBiopsy.dicom.index import indexFolder  # noqa: E402

KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"fedcba9876543210fedcba9876543210"
PATIENTS = 3
OPTIONS = ProfileOptions(retainDates="shift", cleanDescriptors=True)


def _hashes(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("deid")
    source = root / "export"
    truth = writeHospitalExport(source, patients=PATIENTS, size=32)
    before = _hashes(source)
    result = deidentifyFolder(source, root / "out", KEY, OPTIONS, workers=2)
    return {"root": root, "in": source, "out": root / "out", "truth": truth, "before": before, "result": result}


def _planted() -> list[str]:
    values = []
    for index in range(PATIENTS):
        name, birth, accession, patientId = identifiersOf(index)
        y, m, d = birth[:4], birth[4:6], birth[6:]
        values += [name, name.replace("^", " "), birth, f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{y}.{m}.{d}"]
        values += [accession, patientId]
    return values


def test_no_planted_identifier_in_any_output_byte_or_name(run):
    outputs = [path for path in run["out"].rglob("*") if path.is_file()]
    assert len(outputs) == 843 + 3  # every image and RTSTRUCT, and the three reports
    planted = _planted()
    for path in outputs:
        text = path.read_bytes().decode("latin-1")
        for value in planted:
            assert value not in text and value not in str(path.relative_to(run["out"])), (value, path)
    log = run["result"].reports["localLog"]
    assert log.parent == run["root"] and not log.is_relative_to(run["out"])


def test_layout_and_patient_pseudonyms(run):
    pseudonyms = Pseudonyms(KEY)
    expected = {pseudonyms.patient(identifiersOf(index)[3]) for index in range(PATIENTS)}
    assert {path.name for path in run["out"].iterdir() if path.is_dir()} == expected
    studies = {len(list((run["out"] / pseudonyms.patient(identifiersOf(index)[3])).iterdir())) for index in (0, 1)}
    assert studies == {2, 1}  # patient 0's two studies under one pseudonym
    for path in list(run["out"].rglob("*.dcm"))[::37]:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        parts = path.relative_to(run["out"]).parts
        assert parts == (dataset.PatientID, dataset.StudyInstanceUID, dataset.SeriesInstanceUID,
                         f"{dataset.SOPInstanceUID}.dcm")  # fmt: skip
        assert str(dataset.PatientName) == f"{dataset.PatientID}^" and dataset.PatientIdentityRemoved == "YES"
        assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID


def test_uids_map_by_key_and_pixel_bytes_are_copied(run):
    pseudonyms = Pseudonyms(KEY)
    for path in sorted(run["in"].rglob("IM*"))[::11]:
        original = pydicom.dcmread(path)
        patient = pseudonyms.patient(original.PatientID)
        uids = [pseudonyms.uid(original[k].value) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
        output = run["out"].joinpath(patient, uids[0], uids[1], f"{uids[2]}.dcm")
        written = pydicom.dcmread(output)
        assert written.PixelData == original.PixelData
        assert written.FrameOfReferenceUID == pseudonyms.uid(original.FrameOfReferenceUID)


def test_dates_shift_by_one_keyed_offset_per_patient(run):
    pseudonyms = Pseudonyms(KEY)
    patient = pseudonyms.patient(identifiersOf(0)[3])
    dates = {}
    for study in (run["out"] / patient).iterdir():
        dataset = pydicom.dcmread(next(study.rglob("*.dcm")), stop_before_pixels=True)
        dates[dataset.StudyDate] = dataset.StudyTime
    shift = pseudonyms.dayShift(identifiersOf(0)[3])
    assert sorted(dates) == sorted([shiftDate("20240115", shift), shiftDate("20240601", shift)])
    first, second = (datetime.datetime.strptime(value, "%Y%m%d") for value in sorted(dates))
    assert (second - first).days == 138 and set(dates.values()) == {"093000"}


def test_output_reindexes_with_the_same_series_and_classes(run):
    before, after = indexFolder(run["in"], workers=1), indexFolder(run["out"], workers=1)
    pseudonyms = Pseudonyms(KEY)
    classes = {row.seriesUid: row.sequence for row in after.series}
    assert len(after.series) == len(before.series) == len(run["truth"]["series"])
    assert {pseudonyms.uid(row.seriesUid): row.sequence for row in before.series} == classes
    ignore = {"spread_folders", "shared_folder"}  # the output holds each series in one folder
    flags = {row.seriesUid: set(row.flags) - ignore for row in after.series}
    assert {pseudonyms.uid(row.seriesUid): set(row.flags) - ignore for row in before.series} == flags
    assert sorted(name for name, _ in after.skipped) == sorted(path.name for path in run["result"].reports.values())[:3]


def test_reports_count_files_per_attribute_and_list_skipped_files_by_token(run):
    with open(run["result"].reports["report"], newline="") as stream:
        rows = {(row["action"], row["keyword"], row["tag"]): int(row["files"]) for row in csv.DictReader(stream)}
    assert rows[("D", "PatientName", "(0010,0010)")] == 843
    assert rows[("U", "SOPInstanceUID", "(0008,0018)")] == 843
    assert rows[("Z", "AccessionNumber", "(0008,0050)")] == 843
    assert rows[("C", "StudyDate", "(0008,0020)")] == 843
    with open(run["result"].reports["skipped"], newline="") as stream:
        skipped = {row["file"]: row["reason"] for row in csv.DictReader(stream)}
    pseudonyms = Pseudonyms(KEY)
    assert skipped == {pseudonyms.fileToken("DICOMDIR"): "dicomdir", pseudonyms.fileToken("README.txt"): "not_dicom"}
    with open(run["result"].reports["localLog"], newline="") as stream:
        log = list(csv.DictReader(stream))
    assert len(log) == 845 and {row["status"] for row in log} == {"written", "skipped"}


def test_input_tree_is_unchanged(run):
    assert _hashes(run["in"]) == run["before"]


def test_same_key_gives_the_same_files_another_key_other_ones_and_resume_completes(run, tmp_path):
    subset = tmp_path / "subset"
    shutil.copytree(run["in"] / "PAT001" / "STUDY2", subset / "renamed")
    again = deidentifyFolder(subset, tmp_path / "again", KEY, OPTIONS, workers=1)
    assert again.count("written") == 64  # T1c (in two folders) and FLAIR, 32 slices each
    written = _hashes(tmp_path / "again")
    for name, data in written.items():
        if name.endswith(".dcm"):
            assert (run["out"] / name).read_bytes() == data
    deidentifyFolder(subset, tmp_path / "other", OTHER_KEY, OPTIONS, workers=1)
    otherNames = {name for name in _hashes(tmp_path / "other") if name.endswith(".dcm")}
    assert len(otherNames) == 64 and not otherNames & set(written)
    removed = next(name for name in written if name.endswith(".dcm"))
    (tmp_path / "again" / removed).unlink()
    resumed = deidentifyFolder(subset, tmp_path / "again", KEY, OPTIONS, resume=True, workers=1)
    assert (resumed.count("written"), resumed.count("resumed")) == (1, 63)
    assert _hashes(tmp_path / "again") == written


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="install dicom3tools: sudo apt-get install -y dicom3tools")
def test_dciodvfy_finds_no_new_error(run):
    pseudonyms = Pseudonyms(KEY)
    for folder in sorted({path.parent for path in run["in"].rglob("*") if path.is_file() and path.parent != run["in"]}):
        path = sorted(folder.iterdir())[0]
        original = pydicom.dcmread(path, stop_before_pixels=True)
        uids = [pseudonyms.uid(original[k].value) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
        output = run["out"].joinpath(pseudonyms.patient(original.PatientID), uids[0], uids[1], f"{uids[2]}.dcm")
        new = _errors(output) - _errors(path)
        assert not new, (folder.name, new)


def _errors(path: pathlib.Path) -> set[str]:
    text = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return {line for line in (text.stdout + text.stderr).splitlines() if line.startswith("Error")}
