"""Parametric maps: exact float32 round trips (axial, oblique, left-handed), the quantity and unit coded, dciodvfy
finds no error, bad maps refused."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from dicomExportCases import DIRECTIONS, dciodvfyErrors, writeReference  # noqa: E402

from VirtualBiopsy.dicom.parametricMaps import exportParametricMap, readParametricMap  # noqa: E402
from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402


def _map(image: sitk.Image, high: float) -> sitk.Image:
    array = np.random.default_rng(7).uniform(0.0, high, size=image.GetSize()[::-1]).astype(np.float32)
    result = sitk.GetImageFromArray(array)
    result.CopyInformation(image)
    return result


@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_round_trip_is_exact_in_space(tmp_path, direction):
    image = writeReference(tmp_path / "ref", DIRECTIONS[direction])
    adc = _map(image, 3000.0)
    exportParametricMap(adc, tmp_path / "ref", tmp_path / "ADC.dcm", "ADC")
    result = readParametricMap(tmp_path / "ADC.dcm", tmp_path / "ref")
    assert (result.quantity, result.unit) == ("ADC", "um2/s")
    grid = readReferenceSeries(tmp_path / "ref").grid
    np.testing.assert_allclose(result.image.GetDirection(), grid.GetDirection(), atol=1e-9)
    np.testing.assert_allclose(result.image.GetOrigin(), grid.GetOrigin(), atol=1e-9)
    expected = sitk.GetArrayFromImage(adc)
    if direction == "left-handed":
        expected = expected[::-1]
    np.testing.assert_array_equal(sitk.GetArrayFromImage(result.image), expected)
    # Without the reference folder the frames span the same grid (none is empty).
    np.testing.assert_array_equal(sitk.GetArrayFromImage(readParametricMap(tmp_path / "ADC.dcm").image), expected)


def test_ktrans_is_coded_and_passes_dciodvfy(tmp_path):
    import pydicom

    image = writeReference(tmp_path / "ref")
    exportParametricMap(_map(image, 0.5), tmp_path / "ref", tmp_path / "Ktrans.dcm", "Ktrans")
    dataset = pydicom.dcmread(tmp_path / "Ktrans.dcm")
    mapping = dataset.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    quantity = mapping.QuantityDefinitionSequence[0].ConceptCodeSequence[0]
    assert (quantity.CodeValue, quantity.CodingSchemeDesignator, quantity.CodeMeaning) == ("126312", "DCM", "Ktrans")
    assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "/min"
    assert (mapping.RealWorldValueSlope, mapping.RealWorldValueIntercept) == (1.0, 0.0)
    assert "FloatPixelData" in dataset
    errors, warnings = dciodvfyErrors(tmp_path / "Ktrans.dcm")
    assert errors == []
    # Accepted warnings: Laterality empty (unknown) and highdicom's QUANTITY image/frame type value.
    assert all("Laterality" in line or "QUANTITY" in line for line in warnings), warnings


def test_bad_maps_are_refused(tmp_path):
    image = writeReference(tmp_path / "ref")
    adc = _map(image, 3000.0)
    with pytest.raises(InputError, match="Quantity 'T1map' is unknown"):
        exportParametricMap(adc, tmp_path / "ref", tmp_path / "x.dcm", "T1map")
    with pytest.raises(InputError, match="Unit 'furlong' of the ADC map is unknown"):
        exportParametricMap(adc, tmp_path / "ref", tmp_path / "x.dcm", "ADC", "furlong")
    array = sitk.GetArrayFromImage(adc)
    array[0, 0, :3] = np.nan
    holed = sitk.GetImageFromArray(array)
    holed.CopyInformation(adc)
    with pytest.raises(InputError, match="3 non-finite voxel"):
        exportParametricMap(holed, tmp_path / "ref", tmp_path / "x.dcm", "ADC")
    shifted = sitk.Image(adc)
    shifted.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="ADC map does not lie on the reference series' grid: spacing"):
        exportParametricMap(shifted, tmp_path / "ref", tmp_path / "x.dcm", "ADC")
    assert not (tmp_path / "x.dcm").exists()
