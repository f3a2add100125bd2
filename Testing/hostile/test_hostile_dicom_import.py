"""Hostile DICOM import inputs: each is refused with the file, the reason and the fix; the input is never written."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk
from hostile import PLANTED_IDENTIFIERS, assertRefused, guarded, runCommand

pydicom = pytest.importorskip("pydicom")

from VirtualBiopsy.data.dicomRtstruct import writeRtstruct  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.rtstruct import readRtstruct  # noqa: E402
from VirtualBiopsy.dicom.seriesVolume import readSeriesVolume  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402

SHAPE = (6, 10, 8)


def plantedSeries(folder: pathlib.Path, name: str = "a", direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)) -> list[pathlib.Path]:
    name_, birth, accession, patient = PLANTED_IDENTIFIERS
    image = sitk.GetImageFromArray(np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE))
    image.SetSpacing((1.0, 1.0, 2.0))
    image.SetDirection(direction)
    header = SeriesHeader(
        name_, patient, birth, accession, uid("st", name), uid("se", name), uid("for", name), 7, PROTOCOLS["T1"]
    )
    return writeSeries([image], folder, header)


def refusal(call, kind=InputError) -> str:
    with pytest.raises(kind) as raised:
        call()
    message = str(raised.value)
    assert not any(identifier in message for identifier in PLANTED_IDENTIFIERS), message
    return message


def test_truncated_slice(tmp_path):
    files = plantedSeries(tmp_path / "series")
    files[2].write_bytes(files[2].read_bytes()[:-40])
    with guarded([tmp_path / "series"]):
        message = refusal(lambda: readSeriesVolume(tmp_path / "series"))
    assert "IM00003 is truncated" in message
    assert "Nothing was read" in message and "Export the series again" in message


def test_missing_image_position(tmp_path):
    files = plantedSeries(tmp_path / "series")
    dataset = pydicom.dcmread(files[3])
    del dataset.ImagePositionPatient
    dataset.save_as(files[3])
    with guarded([tmp_path / "series"]):
        message = refusal(lambda: readSeriesVolume(tmp_path / "series"))
    assert "slices without a position or orientation (ImagePositionPatient/ImageOrientationPatient): IM00004" in message


def test_gantry_tilt(tmp_path):
    angle = math.radians(12.0)
    plantedSeries(tmp_path / "series", direction=(1, 0, 0, 0, 1, math.sin(angle), 0, 0, math.cos(angle)))
    with guarded([tmp_path / "series"]):
        message = refusal(lambda: readSeriesVolume(tmp_path / "series"), GeometryError)
    assert "a gantry tilt or sheared stack of 12°" in message
    assert "pass resampleTilt=True (command line: --resample-tilt)" in message
    with guarded([tmp_path / "series"]):
        assert readSeriesVolume(tmp_path / "series", resampleTilt=True).GetSize()[2] == SHAPE[0]


def test_unknown_transfer_syntax(tmp_path):
    files = plantedSeries(tmp_path / "series")
    dataset = pydicom.dcmread(files[1])
    dataset.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.9.9999.1"
    dataset.save_as(files[1], enforce_file_format=True)
    with guarded([tmp_path / "series"]):
        message = refusal(lambda: readSeriesVolume(tmp_path / "series"))
    assert "IM00002 has transfer syntax 1.2.826.0.1.3680043.9.9999.1, which is not a DICOM transfer syntax" in message
    assert "decompress it first" in message


def test_rtstruct_referencing_an_absent_series(tmp_path):
    plantedSeries(tmp_path / "drawn", "drawn")
    plantedSeries(tmp_path / "other", "other")
    mask = sitk.GetImageFromArray(np.pad(np.ones((2, 3, 3), np.uint8), ((1, 3), (2, 5), (2, 3))))
    mask.SetSpacing((1.0, 1.0, 2.0))
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "drawn", {"GTV": mask})
    with guarded([tmp_path / "other", tmp_path / "rs.dcm"]):
        message = refusal(lambda: readRtstruct(tmp_path / "rs.dcm", tmp_path / "other"))
    assert f"RTSTRUCT rs.dcm references series {uid('se', 'drawn')}" in message
    assert f"holds series {uid('se', 'other')}: the referenced series is absent" in message
    assert f"Give the folder of series {uid('se', 'drawn')} as the reference (--reference)" in message


def test_rtstruct_contour_off_the_grid(tmp_path):
    plantedSeries(tmp_path / "series")
    mask = sitk.GetImageFromArray(np.pad(np.ones((1, 3, 3), np.uint8), ((2, 3), (2, 5), (2, 3))))
    mask.SetSpacing((1.0, 1.0, 2.0))
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", {"GTV": mask})
    dataset = pydicom.dcmread(tmp_path / "rs.dcm")
    contour = dataset.ROIContourSequence[0].ContourSequence[0]
    points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
    points[:, 2] += 30.0  # beyond the last slice
    contour.ContourData = [f"{value:.10g}" for value in points.ravel()]
    dataset.save_as(tmp_path / "rs.dcm")
    with guarded([tmp_path / "series", tmp_path / "rs.dcm"]):
        message = refusal(lambda: readRtstruct(tmp_path / "rs.dcm", tmp_path / "series"), GeometryError)
    assert "RTSTRUCT rs.dcm: ROI 'GTV' contour 1 lies 24 mm from the nearest slice plane" in message
    assert "it is off the reference grid" in message


@pytest.fixture
def importActions(monkeypatch):
    """``virtual-biopsy dicom import-*`` registered on the real command line (until commands/dicom.py does it)."""
    import argparse

    from VirtualBiopsy.commands import dicom, dicomImport

    original = dicom.addParser

    def addParser(commands) -> None:
        original(commands)
        actions = next(a for a in commands.choices["dicom"]._actions if isinstance(a, argparse._SubParsersAction))
        if "import-series" not in actions.choices:
            dicomImport.addParser(actions)

    monkeypatch.setattr(dicom, "addParser", addParser)


def test_command_line_refuses_a_tilt_then_resamples_it_when_asked(tmp_path, importActions):
    angle = math.radians(12.0)
    plantedSeries(tmp_path / "series", direction=(1, 0, 0, 0, 1, math.sin(angle), 0, 0, math.cos(angle)))
    out = tmp_path / "out"
    with guarded([tmp_path / "series"], outputs=[out]):
        refused = runCommand("dicom", "import-series", tmp_path / "series", "--out", out / "image.nrrd")
        assertRefused(refused, "gantry tilt or sheared stack of 12°", "--resample-tilt")
        assert not (out / "image.nrrd").exists()
        done = runCommand("dicom", "import-series", tmp_path / "series", "--out", out / "image.nrrd", "--resample-tilt")
    assert done.code == 0, done.output
    assert "gantry tilt of 12° resampled" in done.stdout
    assert sitk.ReadImage(str(out / "image.nrrd")).GetSize()[2] == SHAPE[0]


def test_command_line_refuses_an_rtstruct_of_another_series(tmp_path, importActions):
    plantedSeries(tmp_path / "drawn", "drawn")
    plantedSeries(tmp_path / "other", "other")
    mask = sitk.GetImageFromArray(np.pad(np.ones((2, 3, 3), np.uint8), ((1, 3), (2, 5), (2, 3))))
    mask.SetSpacing((1.0, 1.0, 2.0))
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "drawn", {"GTV": mask})
    out = tmp_path / "out"
    with guarded([tmp_path / "other", tmp_path / "rs.dcm"], outputs=[out]):
        result = runCommand(
            "dicom",
            "import-rtstruct",
            tmp_path / "rs.dcm",
            "--reference",
            tmp_path / "other",
            "--out",
            out / "seg.seg.nrrd",
        )
    assertRefused(result, "the referenced series is absent", uid("se", "drawn"), "(--reference)")
    assert not out.exists() or not any(out.iterdir())
