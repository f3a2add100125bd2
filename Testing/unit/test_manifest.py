"""Cohort manifests and clinical tables: reading, checking, writing."""

from __future__ import annotations

import pathlib

import pytest

from VirtualBiopsy.data.manifest import (
    Cohort,
    readClinical,
    readManifest,
    writeManifest,
)
from VirtualBiopsy.errors import InputError


@pytest.fixture
def folder(tmp_path) -> pathlib.Path:
    """A cohort folder with two patients' (empty) image files."""
    for patient in ("P1", "P2"):
        (tmp_path / patient).mkdir()
        for name in ("T1c", "FLAIR", "mask"):
            (tmp_path / patient / f"{name}.nrrd").write_bytes(b"")
    return tmp_path


def write(folder: pathlib.Path, text: str, name: str = "manifest.csv") -> pathlib.Path:
    path = folder / name
    path.write_text(text)
    return path


def test_paths_are_resolved_relative_to_the_manifest(folder, monkeypatch):
    path = write(
        folder,
        "patient,site,T1c,FLAIR,mask\nP1,A,P1/T1c.nrrd,P1/FLAIR.nrrd,P1/mask.nrrd\n"
        f"P2,B,{folder / 'P2' / 'T1c.nrrd'},,P2/mask.nrrd\n",
    )
    monkeypatch.chdir(folder.parent)
    cohort = readManifest(path)
    assert cohort.sequences == ["T1c", "FLAIR"]
    first, second = cohort.cases
    assert first.patient == "P1" and first.site == "A"
    assert first.sequences == {"T1c": folder.resolve() / "P1/T1c.nrrd", "FLAIR": folder.resolve() / "P1/FLAIR.nrrd"}
    assert first.mask == folder.resolve() / "P1/mask.nrrd"
    assert second.sequences == {"T1c": folder.resolve() / "P2/T1c.nrrd"}, "an empty cell means no such sequence"
    assert cohort.validate() == [] and all(case.ok for case in cohort.cases)
    assert cohort.case("P2") is second


def test_optional_label_column_is_not_a_sequence(folder):
    path = write(folder, "patient,T1c,mask,label\nP1,P1/T1c.nrrd,P1/mask.nrrd,2\nP2,P2/T1c.nrrd,P2/mask.nrrd,\n")
    cohort = readManifest(path)
    assert cohort.sequences == ["T1c"]
    assert [case.label for case in cohort.cases] == [2, None]
    bad = readManifest(write(folder, "patient,T1c,mask,label\nP1,P1/T1c.nrrd,P1/mask.nrrd,two\n", "bad.csv"))
    assert not bad.cases[0].ok and "label 'two' is not a positive whole number" in bad.cases[0].problems[0]


def test_missing_files_are_reported_per_case(folder):
    path = write(folder, "patient,T1c,mask\nP1,P1/T1c.nrrd,P1/mask.nrrd\nP2,P2/T2.nrrd,P2/missing.nrrd\nP3,,\n")
    cohort = readManifest(path)
    assert [case.patient for case in cohort.validCases] == ["P1"]
    problems = cohort.validate()
    assert len(problems) == 3
    assert "line 3, patient P2: T1c image not found" in problems[0] and "P2/T2.nrrd" in problems[0]
    assert "mask not found" in problems[1] and "fix the path" in problems[1]
    assert "patient P3: no image" in problems[2]
    with pytest.raises(InputError, match="3 problem"):
        cohort.requireValid()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patient,T1c\nP1,P1/T1c.nrrd\n", "no 'mask' column"),
        ("id,T1c,mask\nP1,P1/T1c.nrrd,P1/mask.nrrd\n", "no 'patient' column"),
        ("patient,site,mask\nP1,A,P1/mask.nrrd\n", "no sequence column"),
        ("patient,T1c,T1c,mask\nP1,a,b,c\n", "repeats column"),
        (
            "patient,T1c,mask\nP1,P1/T1c.nrrd,P1/mask.nrrd\nP1,P2/T1c.nrrd,P2/mask.nrrd\n",
            "patient 'P1' twice .lines 2 and 3",
        ),
        ("patient,T1c,mask\n,P1/T1c.nrrd,P1/mask.nrrd\n", "line 2 has no patient"),
        ("patient,T1c,mask\nP1,P1/T1c.nrrd,P1/mask.nrrd,extra\n", "line 2 has 4 cells"),
        ("patient,T1c,mask\n", "no patients"),
        ("", "is empty"),
    ],
)
def test_bad_manifests_are_refused_with_the_fix(folder, text, message):
    with pytest.raises(InputError, match=message):
        readManifest(write(folder, text))


