"""``indexFolder`` and ``virtual-biopsy dicom index`` on a hospital-like export with planted problems."""

from __future__ import annotations

import csv
import hashlib
import pathlib

import pytest

pytest.importorskip("pydicom")

from VirtualBiopsy.cli import main  # noqa: E402
from VirtualBiopsy.data.dicomExport import writeHospitalExport  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PLANTED_IDENTIFIERS  # noqa: E402
from VirtualBiopsy.dicom.index import indexFolder  # noqa: E402
from VirtualBiopsy.dicom.tables import writeIndex  # noqa: E402


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "pacs"
    truth = writeHospitalExport(folder, patients=3, seed=0, size=32)
    return folder, truth


def _hashes(folder: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_every_planted_series_is_found_with_its_class_and_flags(export):
    folder, truth = export
    index = indexFolder(folder, workers=2)
    found = {row.seriesUid: row for row in index.series}
    assert set(found) == set(truth["series"])
    for uid, planted in truth["series"].items():
        row = found[uid]
        expected = "unknown" if planted["sequence"] == "localizer" else planted["sequence"]
        assert (row.sequence, set(row.flags), row.files) == (expected, planted["flags"], planted["files"]), planted[
            "folder"
        ]
        assert all(row.flags.values()), "every flag has a reason"
        if planted["bValues"]:
            assert row.bValues == (0.0, 500.0, 1000.0)
    missing = [row for row in index.series if "missing_slice" in row.flags]
    assert len(missing) == 1 and "1 slice(s) missing" in missing[0].flags["missing_slice"]
    assert dict(index.skipped).keys() == {"README.txt", "DICOMDIR"}
    assert index.skipped[1][1].startswith("not_dicom") and index.skipped[0][1].startswith("dicomdir")


def test_one_process_gives_the_same_index(export):
    folder, _ = export
    one, two = indexFolder(folder, workers=1), indexFolder(folder, workers=2, threads=True)
    assert [(r.seriesUid, r.sequence, r.flags) for r in one.series] == [
        (r.seriesUid, r.sequence, r.flags) for r in two.series
    ]


def test_cli_writes_the_tables_without_touching_the_input_or_leaking_identifiers(export, tmp_path):
    folder, truth = export
    before = _hashes(folder)
    assert main(["dicom", "index", str(folder), "--out", str(tmp_path / "index"), "--workers", "2"]) == 0
    assert _hashes(folder) == before
    tables = {
        name: (tmp_path / "index" / f"{name}.csv").read_text()
        for name in ("series", "manifest", "skipped", "manifest-notes")
    }
    for text in tables.values():
        for identifier in (*PLANTED_IDENTIFIERS[:3], *truth["identifiers"]):
            assert identifier not in text
    series = list(csv.DictReader(tables["series"].splitlines()))
    assert {row["series_uid"] for row in series} == set(truth["series"])
    assert list(series[0])[:9] == ["patient_id", "study_uid", "series_uid", "modality", "description", "sequence",
                                   "confidence", "reason", "flags"]  # fmt: skip
    manifest = list(csv.DictReader(tables["manifest"].splitlines()))
    assert [row["patient"] for row in manifest] == sorted({s["patient"] for s in truth["series"].values()})
    byFolder = {str((folder / s["folder"]).resolve()): s for s in truth["series"].values()}
    for row in manifest:
        for sequence in ("T1c", "T2"):
            planted = byFolder[row[sequence]]
            assert (planted["patient"], planted["sequence"], planted["flags"] & {"contrast_description"}) == (
                row["patient"],
                sequence,
                set(),
            )
    assert not {"DWI", "ADC"} & set(manifest[0])  # run reads structural series: noted, not drafted
    notes = list(csv.DictReader(tables["manifest-notes"].splitlines()))
    assert (
        sorted(note["sequence"] for note in notes if note["note"].startswith("not drafted"))
        == ["ADC"] * 3 + ["DWI"] * 3
    )
    flairs = {row["patient"]: row["FLAIR"] for row in manifest}
    assert flairs["NHS-943-476-1001"] == ""  # its FLAIR misses a slice: left out, with a note
    assert "missing_slice" in tables["manifest-notes"]


def test_cli_refuses_a_missing_folder_and_an_output_inside_the_input(export, tmp_path, capsys):
    folder, _ = export
    assert main(["dicom", "index", str(tmp_path / "absent"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["dicom", "index", str(folder), "--out", str(folder / "index")]) == 2
    assert "never written" in capsys.readouterr().err
    assert not (folder / "index").exists()


def test_write_index_lists_skipped_files(export, tmp_path):
    folder, _ = export
    paths = writeIndex(indexFolder(folder, workers=1), tmp_path / "t")
    rows = list(csv.DictReader(paths["skipped"].read_text().splitlines()))
    assert [row["path"] for row in rows] == ["DICOMDIR", "README.txt"]
