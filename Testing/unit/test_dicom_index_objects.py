"""RTSTRUCT, SEG and SR objects in the index: their rows, the series they reference, the manifest's mask column and
the flags of a reference that is absent or on another frame of reference."""

from __future__ import annotations

import csv
import hashlib
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

from VirtualBiopsy.cli import main  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.index import indexFolder  # noqa: E402

RTSTRUCT, SEG = "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.66.4"


def _object(path: pathlib.Path, sopClass: str, modality: str, patient: str, study: str, number: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sopClass, uid(str(path), "sop")
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sopClass, meta.MediaStorageSOPInstanceUID, modality
    ds.PatientID, ds.StudyInstanceUID = patient, uid(patient, study)
    ds.SeriesInstanceUID, ds.SeriesNumber, ds.SeriesDescription = uid(str(path), "series"), number, f"{modality} 1"
    return ds


def writeRtstruct(path: pathlib.Path, patient: str, study: str, referenced: str, frame: str) -> str:
    """An RTSTRUCT whose ReferencedFrameOfReferenceSequence names series ``referenced``; returns its series UID."""
    ds = _object(path, RTSTRUCT, "RTSTRUCT", patient, study, 90)
    series = Dataset()
    series.SeriesInstanceUID = referenced
    studyItem = Dataset()
    studyItem.ReferencedSOPClassUID, studyItem.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", ds.StudyInstanceUID
    studyItem.RTReferencedSeriesSequence = Sequence([series])
    frameItem = Dataset()
    frameItem.FrameOfReferenceUID = frame
    frameItem.RTReferencedStudySequence = Sequence([studyItem])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frameItem])
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds.SeriesInstanceUID


def writeSeg(path: pathlib.Path, patient: str, study: str, referenced: str, frame: str) -> str:
    """A binary SEG (2 frames of 16 × 16) that references series ``referenced`` on frame of reference ``frame``."""
    ds = _object(path, SEG, "SEG", patient, study, 91)
    ds.FrameOfReferenceUID = frame
    series = Dataset()
    series.SeriesInstanceUID = referenced
    ds.ReferencedSeriesSequence = Sequence([series])
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 0, 0, 1
    ds.PhotometricInterpretation, ds.NumberOfFrames = "MONOCHROME2", 2
    ds.PixelData = bytes(64)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds.SeriesInstanceUID


def _series(folder: pathlib.Path, patient: str, kind: str, number: int) -> str:
    image = sitk.GetImageFromArray(np.ones((4, 16, 16), np.int16))
    header = SeriesHeader(
        "X^Y", patient, "19000101", "A1", uid(patient, "study"), uid(patient, kind), uid(patient, "frame"), number,
        PROTOCOLS[kind],
    )  # fmt: skip
    writeSeries([image], folder, header)
    return header.seriesUid


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """Patient A: T1c, T2, an RTSTRUCT on the T1c, a SEG on the T1c but another frame of reference. Patient B: T2 and
    a SEG on it. Patient C: T1c and an RTSTRUCT on a series absent from the export."""
    root = tmp_path_factory.mktemp("objects") / "pacs"
    uids = {"A-T1c": _series(root / "A/T1C", "A", "T1c", 1), "A-T2": _series(root / "A/T2", "A", "T2", 2)}
    uids["B-T2"] = _series(root / "B/T2", "B", "T2", 1)
    uids["C-T1c"] = _series(root / "C/T1C", "C", "T1c", 1)
    uids["A-RT"] = writeRtstruct(root / "A/RT/rt.dcm", "A", "study", uids["A-T1c"], uid("A", "frame"))
    uids["A-SEG"] = writeSeg(root / "A/SEG/seg.dcm", "A", "study", uids["A-T1c"], uid("elsewhere"))
    uids["B-SEG"] = writeSeg(root / "B/SEG/seg.dcm", "B", "study", uids["B-T2"], uid("B", "frame"))
    uids["C-RT"] = writeRtstruct(root / "C/RT/rt.dcm", "C", "study", uid("absent"), uid("C", "frame"))
    return root, uids