def test_missing_manifest_is_refused(tmp_path):
    with pytest.raises(InputError, match="manifest not found.*CSV"):
        readManifest(tmp_path / "nothing.csv")


def test_write_manifest_round_trip_and_refusal_to_overwrite(folder):
    rows = [
        {
            "patient": "P1",
            "site": "A",
            "T1c": folder / "P1/T1c.nrrd",
            "FLAIR": "P1/FLAIR.nrrd",
            "mask": folder / "P1/mask.nrrd",
        },
        {"patient": "P2", "site": "B", "T1c": folder / "P2/T1c.nrrd", "mask": None},
    ]
    path = writeManifest(rows, folder / "manifest.csv")
    assert path.read_text(encoding="utf-8").splitlines() == [
        "patient,site,T1c,FLAIR,mask",
        "P1,A,P1/T1c.nrrd,P1/FLAIR.nrrd,P1/mask.nrrd",
        "P2,B,P2/T1c.nrrd,,",
    ]
    cohort = readManifest(path)
    assert cohort.cases[1].mask is None and cohort.validate() == []
    with pytest.raises(InputError, match="already exists"):
        writeManifest(rows, path)
    copy = writeManifest(cohort, folder / "sub" / "copy.csv")
    assert readManifest(copy, allowOutsidePaths=True).cases[0].sequences == cohort.cases[0].sequences
    assert "../P1/T1c.nrrd" in copy.read_text(encoding="utf-8")
    assert isinstance(readManifest(writeManifest(cohort, path, overwrite=True)), Cohort)


def test_write_manifest_refuses_bad_rows(tmp_path):
    with pytest.raises(InputError, match="repeat patient 'P1'"):
        writeManifest([{"patient": "P1", "T1c": "a", "mask": ""}] * 2, tmp_path / "m.csv")
    with pytest.raises(InputError, match="row 1 has no 'patient'"):
        writeManifest([{"T1c": "a", "mask": ""}], tmp_path / "m.csv")
    with pytest.raises(InputError, match="no sequence column"):
        writeManifest([{"patient": "P1", "mask": "m"}], tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_clinical_table_is_read_and_typed(tmp_path):
    path = write(tmp_path, "patient,time,event,age\n007,12.5,1,60\nP2,3,0,41\n", "clinical.csv")
    table = readClinical(path)
    assert table["patient"].tolist() == ["007", "P2"], "identifiers stay text"
    assert table["time"].dtype == float and table["event"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patient,time\nP1,3\n", "no column event"),
        ("patient,time,event\nP1,3,2\n", r"line 2 \(patient P1\): event 2 is not 0 or 1"),
        ("patient,time,event\nP1,3,yes\n", "event 'yes' is not 0 or 1"),
        ("patient,time,event\nP1,3,\n", "event is empty"),
        ("patient,time,event\nP1,,1\n", "time is empty"),
        ("patient,time,event\nP1,0,1\n", "time 0 is not positive"),
        ("patient,time,event\nP1,-2.5,1\n", "time -2.5 is not positive"),
        ("patient,time,event\nP1,inf,1\n", "time inf is not positive and finite"),
        ("patient,time,event\nP1,soon,1\n", "time 'soon' is not a number"),
        ("patient,time,event\nP1,3,1\nP1,4,0\n", "patient listed more than once"),
        ("patient,time,event\n,3,1\n", "line 2: no patient identifier"),
        ("patient,time,event\n", "no rows"),
    ],
)
def test_bad_clinical_tables_are_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        readClinical(write(tmp_path, text, "clinical.csv"))


def test_every_bad_clinical_row_is_named(tmp_path):
    path = write(tmp_path, "patient,time,event\nP1,3,1\nP2,-1,1\nP3,4,5\n", "clinical.csv")
    with pytest.raises(InputError) as error:
        readClinical(path)
    assert "2 bad value" in str(error.value) and "patient P2" in str(error.value) and "patient P3" in str(error.value)
    with pytest.raises(InputError, match="not found"):
        readClinical(tmp_path / "none.csv")
