"""The fast header parser gives exactly pydicom's headers, or leaves the file to pydicom."""

from __future__ import annotations

import pathlib

import pytest

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file, get_testdata_files  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

from VirtualBiopsy.data.dicomExport import writeHospitalExport  # noqa: E402
from VirtualBiopsy.dicom.headerParser import parseRawHeader  # noqa: E402
from VirtualBiopsy.dicom.headers import FIELDS, assembleHeader, readHeader, readHeaderWithPydicom  # noqa: E402
from VirtualBiopsy.dicom.index import listFiles  # noqa: E402

MR = "1.2.840.10008.5.1.4.1.1.4"


def _both(path: str) -> tuple[dict | None, dict]:
    raw = parseRawHeader(path)
    return (None if raw is None else assembleHeader(path, *raw)), readHeaderWithPydicom(path)


def _same(path: str) -> bool:
    """True when the fast parser read ``path``; fails when its header differs from pydicom's."""
    fast, slow = _both(path)
    if fast is None:
        return False
    assert fast == slow, path
    return True


def test_the_field_table_matches_pydicoms_dictionary():
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    for keyword, (tag, vr) in FIELDS.items():
        assert (tag, vr) == (tag_for_keyword(keyword), dictionary_VR(tag)), keyword


def test_every_file_of_a_hospital_export_reads_the_same_and_fast(tmp_path):
    truth = writeHospitalExport(tmp_path / "pacs", patients=3, seed=0, size=32)
    paths = listFiles(tmp_path / "pacs")
    fast = [path for path in paths if _same(path)]
    skipped = {pathlib.Path(path).name for path in paths if path not in fast}
    images = [series for series in truth["series"].values() if series["sequence"] != "RTSTRUCT"]
    # README.txt and DICOMDIR: pydicom says why; the RTSTRUCTs (RS00001): pydicom reads their sequences
    assert skipped == set(truth["skipped"]) | {"RS00001"}
    assert len(fast) == sum(series["files"] for series in images)


def test_every_file_pydicom_ships_reads_the_same_or_falls_back():
    paths = [path for path in get_testdata_files() if pathlib.Path(path).is_file()]
    assert len(paths) > 100
    fast = [path for path in paths if _same(path)]
    names = {pathlib.Path(path).name for path in fast}
    # implicit and explicit VR, JPEG, JPEG-LS, RLE and JPEG 2000 datasets take the fast path
    assert {"MR_small.dcm", "MR_small_implicit.dcm", "CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm"} <= names
    assert len(fast) >= 100
    # big endian, deflated, no preamble, enhanced multi-frame, RTSTRUCT, SEG: pydicom reads them
    for name in ("MR_small_bigendian.dcm", "image_dfl.dcm", "no_meta.dcm", "liver_1frame.dcm", "test-SR.dcm"):
        assert parseRawHeader(get_testdata_file(name)) is None, name


def test_a_truncated_file_reads_like_pydicom(tmp_path):
    data = pathlib.Path(get_testdata_file("MR_small.dcm")).read_bytes()
    for cut in (100, 140, 300, 700, 1200, len(data) - 500):
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(data[:cut])
        fast, slow = _both(str(path))
        assert fast is None or fast == slow, cut
    header = readHeader(str(tmp_path / f"cut{len(data) - 500}.dcm"))
    kept = len(data) - 500 - (data.index(b"\xe0\x7f\x10\x00OW") + 12)  # pixel bytes before the cut
    assert header["pixelProblem"] == (
        f"pixel data cut: {kept} of 8192 bytes (Rows 64 × Columns 64 × 16 bits × 1 samples × 1 frames)"
    )


