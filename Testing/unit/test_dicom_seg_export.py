"""DICOM SEG export and import: exact round trips on axial, oblique and left-handed series, dcmqi decodes the same
masks in physical space, dciodvfy finds no error, segment descriptions and algorithm identification."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from dicomExportCases import DIRECTIONS, dciodvfyErrors, dcmqiTool, labelmap, onGridOf, writeReference  # noqa: E402

from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries  # noqa: E402
from VirtualBiopsy.dicom.segExport import SegmentSpec, exportSegmentation  # noqa: E402
from VirtualBiopsy.dicom.segImport import readSegmentation  # noqa: E402
from VirtualBiopsy.errors import GeometryError, InputError  # noqa: E402

SPECS = [
    SegmentSpec("Tumour", 1, "tumour", "AI", "brainTumourNet", "2.1"),
    SegmentSpec("Oedema", 2, "oedema", "manual"),
    SegmentSpec("Necrosis", 3, "necrosis", "manual"),
]


def _hashes(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.fixture(params=list(DIRECTIONS), scope="module")
def exported(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    image = writeReference(folder / "ref", DIRECTIONS[request.param])
    before = _hashes(folder / "ref")
    result = exportSegmentation(labelmap(image), folder / "ref", folder / "seg.dcm", SPECS)
    assert _hashes(folder / "ref") == before, "the reference folder was written"
    return folder, image, result


def test_round_trip_is_exact_on_the_reference_grid(exported):
    folder, image, result = exported
    assert result.skipped == ["Necrosis"] and [spec.name for spec in result.segments] == ["Tumour", "Oedema"]
    grid = readReferenceSeries(folder / "ref").grid
    segments = readSegmentation(folder / "seg.dcm", folder / "ref")
    assert [(s.number, s.name, s.algorithmType, s.modelId, s.modelVersion) for s in segments] == [
        (1, "Tumour", "AUTOMATIC", "brainTumourNet", "2.1"),
        (2, "Oedema", "MANUAL", "", ""),
    ]
    assert segments[0].propertyType == ("108369006", "SCT", "Neoplasm")
    assert segments[1].propertyType == ("79654002", "SCT", "Edema")
    source = sitk.GetArrayFromImage(labelmap(image))
    for segment, label in zip(segments, (1, 2)):
        assert segment.mask.GetSize() == grid.GetSize()
        np.testing.assert_allclose(segment.mask.GetOrigin(), grid.GetOrigin(), atol=1e-9)
        np.testing.assert_allclose(segment.mask.GetSpacing(), grid.GetSpacing(), atol=1e-9)
        np.testing.assert_allclose(segment.mask.GetDirection(), grid.GetDirection(), atol=1e-9)
        # Voxel for voxel, in space: the mask on the source grid (flipped along k for a left-handed source).
        expected = (source == label).astype(np.uint8)
        if np.linalg.det(np.array(image.GetDirection()).reshape(3, 3)) < 0:
            expected = expected[::-1]
        np.testing.assert_array_equal(sitk.GetArrayFromImage(segment.mask), expected)


def test_frames_refer_to_the_source_instances_and_ai_segments_name_the_model(exported):
    import pydicom

    folder, _, _ = exported
    seg = pydicom.dcmread(folder / "seg.dcm")
    reference = readReferenceSeries(folder / "ref")
    sources = {str(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
               for item in seg.PerFrameFunctionalGroupsSequence}  # fmt: skip
    assert sources and sources <= set(reference.sopInstanceUids)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == reference.seriesUid
    assert seg.FrameOfReferenceUID == reference.frameOfReferenceUid
    assert seg.SegmentationType == "BINARY"
    tumour, oedema = seg.SegmentSequence
    algorithm = tumour.SegmentationAlgorithmIdentificationSequence[0]
    assert (tumour.SegmentAlgorithmType, algorithm.AlgorithmName, algorithm.AlgorithmVersion) == (
        "AUTOMATIC", "Virtual Biopsy brainTumourNet", "2.1")  # fmt: skip
    family = algorithm.AlgorithmFamilyCodeSequence[0]
    assert (family.CodeValue, family.CodingSchemeDesignator, family.CodeMeaning) == (
        "123110", "DCM", "Artificial Intelligence")  # fmt: skip
    assert tumour.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert oedema.SegmentAlgorithmType == "MANUAL" and "SegmentationAlgorithmIdentificationSequence" not in oedema
    # Identifiers come from the reference series (DICOM's rule for derived objects), unchanged.
    assert seg.PatientID == "NHS-943-476-5919" and seg.StudyInstanceUID == reference.datasets[0].StudyInstanceUID


def test_dcmqi_decodes_the_same_masks_in_physical_space(exported, tmp_path):
    folder, image, _ = exported
    subprocess.run([dcmqiTool("segimage2itkimage"), "--inputDICOM", str(folder / "seg.dcm"),
                    "--outputDirectory", str(tmp_path), "--outputType", "nrrd"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    source = labelmap(image)
    for number, label in ((1, 1), (2, 2)):
        decoded = sitk.ReadImage(str(tmp_path / f"{number}.nrrd"))
        expected = sitk.GetArrayFromImage(source) == label
        assert np.array_equal(onGridOf(decoded, source) != 0, expected)


def test_dciodvfy_finds_no_error(exported):
    folder, _, _ = exported
    errors, _ = dciodvfyErrors(folder / "seg.dcm")
    assert errors == []


def test_import_without_reference_spans_the_stored_frames(exported):
    folder, _, _ = exported
    segments = readSegmentation(folder / "seg.dcm")
    grid = readReferenceSeries(folder / "ref").grid
    # Frames 2..5 (of 0..7) hold voxels: the grid is those four slices, at their place in space.
    assert segments[0].mask.GetSize() == (20, 18, 4)
    full = sitk.GetArrayFromImage(readSegmentation(folder / "seg.dcm", folder / "ref")[0].mask)
    assert np.array_equal(onGridOf(segments[0].mask, grid), full)


def test_fractional_round_trip_keeps_probabilities_to_1_over_255(tmp_path):
    image = writeReference(tmp_path / "ref")
    levels = np.random.default_rng(5).integers(0, 256, size=image.GetSize()[::-1])
    probabilities = sitk.GetImageFromArray(levels / 255.0)
    probabilities.CopyInformation(image)
    exportSegmentation([probabilities], tmp_path / "ref", tmp_path / "seg.dcm",
                       [SegmentSpec("Tumour", algorithm="AI", modelId="m", modelVersion="1")], fractional=True)  # fmt: skip
    (segment,) = readSegmentation(tmp_path / "seg.dcm", tmp_path / "ref")
    assert segment.mask.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_array_equal(sitk.GetArrayFromImage(segment.mask), (levels / 255.0).astype(np.float32))


def test_mask_on_another_grid_is_refused_unless_resampled(tmp_path):
    image = writeReference(tmp_path / "ref")
    mask = labelmap(image)
    mask.SetOrigin((-12.2, 30.25, 7.125))  # a third of a voxel off the lattice
    with pytest.raises(GeometryError, match=r"does not lie on the reference series' grid: origin .*--resample-mask"):
        exportSegmentation(mask, tmp_path / "ref", tmp_path / "seg.dcm", SPECS[:2])
    assert not (tmp_path / "seg.dcm").exists()
    exportSegmentation(mask, tmp_path / "ref", tmp_path / "seg.dcm", SPECS[:2], resample=True)
    assert (tmp_path / "seg.dcm").is_file()


def test_mask_cropped_on_the_reference_lattice_is_padded_exactly(tmp_path):
    image = writeReference(tmp_path / "ref", DIRECTIONS["oblique"])
    full = labelmap(image)
    cropped = sitk.RegionOfInterest(full, (10, 12, 4), (4, 3, 2))  # size, index
    exportSegmentation(cropped, tmp_path / "ref", tmp_path / "seg.dcm", SPECS[:2])
    segments = readSegmentation(tmp_path / "seg.dcm", tmp_path / "ref")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(segments[0].mask), sitk.GetArrayFromImage(full) == 1)


def test_only_empty_segments_and_bad_specs_are_refused(tmp_path):
    image = writeReference(tmp_path / "ref")
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    with pytest.raises(InputError, match="Every segment to export is empty"):
        exportSegmentation(empty, tmp_path / "ref", tmp_path / "seg.dcm", SPECS[:1])
    with pytest.raises(InputError, match="AI segment without a model id and version"):
        exportSegmentation(labelmap(image), tmp_path / "ref", tmp_path / "seg.dcm", [SegmentSpec("Tumour")])
    with pytest.raises(InputError, match="category 'lesion' is unknown"):
        exportSegmentation(labelmap(image), tmp_path / "ref", tmp_path / "seg.dcm",
                           [SegmentSpec("Tumour", category="lesion", algorithm="manual")])  # fmt: skip
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ref"]


def _flat(dataset, prefix=""):
    values = {}
    for element in dataset:
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                values.update(_flat(item, f"{prefix}{element.keyword}[{index}]."))
        else:
            values[prefix + element.keyword] = element.value
    return values


def test_output_is_deterministic_but_for_uids_dates_and_times(tmp_path):
    import pydicom

    image = writeReference(tmp_path / "ref")
    for name in ("a.dcm", "b.dcm"):
        exportSegmentation(labelmap(image), tmp_path / "ref", tmp_path / name, SPECS[:2], seriesUid="1.2.3",
                           sopInstanceUid="1.2.3.4")  # fmt: skip
    first, second = (_flat(pydicom.dcmread(tmp_path / name)) for name in ("a.dcm", "b.dcm"))
    assert first.keys() == second.keys()
    differing = {key.rpartition(".")[2] for key in first if first[key] != second[key]}
    allowed = {"TrackingUID", "DimensionOrganizationUID", "ContentTime", "ContentDate", "InstanceCreationTime",
               "InstanceCreationDate", "ContributionDateTime"}  # fmt: skip
    assert differing <= allowed
    assert first["PixelData"] == second["PixelData"]
