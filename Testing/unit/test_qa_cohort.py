"""Cohort QA in the library: manifest rows with relative paths, per-case failures, progress and cancel."""

import pathlib

import pytest
import SimpleITK as sitk
from qaMasks import blob, maskImage

from VirtualBiopsy.errors import CancelledError
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.qa.cohortQa import compareCohort
from VirtualBiopsy.segment.qa.metrics import computeMetrics
from VirtualBiopsy.segment.qa.qaManifest import readQaManifest


@pytest.fixture
def manifest(tmp_path) -> pathlib.Path:
    (tmp_path / "masks").mkdir()
    for name, seed in (("a", 1), ("b", 2), ("p", 3)):
        sitk.WriteImage(maskImage(blob(seed=seed)), str(tmp_path / "masks" / f"{name}.nrrd"))
    sitk.WriteImage(maskImage(blob(seed=3), spacing=(1.0, 1.0, 1.0)), str(tmp_path / "masks" / "other.nrrd"))
    path = tmp_path / "qa.csv"
    path.write_text(
        "patient,prediction,reference_r1,reference_r2\n"
        "P1,masks/p.nrrd,masks/a.nrrd,masks/b.nrrd\n"
        "P2,masks/other.nrrd,masks/a.nrrd,\n"
        "P3,,masks/a.nrrd,\n"
    )
    return path


def _read(path, what):
    return sitk.ReadImage(str(path))


def test_manifest_paths_are_relative_to_it_and_empty_cells_are_absent_raters(manifest):
    cases = readQaManifest(manifest)
    assert [case.patient for case in cases] == ["P1", "P2", "P3"]
    assert cases[0].references == {
        "reference_r1": manifest.parent / "masks" / "a.nrrd",
        "reference_r2": manifest.parent / "masks" / "b.nrrd",
    }
    assert list(cases[1].references) == ["reference_r1"] and cases[1].problems == []
    assert cases[2].problems == ["no prediction; fill in the 'prediction' cell."]


def test_cohort_compares_good_cases_and_records_bad_ones(manifest):
    reports = []
    result = compareCohort(
        readQaManifest(manifest),
        _read,
        toleranceMm=1.5,
        progress=lambda fraction, message: reports.append((fraction, message)),
    )
    assert list(result.metrics["patient"]) == ["P1"] * 3
    expected = computeMetrics(
        _read(manifest.parent / "masks" / "a.nrrd", ""),
        _read(manifest.parent / "masks" / "p.nrrd", ""),
        toleranceMm=1.5,
    )
    assert result.metrics.loc[0, "surface_dsc"] == expected.surfaceDsc
    assert list(result.failures["patient"]) == ["P2", "P3"]
    assert result.failures.loc[0, "error"].startswith("GeometryError: The prediction mask and the reference mask")
    assert reports[0][0] == 0.0 and reports[-1] == (1.0, "1 of 3 case(s) compared")
    assert set(result.summary["pair"]) >= {"model vs reference_r1", "reference_r2 vs reference_r1"}


def test_cohort_stops_when_cancelled(manifest):
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        compareCohort(readQaManifest(manifest), _read, cancel=token)