def _image(tmp_path: pathlib.Path, name: str, syntax: str = "1.2.840.10008.1.2.1", **elements) -> str:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = MR, "1.2.3.4", syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MR, "1.2.3.4", "MR"
    ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.PatientID = "1.2.3.5", "1.2.3.6", "P1"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated, ds.SamplesPerPixel = 16, 1
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = b"\0" * 8
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def _nested() -> Sequence:
    inner = Dataset()
    inner.CodeValue, inner.CodeMeaning = "1", "x"
    item = Dataset()
    item.ConceptNameCodeSequence = Sequence([inner, inner])
    item.ConceptNameCodeSequence.is_undefined_length = True
    sequence = Sequence([item, Dataset()])
    sequence.is_undefined_length = True
    return sequence


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_nested_undefined_length_sequences_are_skipped(tmp_path, syntax):
    path = _image(tmp_path, "nested.dcm", syntax, ContentSequence=_nested(), ImageType=["ORIGINAL", "PRIMARY"])
    ds = pydicom.dcmread(path)
    ds["ContentSequence"].is_undefined_length = True
    ds.save_as(path)
    assert b"\xfe\xff\xdd\xe0" in pathlib.Path(path).read_bytes()  # a sequence delimitation item was written
    assert _same(path)
    header = readHeader(path)
    assert (header["ImageType"], header["Rows"], "pixelProblem" in header) == (("ORIGINAL", "PRIMARY"), 2, False)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_vendor_b_values_under_their_private_creator(tmp_path, syntax):
    cases = {  # group, creator, VR, stored value, expected b-value
        "siemens": (0x0019, "SIEMENS MR HEADER", "IS", "1000", 1000.0),
        "ge": (0x0043, "GEMS_PARM_01", "IS", ["1000000800", "8", "0", "0"], 800.0),
        "philips": (0x2001, "Philips Imaging DD 001", "FL", 500.0, 500.0),
        "wrong-creator": (0x0019, "ACME MR", "IS", "1000", None),
    }
    for name, (group, creator, vr, stored, expected) in cases.items():
        path = _image(tmp_path, f"{name}.dcm", syntax)
        ds = pydicom.dcmread(path)
        ds.add_new((group, 0x0010), "LO", creator)
        element = {0x0019: 0x100C, 0x0043: 0x1039, 0x2001: 0x1003}[group]
        ds.add_new((group, element), vr, stored)
        ds.save_as(path)
        assert _same(path), name
        assert readHeader(path).get("DiffusionBValue") == expected, name


def test_the_standard_b_value_wins_and_enhanced_mr_reads_it_from_functional_groups(tmp_path):
    path = _image(tmp_path, "standard.dcm", DiffusionBValue=700.0)
    ds = pydicom.dcmread(path)
    ds.add_new((0x0019, 0x0010), "LO", "SIEMENS MR HEADER")
    ds.add_new((0x0019, 0x100C), "IS", "1000")
    ds.save_as(path)
    assert _same(path) and readHeader(path)["DiffusionBValue"] == 700.0
    enhanced = _image(tmp_path, "enhanced.dcm", NumberOfFrames=2)
    ds = pydicom.dcmread(enhanced)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    plane, shared = Dataset(), Dataset()
    plane.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    shared.PlaneOrientationSequence = Sequence([plane])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for b in (0.0, 1000.0):
        diffusion, frame = Dataset(), Dataset()
        diffusion.DiffusionBValue = b
        frame.MRDiffusionSequence = Sequence([diffusion])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.save_as(enhanced)
    assert parseRawHeader(enhanced) is None
    header = readHeader(enhanced)
    assert (header["DiffusionBValue"], header["ImageOrientationPatient"]) == (
        (0.0, 1000.0),
        (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    )


def test_big_endian_files_fall_back_with_the_same_values():
    little = readHeader(get_testdata_file("MR_small.dcm"))
    big = readHeader(get_testdata_file("MR_small_bigendian.dcm"))
    assert parseRawHeader(get_testdata_file("MR_small_bigendian.dcm")) is None
    for keyword in ("SeriesInstanceUID", "ImagePositionPatient", "Rows", "Columns", "RepetitionTime", "ImageType"):
        assert big[keyword] == little[keyword], keyword
