"""Checking a whole cohort before any compute: every problem at once, with row, column and the fix."""

from __future__ import annotations

import hashlib
import pathlib

import SimpleITK as sitk

from VirtualBiopsy.cohort.cohortCheck import CohortCheck, CohortProblem, checkCohort


def writeImage(path: pathlib.Path, size=(4, 4, 3), spacing=(1.0, 1.0, 2.0), compress: bool = True) -> pathlib.Path:
    image = sitk.Image(list(size), sitk.sitkInt16)
    image.SetSpacing(spacing)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), compress)
    return path


def writeDicomSeries(folder: pathlib.Path, seriesUid: str, patientId: str, depth: int = 3, prefix: str = "s") -> None:
    """A small DICOM series written slice by slice (the way SimpleITK's examples do)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = sitk.Image([4, 4, depth], sitk.sitkInt16)
    image.SetSpacing((1.0, 1.0, 2.0))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for index in range(depth):
        piece = image[:, :, index]
        for tag, value in (
            ("0010|0020", patientId),
            ("0020|000d", "1.2.826.0.1.3680043.2.1125.1"),
            ("0020|000e", seriesUid),
            ("0008|0060", "MR"),
            ("0020|0013", str(index + 1)),
            ("0020|0032", "\\".join(map(str, image.TransformIndexToPhysicalPoint((0, 0, index))))),
            ("0020|0037", "1\\0\\0\\0\\1\\0"),
            ("0008|0018", f"{seriesUid}.{index + 1}"),
        ):
            piece.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"{prefix}{index}.dcm"))
        writer.Execute(piece)


def writeManifest(folder: pathlib.Path, rows: list[str], header: str = "patient,site,T1c,FLAIR,mask") -> pathlib.Path:
    path = folder / "manifest.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def hashes(folder: pathlib.Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.rglob("*")) if path.is_file()
    }


def cleanCase(folder: pathlib.Path, patient: str) -> str:
    for name in ("T1c", "FLAIR", "mask"):
        writeImage(folder / patient / f"{name}.nrrd")
    return f"{patient},A,{patient}/T1c.nrrd,{patient}/FLAIR.nrrd,{patient}/mask.nrrd"


def find(check: CohortCheck, row: int | None, column: str | None, words: str) -> CohortProblem:
    matches = [p for p in check.problems if p.row == row and p.column == column and words in p.message]
    assert matches, f"no problem at row {row}, column {column} with '{words}' in:\n" + "\n".join(check.lines())
    return matches[0]


def test_clean_cohort_has_no_problems(tmp_path):
    rows = [cleanCase(tmp_path, "P1"), cleanCase(tmp_path, "P2")]
    writeDicomSeries(tmp_path / "P3" / "t1c", "1.2.3.3", "P3")
    sitk.WriteImage(sitk.ReadImage(sorted(map(str, (tmp_path / "P3" / "t1c").iterdir()))), str(tmp_path / "m3.nrrd"))
    rows.append("P3,B,P3/t1c,,m3.nrrd")
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,time,event\nP1,10,1\nP2,20,0\nP3,5,1\n")
    check = checkCohort(writeManifest(tmp_path, rows), clinical)
    assert check.problems == [], check.lines()
    assert check.ok and check.failingCases() == []


def test_every_planted_problem_is_reported_in_one_call(tmp_path):
    outside = writeImage(tmp_path.parent / f"{tmp_path.name}-outside" / "T1c.nrrd")
    (tmp_path / "P4").mkdir()
    (tmp_path / "P4" / "T1c.nrrd").write_bytes(b"")
    writeImage(tmp_path / "P5" / "mask.nrrd", size=(5, 4, 3))
    writeImage(tmp_path / "P5" / "T1c.nrrd")
    rows = [
        cleanCase(tmp_path, "P1"),
        "P2,A,P2/T1c.nrrd,P2/FLAIR.nrrd,",  # row 2: both files missing
        f"P3,A,{outside},,",  # row 3: leaves the folder (the whole run stops: its fix is the run's options)
        "P4,A,P4/T1c.nrrd,,",  # row 4: unreadable (0 bytes)
        "P5,A,P5/T1c.nrrd,,P5/mask.nrrd",  # row 5: mask off the grid
        cleanCase(tmp_path, "P1").replace("P1,A", "P1,B"),  # row 6: duplicate patient
        ",A,P1/T1c.nrrd,,",  # row 7: no patient
        "P8,A,,,",  # row 8: no image
    ]
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,time,event\nP1,10,1\nP9,3,0\n")
    check = checkCohort(writeManifest(tmp_path, rows, header="patient,site,T1c,PD,mask"), clinical)

    assert find(check, None, "PD", "unknown sequence 'PD'").severity == "warning"
    assert find(check, 2, "T1c", "file not found").patient == "P2"
    find(check, 2, "PD", "file not found")
    leaving = find(check, 3, "T1c", "leaves the manifest's folder")
    assert "--allow-outside-paths" in leaving.message and "--data-root DIR" in leaving.message
    assert leaving.scope == "cohort" and "manifest.csv line 4" in leaving.message
    find(check, 4, "T1c", "unreadable")
    assert "size (4, 4, 3) (image) vs (5, 4, 3) (mask)" in find(check, 5, "mask", "not on the grid of T1c").message
    find(check, 6, "patient", "listed twice (rows 1 and 6)")
    find(check, 7, "patient", "no patient identifier")
    find(check, 8, None, "no image in any sequence column")
    assert find(check, None, "patient", "not in the manifest").patient == "P9"
    assert find(check, 2, "patient", "no clinical row").severity == "warning"
    assert not check.ok and [p for p in check.errors if p.scope == "cohort"] == [leaving]
    assert check.failingCases() == ["P2", "P4", "P5", "P1", "P8"]  # the other errors: each case fails alone
    assert "row 2, column T1c (P2): file not found: " in "\n".join(check.lines())
    frame = check.toFrame()
    assert list(frame.columns) == ["row", "patient", "column", "value", "message", "severity", "scope"]
    assert len(frame) == len(check.problems)
    written = check.writeCsv(tmp_path.parent / f"{tmp_path.name}-failures.csv").read_text()
    assert written.splitlines()[0] == "row,patient,column,value,message,severity,scope"


def test_header_and_clinical_problems_are_cohort_errors(tmp_path):
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,time\nP1,10\n")
    check = checkCohort(writeManifest(tmp_path, ["P1,x.nrrd"], header="patient,T1c"), clinical)
    assert not check.ok
    find(check, None, "mask", "no 'mask' column")
    assert any("has no column event" in p.message and p.scope == "cohort" for p in check.problems)
    noSequence = checkCohort(writeManifest(tmp_path, ["P1,m.nrrd"], header="site,mask"))
    find(noSequence, None, "patient", "no 'patient' column")
    assert any("no sequence column" in line for line in noSequence.lines())
    assert not checkCohort(tmp_path / "absent.csv").ok


def test_outside_paths_are_accepted_when_allowed(tmp_path):
    outside = writeImage(tmp_path.parent / f"{tmp_path.name}-elsewhere" / "T1c.nrrd")
    (tmp_path / "link.nrrd").symlink_to(outside)
    manifest = writeManifest(
        tmp_path,
        [f"P1,{outside}", "P2,../" + f"{tmp_path.name}-elsewhere/T1c.nrrd", "P3,link.nrrd"],
        header="patient,T1c,mask",
    )
    refused = checkCohort(manifest)
    assert [p.row for p in refused.problems if "leaves the manifest's folder" in p.message] == [1, 2, 3]
    assert checkCohort(manifest, allowOutsidePaths=True).problems == []


def test_dicom_folders_with_several_or_no_series(tmp_path):
    writeDicomSeries(tmp_path / "P1" / "t1c", "1.2.3.100", "P1", prefix="a")
    writeDicomSeries(tmp_path / "P1" / "t1c", "1.2.3.200", "P1", prefix="b")
    (tmp_path / "P2" / "t1c").mkdir(parents=True)
    (tmp_path / "P2" / "t1c" / "notes.txt").write_text("not DICOM")
    check = checkCohort(writeManifest(tmp_path, ["P1,P1/t1c,", "P2,P2/t1c,"], header="patient,T1c,mask"))
    several = find(check, 1, "T1c", "holds 2 DICOM series")
    assert "1.2.3.100" in several.message and "1.2.3.200" in several.message
    find(check, 2, "T1c", "holds 0 DICOM series")
    assert check.failingCases() == ["P1", "P2"]


def test_mixed_patients_are_flagged_without_their_identifiers(tmp_path):
    writeDicomSeries(tmp_path / "case" / "t1c", "1.2.3.1", "SECRET-ALICE-01")
    writeDicomSeries(tmp_path / "case" / "flair", "1.2.3.2", "SECRET-BOB-02")
    check = checkCohort(writeManifest(tmp_path, ["P1,A,case/t1c,case/flair,"]))
    problem = find(check, 1, None, "images of different patients mixed")
    assert "T1c vs FLAIR" in problem.message
    for text in [*check.lines(), check.toFrame().to_csv()]:
        assert "SECRET" not in text


def test_headers_only_no_voxels_read(tmp_path):
    (tmp_path / "empty.nrrd").write_bytes(b"")
    truncated = writeImage(tmp_path / "truncated.nrrd", size=(40, 40, 40), compress=False)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: data.index(b"\n\n") + 2 + 10])  # header intact, voxels cut
    manifest = writeManifest(tmp_path, ["P1,empty.nrrd,", "P2,truncated.nrrd,"], header="patient,T1c,mask")
    check = checkCohort(manifest)
    assert [p.row for p in check.problems] == [1]  # the truncated voxels are never read
    find(check, 1, "T1c", "unreadable")
    assert checkCohort(manifest, readHeaders=False).problems == []


def test_inputs_are_never_modified(tmp_path):
    rows = [cleanCase(tmp_path, "P1"), "P2,A,P2/missing.nrrd,,"]
    writeDicomSeries(tmp_path / "P3" / "t1c", "1.2.3.3", "P3")
    rows.append("P3,A,P3/t1c,,P1/mask.nrrd")
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient,time,event\nP1,10,1\n")
    manifest = writeManifest(tmp_path, rows)
    before = hashes(tmp_path)
    checkCohort(manifest, clinical)
    assert hashes(tmp_path) == before
