"""Hostile DICOM exports for ``virtual-biopsy dicom index``: each bad file or series is reported with the reason,
the rest is indexed, nothing in the input folder is written and no planted identifier reaches the tables.

Every case writes a small export (one good 16 × 16 × 5 MR series, ``GOOD``, plus the bad input), runs the command
line inside :func:`guarded` and checks the exact flag or problem and its words.
"""

from __future__ import annotations

import csv
import pathlib
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, guarded, runCommand

pydicom = pytest.importorskip("pydicom")

from pydicom.data import get_testdata_file  # noqa: E402

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402

NAME, BIRTH, ACCESSION, _ = PLANTED_IDENTIFIERS


def _series(folder: pathlib.Path, number: int, study: str = "study", kind: str = "T2", **extra) -> str:
    """A 5-slice MR series in ``folder``; returns its SeriesInstanceUID."""
    image = sitk.GetImageFromArray(np.arange(5 * 16 * 16, dtype=np.int16).reshape(5, 16, 16))
    image.SetSpacing((1.0, 1.0, 3.0))
    seriesUid = extra.pop("seriesUid", uid("hostile", study, number))
    header = SeriesHeader(
        NAME, "PAT-0001", BIRTH, ACCESSION, uid("hostile", study), seriesUid, uid("hostile", study, "frame"), number,
        PROTOCOLS[kind], extra=extra,
    )  # fmt: skip
    writeSeries([image], folder, header)
    return seriesUid


def _index(export: pathlib.Path, out: pathlib.Path) -> tuple[dict[str, dict], dict[str, str]]:
    """Run the command on ``export`` (guarded) and return series.csv by folder and skipped.csv by path."""
    with guarded([export], [out]):
        result = runCommand("dicom", "index", export, "--out", out, "--workers", "1")
    assert result.code == 0, result.output
    series = {row["folder"]: row for row in csv.DictReader((out / "series.csv").open())}
    skipped = {row["path"]: row["reason"] for row in csv.DictReader((out / "skipped.csv").open())}
    assert series["GOOD"]["files"] == "5" and series["GOOD"]["flags"] == "", series["GOOD"]
    return series, skipped


def _reasons(row: dict) -> dict[str, str]:
    return dict(part.split(": ", 1) for part in row["flag_reasons"].split("; ")) if row["flag_reasons"] else {}


