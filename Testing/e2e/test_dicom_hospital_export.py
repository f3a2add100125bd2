"""From a hospital export to results, end to end through the command line: a DICOM export of three virtual
patients (two studies, a localizer, a series with a missing slice, a DWI with b-values, an ADC map, an RTSTRUCT
per patient, planted identifiers) is indexed (every class and flag checked against what was planted),
de-identified, indexed again, its drafted manifest run through ``virtual-biopsy run`` (the RTSTRUCTs as the
tumour masks), and every output file searched for the planted identifiers; the identified export is run too
(with its report), whose outputs may name the manifest's patient ids but nothing else from the headers.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
import yaml

pytest.importorskip("pydicom")
pytest.importorskip("highdicom")

from VirtualBiopsy.cli import main  # noqa: E402
from VirtualBiopsy.data.dicomExport import _placed, identifiersOf, writeHospitalExport  # noqa: E402
from VirtualBiopsy.data.virtualCase import generateCase  # noqa: E402

PATIENTS, SIZE = 3, 40
#: The manifest's masks are the RTSTRUCTs (a person's outlines, on the T1c series); quick analyses.
SETTINGS = {
    "segment": {"source": "manifest", "sequence": "T1c"},
    "extract": {"featureClasses": ["shape", "firstorder"], "sequences": ["T1c"]},
    "analyses": {name: {"enabled": False} for name in ("classification", "explanation", "deepLearning", "cox")},
}


def cli(*arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(list(arguments))
    return status, out.getvalue()


def hashes(folder: pathlib.Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def readCsv(path: pathlib.Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def hospital(tmp_path_factory):
    root = tmp_path_factory.mktemp("hospital")
    truth = writeHospitalExport(root / "export", patients=PATIENTS, seed=0, size=SIZE)
    key = root / "private" / "key"
    key.parent.mkdir()
    before = hashes(root / "export")
    status, output = cli("dicom", "index", str(root / "export"), "--out", str(root / "index"))
    assert status == 0, output
    status, output = cli(
        "dicom", "deidentify", str(root / "export"), str(root / "deidentified"), "--key", str(key), "--new-key",
        "--retain-dates", "shift", "--clean-descriptors",
    )  # fmt: skip
    assert status == 0, output
    status, output = cli("dicom", "index", str(root / "deidentified"), "--out", str(root / "deidentified-index"))
    assert status == 0, output
    settings = root / "settings.yaml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    manifest = root / "deidentified-index" / "manifest.csv"
    status, output = cli(
        "run", "--manifest", str(manifest), "--config", str(settings), "--out", str(root / "run"),
        "--data-root", str(root / "deidentified"), "--no-report",
    )  # fmt: skip
    assert status == 0, output
    status, output = cli(
        "run", "--manifest", str(root / "index" / "manifest.csv"), "--config", str(settings), "--out",
        str(root / "run-identified"), "--data-root", str(root / "export"),
    )  # fmt: skip
    assert status == 0, output
    return {"root": root, "truth": truth, "before": before}


def test_every_series_is_classified_and_flagged_as_planted(hospital):
    truth, index = hospital["truth"], hospital["root"] / "index"
    rows = {row["series_uid"]: row for row in readCsv(index / "series.csv")}
    assert set(rows) == set(truth["series"])
    for uid, planted in truth["series"].items():
        row = rows[uid]
        expected = "unknown" if planted["sequence"] == "localizer" else planted["sequence"]  # a scout: no class
        assert row["sequence"] == expected, (planted, row)
        assert set(filter(None, row["flags"].split(";"))) >= planted["flags"], (planted, row)
        assert int(row["files"]) == planted["files"]
    dwi = [row for row in rows.values() if row["sequence"] == "DWI"]
    assert len(dwi) == PATIENTS and all(row["b_values"] == "0\\500\\1000" for row in dwi)
    skipped = {row["path"]: row for row in readCsv(index / "skipped.csv")}
    assert set(skipped) == set(truth["skipped"])


def test_the_export_is_never_written(hospital):
    assert hashes(hospital["root"] / "export") == hospital["before"]


def test_the_drafted_manifest_runs_every_complete_patient(hospital):
    root = hospital["root"]
    manifest = readCsv(root / "deidentified-index" / "manifest.csv")
    assert len(manifest) == PATIENTS and all(row["mask"] for row in manifest)
    assert sorted(row["FLAIR"] == "" for row in manifest) == [False, False, True]  # the one missing a slice
    cases = {row["patient"]: json.loads((root / "run" / "cases" / row["patient"] / "case.json").read_text())
             for row in manifest}  # fmt: skip
    assert all(case["status"] == "done" for case in cases.values()), cases
    for patient, case in cases.items():
        assert set(case["stages"]) >= {"mask", "segment", "extract", "scene", "dicom"}
        assert (root / "run" / "dicom" / patient / "seg.dcm").is_file()
        assert (root / "run" / "dicom" / patient / "sr.dcm").is_file()


def test_the_rtstruct_masks_and_the_exported_seg_are_the_planted_tumours(hospital):
    """The rasterised RTSTRUCT is the ground-truth tumour voxel for voxel (in space), and the run's DICOM SEG
    re-imports as the same mask, marked as a person's segmentation."""
    from VirtualBiopsy.dicom.segImport import readSegmentation

    root = hospital["root"]
    manifest = readCsv(root / "deidentified-index" / "manifest.csv")
    pseudonyms = _pseudonymOrder(root)
    for index in range(PATIENTS):
        patient = pseudonyms[index]
        truth = _placed(generateCase(index, 0, SIZE).mask, index)
        rasterised = sitk.ReadImage(str(root / "run" / "cases" / patient / "reference-mask.nrrd"))
        onTruth = sitk.Resample(rasterised, truth, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        assert np.array_equal(sitk.GetArrayFromImage(onTruth), sitk.GetArrayFromImage(truth) > 0)
        row = next(row for row in manifest if row["patient"] == patient)
        (segment,) = readSegmentation(root / "run" / "dicom" / patient / "seg.dcm", row["T1c"])
        assert segment.algorithmType == "MANUAL"
        onTruth = sitk.Resample(segment.mask, truth, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        assert np.array_equal(sitk.GetArrayFromImage(onTruth), sitk.GetArrayFromImage(truth) > 0)


def test_no_planted_identifier_in_any_output(hospital):
    root = hospital["root"]
    planted = []
    for index in range(PATIENTS):
        name, birth, accession, patientId = identifiersOf(index)
        planted += [name, name.replace("^", " "), birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", accession, patientId]
    for folder in ("deidentified", "deidentified-index", "run"):
        for path in (root / folder).rglob("*"):
            assert not any(value in path.name for value in planted), path
            if path.is_file():
                data = path.read_bytes()
                found = [value for value in planted if value.encode() in data]
                assert not found, (path, found)
    # Without de-identification the index and the run (report and logs included) name the export's own patient
    # ids (the manifest's), never a name, birth date or accession number; only the DICOM objects the run writes
    # carry them, copied from their source series as DICOM requires.
    notIds = [value for value in planted if not value.startswith("NHS")]
    for folder in ("index", "run-identified"):
        for path in (root / folder).rglob("*"):
            assert not any(value in path.name for value in notIds), path
            if path.is_file() and "dicom" not in path.relative_to(root / folder).parts[:1]:
                data = path.read_bytes()
                assert not any(value.encode() in data for value in notIds), path
    assert (root / "run-identified" / "report" / "index.html").is_file()


def _pseudonymOrder(root: pathlib.Path) -> list[str]:
    """The de-identified patient ids in the order of the planted patients, from the de-identification's local log
    (which maps input files to output files)."""
    log = root / "deidentified-local-log.csv"
    rows = readCsv(log)
    order = []
    for index in range(PATIENTS):
        prefix = f"PAT{index + 1:03d}/"
        row = next(row for row in rows if row.get("input", "").startswith(prefix) and row.get("output"))
        order.append(pathlib.PurePosixPath(row["output"]).parts[0])
    return order