def test_objects_get_a_row_with_their_modality_and_references(export):
    root, uids = export
    rows = {row.seriesUid: row for row in indexFolder(root, workers=1).series}
    assert len(rows) == 8
    for name in ("A-RT", "A-SEG", "B-SEG", "C-RT"):
        row = rows[uids[name]]
        modality = name.split("-")[1].replace("RT", "RTSTRUCT")
        assert (row.modality, row.sequence, row.confidence, row.files) == (modality, modality, 1.0, 1), name
    assert rows[uids["A-RT"]].references == (uids["A-T1c"],)
    assert rows[uids["B-SEG"]].references == (uids["B-T2"],)
    assert rows[uids["A-RT"]].flags == {} and rows[uids["B-SEG"]].flags == {}


def test_an_absent_reference_and_another_frame_of_reference_are_flagged(export):
    root, uids = export
    rows = {row.seriesUid: row for row in indexFolder(root, workers=1).series}
    assert rows[uids["C-RT"]].flags == {
        "reference_missing": f"the RTSTRUCT references series {uid('absent')}, absent from the export"
    }
    assert rows[uids["A-SEG"]].flags == {
        "frame_of_reference_mismatch": f"the SEG's FrameOfReferenceUID {uid('elsewhere')} differs from "
        f"{uid('A', 'frame')} of its referenced series {uids['A-T1c']}"
    }


def test_the_manifest_names_the_mask_that_references_the_drafted_series(export, tmp_path):
    root, uids = export
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    assert main(["dicom", "index", str(root), "--out", str(tmp_path / "index"), "--workers", "1"]) == 0
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()} == before
    series = {row["series_uid"]: row for row in csv.DictReader((tmp_path / "index" / "series.csv").open())}
    assert series[uids["A-RT"]]["references"] == uids["A-T1c"] and series[uids["A-RT"]]["sequence"] == "RTSTRUCT"
    assert series[uids["C-RT"]]["flags"] == "reference_missing"
    manifest = {row["patient"]: row for row in csv.DictReader((tmp_path / "index" / "manifest.csv").open())}
    assert list(manifest["A"]) == ["patient", "T1c", "T2", "mask"]
    assert manifest["A"]["mask"] == str((root / "A/RT/rt.dcm").resolve())  # the SEG is on another frame
    assert manifest["B"]["mask"] == str((root / "B/SEG/seg.dcm").resolve())  # no T1c: the first drafted, T2
    assert manifest["C"]["mask"] == ""
    notes = list(csv.reader((tmp_path / "index" / "manifest-notes.csv").open()))
    assert [
        "A",
        "mask",
        uids["A-RT"],
        f"RTSTRUCT A/RT/rt.dcm references the drafted T1c series {uids['A-T1c']}",
    ] in notes
    assert ["B", "mask", uids["B-SEG"], f"SEG B/SEG/seg.dcm references the drafted T2 series {uids['B-T2']}"] in notes
    left = {(row[0], row[2]): row[3] for row in notes if row[1] == "mask" and "left out" in row[3]}
    assert set(left) == {("A", uids["A-SEG"]), ("C", uids["C-RT"])}
    assert left[("A", uids["A-SEG"])].startswith("SEG left out (frame_of_reference_mismatch: ")


def test_real_rtstruct_seg_and_sr_files_pydicom_ships(tmp_path):
    folder = tmp_path / "real"
    folder.mkdir()
    for name in ("liver_1frame.dcm", "test-SR.dcm"):
        (folder / name).write_bytes(pathlib.Path(get_testdata_file(name)).read_bytes())
    rows = {row.modality: row for row in indexFolder(folder, workers=1).series}
    assert (rows["SEG"].sequence, rows["SR"].sequence) == ("SEG", "SR")
    assert rows["SEG"].references == ("1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1",)
    assert set(rows["SEG"].flags) == {"derived", "shared_folder", "reference_missing"}
    assert rows["SEG"].flags["reference_missing"] == (
        "the SEG references series 1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1, absent from the export"
    )
