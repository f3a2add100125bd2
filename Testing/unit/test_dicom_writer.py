"""The virtual cohort's DICOM writer: a written series reads back (SimpleITK) with the source's voxels and geometry."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("pydicom")

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries  # noqa: E402

LEFT_HANDED = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def _source(direction) -> sitk.Image:
    array = np.random.default_rng(3).integers(-500, 3000, size=(6, 7, 5)).astype(np.int16)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.9, 1.1, 3.3))
    image.SetOrigin((-12.5, 30.25, 7.125))
    image.SetDirection(direction)
    return image


def _header(number: int = 1) -> SeriesHeader:
    return SeriesHeader("DOE^JANE", "ID1", "19230101", "ACC-1", uid("s"), uid("se", number), uid("f"), number,
                        PROTOCOLS["T2"])  # fmt: skip


def _read(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@pytest.mark.parametrize(
    "direction, flipped",
    [((1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0), False), (obliqueDirection(20.0), False), (LEFT_HANDED, True)],
    ids=["axial", "oblique", "left-handed"],
)
def test_series_reads_back_with_the_same_voxels_and_geometry(tmp_path, direction, flipped):
    source = _source(direction)
    paths = writeSeries([source], tmp_path / "series", _header())
    assert len(paths) == 6
    image = _read(tmp_path / "series")
    # A reader orders slices along row x column: a left-handed grid comes back as the same voxels flipped along k.
    expected = sitk.Flip(source, (False, False, True)) if flipped else source
    assert image.GetPixelID() == sitk.sitkInt16
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(expected))
    np.testing.assert_allclose(image.GetOrigin(), expected.GetOrigin(), atol=1e-6)
    np.testing.assert_allclose(image.GetSpacing(), expected.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), expected.GetDirection(), atol=1e-6)


def test_headers_carry_the_protocol_and_the_dropped_slice_is_missing(tmp_path):
    import pydicom

    source = _source(LEFT_HANDED)
    paths = writeSeries([source, source], tmp_path / "dwi", _header(2), dropSlice=2,
                        perVolume=[{"DiffusionBValue": 0.0}, {"DiffusionBValue": 1000.0}])  # fmt: skip
    assert len(paths) == 10
    headers = [pydicom.dcmread(path) for path in paths]
    assert sorted({float(h.DiffusionBValue) for h in headers}) == [0.0, 1000.0]
    positions = {round(float(h.ImagePositionPatient[2]), 6) for h in headers}
    assert positions == {7.125, 3.825, -2.775, -6.075, -9.375}  # k = 0, 1, 3, 4, 5 going down (k = 2 dropped)
    first = headers[0]
    assert (first.Modality, first.SeriesDescription, float(first.RepetitionTime)) == ("MR", "AX T2 TSE", 4200.0)
    assert first.PatientName == "DOE^JANE" and first.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert [float(v) for v in first.PixelSpacing] == [1.1, 0.9] and float(first.SliceThickness) == 3.3


def test_uids_are_deterministic():
    assert uid(0, 1, "study") == uid(0, 1, "study") != uid(0, 2, "study")


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="install dicom3tools: sudo apt-get install -y dicom3tools")
def test_every_kind_of_file_of_the_hospital_export_passes_dciodvfy(tmp_path):
    """One file of each series kind (localizer, T1, T1c, T2, FLAIR, DWI, ADC, RTSTRUCT) has no IOD error."""
    from VirtualBiopsy.data.dicomExport import writeHospitalExport

    truth = writeHospitalExport(tmp_path / "export", patients=1, size=32)
    for series in truth["series"].values():
        first = min((tmp_path / "export" / series["folder"]).iterdir())
        result = subprocess.run(["dciodvfy", str(first)], capture_output=True, text=True, check=False)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        assert not errors, (series["sequence"], errors)