def test_non_dicom_files_and_dicomdirs_are_listed_with_the_reason(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    (export / "notes.txt").write_text("a note\n")
    (export / "empty.dcm").write_bytes(b"")
    (export / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    shutil.copy(get_testdata_file("DICOMDIR"), export / "DICOMDIR")
    _, skipped = _index(export, tmp_path / "out")
    assert {path: reason.split(":")[0] for path, reason in skipped.items()} == {
        "notes.txt": "not_dicom", "empty.dcm": "not_dicom", "photo.png": "not_dicom", "DICOMDIR": "dicomdir",
    }  # fmt: skip
    assert skipped["DICOMDIR"] == "dicomdir: a DICOMDIR (directory records, not an image)"


def test_a_file_cut_inside_its_header_is_listed_as_truncated(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    data = (export / "GOOD" / "IM00003").read_bytes()
    (export / "CUT").mkdir()
    (export / "CUT" / "IM00003").write_bytes(data[:900])
    _, skipped = _index(export, tmp_path / "out")
    assert list(skipped) == ["CUT/IM00003"]
    assert skipped["CUT/IM00003"].startswith("truncated: ") and "(a file of 900 bytes)" in skipped["CUT/IM00003"]


def test_pixel_data_cut_short_flags_the_series(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    _series(export / "CUT", 2)
    path = export / "CUT" / "IM00002"
    path.write_bytes(path.read_bytes()[:-100])
    series, _ = _index(export, tmp_path / "out")
    assert series["CUT"]["flags"] == "truncated_pixels"
    assert _reasons(series["CUT"])["truncated_pixels"] == (
        "1 of 5 files, e.g. CUT/IM00002: pixel data cut: 412 of 512 bytes "
        "(Rows 16 × Columns 16 × 16 bits × 1 samples × 1 frames)"
    )


def test_an_image_without_pixel_data_flags_the_series(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    _series(export / "EMPTY", 2)
    path = export / "EMPTY" / "IM00004"
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    series, _ = _index(export, tmp_path / "out")
    assert series["EMPTY"]["flags"] == "no_pixel_data"
    assert _reasons(series["EMPTY"])["no_pixel_data"] == (
        "1 of 5 files, e.g. EMPTY/IM00004: no Pixel Data (7FE0,0010) in an image of SOP class 1.2.840.10008.5.1.4.1.1.4"
    )


def test_a_series_spread_over_folders_is_flagged_and_left_out_of_the_manifest(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    _series(export / "A", 2, kind="FLAIR")
    (export / "B").mkdir()
    for name in ("IM00004", "IM00005"):
        (export / "A" / name).rename(export / "B" / name)
    series, _ = _index(export, tmp_path / "out")
    assert series["A;B"]["flags"] == "spread_folders" and series["A;B"]["files"] == "5"
    assert _reasons(series["A;B"])["spread_folders"] == "the series' files are in 2 folders: A, B"
    manifest = list(csv.DictReader((tmp_path / "out" / "manifest.csv").open()))
    assert "FLAIR" not in manifest[0] and manifest[0]["T2"].endswith("GOOD")
    notes = (tmp_path / "out" / "manifest-notes.csv").read_text()
    assert "FLAIR" in notes and "left out (spread_folders: the series' files are in 2 folders: A, B)" in notes


def test_two_series_sharing_a_uid_are_flagged(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    shared = uid("hostile", "shared")
    _series(export / "S1", 2, study="first", seriesUid=shared)
    _series(export / "S2", 2, study="second", seriesUid=shared)
    series, _ = _index(export, tmp_path / "out")
    row = series["S1;S2"]
    assert row["files"] == "10" and row["flags"].split(";")[0] == "shared_series_uid"
    assert _reasons(row)["shared_series_uid"] == (
        "one SeriesInstanceUID in files of several StudyInstanceUID and FrameOfReferenceUID values "
        "(two series share a UID)"
    )


def test_a_slice_without_image_position_flags_missing_geometry(tmp_path):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    _series(export / "NOPOS", 2)
    path = export / "NOPOS" / "IM00002"
    dataset = pydicom.dcmread(path)
    del dataset.ImagePositionPatient
    dataset.save_as(path)
    series, _ = _index(export, tmp_path / "out")
    assert series["NOPOS"]["flags"] == "missing_geometry"
    assert _reasons(series["NOPOS"])["missing_geometry"] == (
        "1 of 5 files have no valid ImagePositionPatient (3 numbers) or ImageOrientationPatient (6 numbers)"
    )


@pytest.mark.parametrize(
    "syntax, reason",
    [
        ("1.2.3.4.5.6", "unknown transfer syntax 1.2.3.4.5.6: no decoder can read its pixel data"),
        (
            "1.2.840.10008.1.2.4.92",
            "transfer syntax JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only) "
            "(1.2.840.10008.1.2.4.92) has no installed decoder",
        ),
    ],
)
def test_an_undecodable_transfer_syntax_is_flagged_by_name(tmp_path, syntax, reason):
    export = tmp_path / "export"
    _series(export / "GOOD", 1)
    _series(export / "ODD", 2)
    for path in sorted((export / "ODD").iterdir()):
        dataset = pydicom.dcmread(path)
        dataset.file_meta.TransferSyntaxUID = syntax
        if syntax.startswith("1.2.840.10008.1.2.4."):
            dataset.PixelData = pydicom.encaps.encapsulate([dataset.PixelData])
        dataset.save_as(path, implicit_vr=False, little_endian=True)
    series, _ = _index(export, tmp_path / "out")
    assert series["ODD"]["flags"] == "undecodable" and series["ODD"]["files"] == "5"
    assert _reasons(series["ODD"])["undecodable"] == reason
