"""TID 1500 SR export and import: exact values back (Floating Point Value), IBSI and private codes, UCUM units,
references to the SEG and the source series, dcmqi's tid1500reader decodes the same values, dciodvfy finds no
error."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest

pytest.importorskip("highdicom")

from dicomExportCases import DIRECTIONS, dciodvfyErrors, dcmqiTool, labelmap, writeReference  # noqa: E402

from VirtualBiopsy.dicom.featureCodes import IBSI_CODES, featureCode, featureName, featureUnit  # noqa: E402
from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries  # noqa: E402
from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation  # noqa: E402
from VirtualBiopsy.dicom.srExport import exportMeasurements  # noqa: E402
from VirtualBiopsy.dicom.srImport import readMeasurements  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402

SPECS = [SegmentSpec("Tumour", 1, "tumour", "AI", "net", "1"), SegmentSpec("Oedema", 2, "oedema", "manual")]
#: Voxel volume of the test grid (0.9 × 1.1 × 3.3 mm) and the voxels of labels 1 and 2.
VOXEL_MM3, VOXELS = 0.9 * 1.1 * 3.3, {"Tumour": 3 * 6 * 8, "Oedema": 2 * 4 * 4}


def _features(seed: int) -> dict[str, float]:
    """Every IBSI-coded pyradiomics feature, plus privately coded ones, with values that need all 17 digits."""
    rng = np.random.default_rng(seed)
    names = [f"original_{key}" for key in IBSI_CODES]
    names += ["original_firstorder_Kurtosis", "wavelet-LLH_glcm_Contrast", "T1c_original_firstorder_Mean"]
    values = {name: float(rng.normal() * 10.0 ** rng.integers(-12, 12)) for name in names}
    values["original_shape_Flatness"] = 1 / 3
    return values


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sr")
    image = writeReference(folder / "ref", DIRECTIONS["oblique"])
    exportSegmentation(labelmap(image), folder / "ref", folder / "seg.dcm", SPECS)
    features = {"Tumour": {**_features(1), "original_firstorder_Skewness": math.nan}, "Oedema": _features(2)}
    exportMeasurements(features, folder / "seg.dcm", folder / "ref", folder / "sr.dcm", algorithmVersion="3.0.1")
    return folder, features


def test_values_round_trip_exactly_with_the_volume_in_ml(exported):
    folder, features = exported
    groups = readMeasurements(folder / "sr.dcm")
    assert [group.trackingIdentifier for group in groups] == ["Tumour", "Oedema"]
    for group in groups:
        expected = {name: value for name, value in features[group.trackingIdentifier].items() if math.isfinite(value)}
        volume = group.values.pop("volume_ml")
        assert volume == pytest.approx(VOXELS[group.trackingIdentifier] * VOXEL_MM3 / 1000.0, rel=1e-12)
        assert group.values == expected  # exact: read from Floating Point Value (FD)
        assert group.unknown == {}
    assert "original_firstorder_Skewness" not in groups[0].values  # NaN (undefined) is left out


def test_groups_refer_to_the_seg_segments_and_the_source_series(exported):
    import pydicom

    folder, _ = exported
    seg = pydicom.dcmread(folder / "seg.dcm", stop_before_pixels=True)
    groups = readMeasurements(folder / "sr.dcm")
    assert [(group.segmentNumber, group.segUid) for group in groups] == [
        (1, seg.SOPInstanceUID),
        (2, seg.SOPInstanceUID),
    ]
    assert {group.sourceSeriesUid for group in groups} == {readReferenceSeries(folder / "ref").seriesUid}
    assert len({group.trackingUid for group in groups}) == 2


def test_dcmqi_reads_the_same_values_codes_and_units(exported, tmp_path):
    folder, features = exported
    out = tmp_path / "sr.json"
    subprocess.run([dcmqiTool("tid1500reader"), "--inputDICOM", str(folder / "sr.dcm"), "--outputMetadata", str(out)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    measurements = json.loads(out.read_text())["Measurements"]
    assert [group["TrackingIdentifier"] for group in measurements] == ["Tumour", "Oedema"]
    assert [group["ReferencedSegment"] for group in measurements] == [1, 2]
    for group in measurements:
        values = features[group["TrackingIdentifier"]]
        items = group["measurementItems"]
        assert items[0]["quantity"]["CodeValue"] == "118565006" and items[0]["units"]["CodeValue"] == "ml"
        decoded = {}
        for item in items[1:]:
            quantity = item["quantity"]
            name = featureName(quantity["CodeValue"], quantity["CodingSchemeDesignator"], quantity["CodeMeaning"])
            assert item["units"]["CodeValue"] == featureUnit(name)[0]
            decoded[name] = float(item["value"])  # the Numeric Value (DS, at most 16 characters)
        expected = {name: value for name, value in values.items() if math.isfinite(value)}
        assert decoded.keys() == expected.keys()
        for name, value in expected.items():
            assert decoded[name] == pytest.approx(value, rel=1e-9), name


def test_dciodvfy_finds_no_error(exported):
    folder, _ = exported
    errors, warnings = dciodvfyErrors(folder / "sr.dcm")
    assert errors == []
    # The one accepted warning: our private coding scheme designator is not a DICOM defined term.
    assert all("99VBIO" in line for line in warnings), warnings


def test_feature_codes_and_units():
    assert featureCode("original_firstorder_Mean") == ("Q4LE", "IBSI", "Mean")
    assert featureCode("original_glszm_SmallAreaLowGrayLevelEmphasis") == (
        "5RAI",
        "IBSI",
        "Small zone low grey level emphasis",
    )
    assert featureCode("original_glcm_Idmn") == ("1QCO", "IBSI", "Normalised inverse difference moment")
    # pyradiomics' Kurtosis is not IBSI's excess kurtosis, filtered and sequence-prefixed names: private, stable codes.
    assert featureCode("original_firstorder_Kurtosis") == ("F02747A6C0D41512", "99VBIO", "original_firstorder_Kurtosis")
    assert featureCode("T1c_original_firstorder_Mean") == ("F670B2C8E317A930", "99VBIO", "T1c_original_firstorder_Mean")
    assert featureUnit("original_shape_MeshVolume")[0] == "mm3"
    assert featureUnit("T2_original_shape_Maximum3DDiameter")[0] == "mm"
    assert featureUnit("original_firstorder_Mean") == ("1", "UCUM", "no units")
    assert len({code for code, _ in IBSI_CODES.values()}) == len(IBSI_CODES)
    with pytest.raises(InputError, match="DICOM limits to 64"):
        featureCode("wavelet-LLH_" + "x" * 60)


def test_every_ibsi_coded_name_is_a_pyradiomics_feature():
    radiomics = pytest.importorskip("radiomics")
    known = {
        f"{name}_{feature}" for name, cls in radiomics.getFeatureClasses().items() for feature in cls.getFeatureNames()
    }
    assert set(IBSI_CODES) <= known, sorted(set(IBSI_CODES) - known)


def test_features_of_a_segment_the_seg_lacks_are_refused(exported, tmp_path):
    folder, _ = exported
    with pytest.raises(InputError, match=r"name segment\(s\) 'Necrosis' that the SEG seg.dcm does not have"):
        exportMeasurements({"Necrosis": {"original_firstorder_Mean": 1.0}}, folder / "seg.dcm", folder / "ref",
                           tmp_path / "sr.dcm")  # fmt: skip
    assert not (tmp_path / "sr.dcm").exists()
