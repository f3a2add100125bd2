"""DICOM SEG (and SR) export from real slicer-core nodes, as the Segmentation module's "Export to DICOM SEG…" runs it:
a series written with a known answer, loaded into a volume node, a segmentation with two named segments, exported
from the series' files (as Slicer's DICOM database lists them) and re-imported voxel for voxel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries  # noqa: E402
from VirtualBiopsy.dicom.referenceSeries import readReferenceSeries  # noqa: E402
from VirtualBiopsy.dicom.segImport import readSegmentation  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402

SHAPE = (6, 14, 12)  # k, j, i
MODEL = ("brainTumourNet", "2.1")


def _header(number: int) -> SeriesHeader:
    return SeriesHeader("TEST^S", "S1", "19000101", "A9", uid("st", "s"), uid("se", "s", number), uid("for", "s"),
                        number, PROTOCOLS["T2"])  # fmt: skip


@pytest.fixture
def case(tmp_path, scene):
    """A left-handed oblique series, a second series mixed into a database-like folder, the loaded volume node and a
    segmentation with "Tumour" and "Oedema" (overlapping boxes) on the volume's grid."""
    from VirtualBiopsy.mrml.dicomNodes import loadDicomSeriesNode
    from VirtualBiopsy.mrml.images import volumeNodeToImage
    from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation

    direction = np.array(obliqueDirection(15.0)).reshape(3, 3)
    direction[:, 2] *= -1
    image = sitk.GetImageFromArray(np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE))
    image.SetSpacing((0.8, 0.9, 2.5))
    image.SetOrigin((1.0, 2.0, 3.0))
    image.SetDirection(tuple(direction.ravel()))
    writeSeries([image], tmp_path / "series", _header(2))
    other = sitk.Image(image)
    writeSeries([other], tmp_path / "other", _header(3))
    database = tmp_path / "database"  # files of both series in one folder, as a linked DICOM database holds them
    database.mkdir()
    files = []
    for source in sorted((tmp_path / "series").iterdir()):
        files.append(shutil.copy(source, database / f"a-{source.name}"))
    for source in sorted((tmp_path / "other").iterdir()):
        shutil.copy(source, database / f"b-{source.name}")
    volume = loadDicomSeriesNode(tmp_path / "series", scene, name="T2")
    grid = volumeNodeToImage(volume)
    tumour, oedema = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    tumour[1:4, 3:8, 2:7] = 1
    oedema[2:5, 5:11, 4:9] = 1
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "T2 segmentation")
    for label, (name, voxels) in enumerate((("Tumour", tumour), ("Oedema", oedema)), start=1):
        mask = sitk.GetImageFromArray(voxels * label)
        mask.CopyInformation(grid)
        part = labelmapImageToSegmentation(mask, scene, f"part{label}", referenceVolume=volume, segmentNames=[name])
        segmentation.GetSegmentation().CopySegmentFromSegmentation(
            part.GetSegmentation(), part.GetSegmentation().GetNthSegmentID(0)
        )
        scene.RemoveNode(part)
    segmentation.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    return tmp_path, [str(path) for path in files], volume, segmentation, {"Tumour": tumour, "Oedema": oedema}


def _featuresTable(scene, rows):
    """A features table node as the Outcome module's Features section writes it: Segment, Feature, Value (double)."""
    import vtk

    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "T2_features")
    for name in ("Segment", "Feature"):
        table.AddColumn().SetName(name)
    values = vtk.vtkDoubleArray()
    values.SetName("Value")
    table.AddColumn(values)
    for segmentName, feature, value in rows:
        row = table.AddEmptyRow()
        table.SetCellText(row, 0, segmentName)
        table.SetCellText(row, 1, feature)
        table.GetTable().SetValueByName(row, "Value", value)
    return table


def _imported(tmp_path):
    return {segment.name: segment for segment in readSegmentation(tmp_path / "out" / "seg.dcm", tmp_path / "series")}


def test_reference_series_from_a_list_of_files_equals_the_folder(case):
    tmp_path, files, *_ = case
    fromFiles, fromFolder = readReferenceSeries(list(reversed(files))), readReferenceSeries(tmp_path / "series")
    assert fromFiles.sopInstanceUids == fromFolder.sopInstanceUids
    assert fromFiles.folder == (tmp_path / "database").resolve()
    assert fromFiles.grid.GetSize() == fromFolder.grid.GetSize() == SHAPE[::-1]
    np.testing.assert_array_equal(fromFiles.grid.GetDirection(), fromFolder.grid.GetDirection())
    np.testing.assert_array_equal(fromFiles.grid.GetOrigin(), fromFolder.grid.GetOrigin())


def test_reference_series_list_refuses_missing_files_and_two_series(case):
    tmp_path, files, *_ = case
    with pytest.raises(InputError, match=r"1 of the 2 reference series file\(s\) do not exist .*nowhere\.dcm"):
        readReferenceSeries([files[0], tmp_path / "nowhere.dcm"])
    with pytest.raises(InputError, match=r"hold 2 series \(series numbers 2, 3.*give the files of exactly one series"):
        readReferenceSeries(sorted(str(path) for path in (tmp_path / "database").iterdir()))
    with pytest.raises(InputError, match="list of reference series files is empty"):
        readReferenceSeries([])


def test_export_from_database_files_round_trips_voxel_for_voxel_with_names_and_algorithms(case):
    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode
    from VirtualBiopsy.mrml.images import volumeNodeToImage

    tmp_path, files, volume, segmentation, expected = case
    segmentation.GetSegmentation().AddEmptySegment("", "Necrosis")  # created, never painted: left out and named
    result = exportSegmentationNode(segmentation, volume, files, tmp_path / "out", {"Tumour": "AI", "Oedema": "manual"},
                                    *MODEL)  # fmt: skip
    assert result.files == [tmp_path / "out" / "seg.dcm"] and result.segments == ["Tumour", "Oedema"]
    assert result.skipped == ["Necrosis"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["seg.dcm"]
    segments = _imported(tmp_path)
    assert [(s.number, s.name, s.algorithmType, s.modelId, s.modelVersion) for s in segments.values()] == [
        (1, "Tumour", "AUTOMATIC", *MODEL),
        (2, "Oedema", "MANUAL", "", ""),
    ]
    assert segments["Oedema"].propertyType == ("79654002", "SCT", "Edema")
    grid = volumeNodeToImage(volume)
    for name, voxels in expected.items():
        mask = segments[name].mask
        np.testing.assert_allclose(mask.GetOrigin(), grid.GetOrigin(), atol=1e-6)
        np.testing.assert_allclose(mask.GetDirection(), grid.GetDirection(), atol=1e-6)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), voxels)


def test_features_table_becomes_an_sr_for_the_exported_segments(case, scene):
    from VirtualBiopsy.dicom.srImport import readMeasurements
    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

    tmp_path, files, volume, segmentation, expected = case
    rows = [("Tumour", "original_firstorder_Mean", 12.5), ("Tumour", "original_shape_Sphericity", 0.75),
            ("Oedema", "original_firstorder_Mean", float("nan")), ("Elsewhere", "original_firstorder_Mean", 3.0)]  # fmt: skip
    table = _featuresTable(scene, rows)
    result = exportSegmentationNode(segmentation, volume, files, tmp_path / "out", "AI", *MODEL,
                                    segmentIds=["Tumour"], featuresTableNode=table)  # fmt: skip
    assert [path.name for path in result.files] == ["seg.dcm", "sr.dcm"]
    groups = readMeasurements(tmp_path / "out" / "sr.dcm")
    assert [group.trackingIdentifier for group in groups] == ["Tumour"]
    spacing = np.prod(readReferenceSeries(tmp_path / "series").grid.GetSpacing())
    assert groups[0].values["original_firstorder_Mean"] == 12.5
    assert groups[0].values["original_shape_Sphericity"] == 0.75
    assert groups[0].values["volume_ml"] == pytest.approx(expected["Tumour"].sum() * spacing / 1000.0, rel=1e-12)
    assert list(_imported(tmp_path)) == ["Tumour"]


def test_seg_and_sr_from_nodes_pass_dciodvfy(case, scene):
    from dicomExportCases import dciodvfyErrors

    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

    tmp_path, files, volume, segmentation, _ = case
    table = _featuresTable(scene, [("Tumour", "original_firstorder_Mean", 7.0)])
    exportSegmentationNode(segmentation, volume, files, tmp_path / "out", "manual", featuresTableNode=table)
    for name in ("seg.dcm", "sr.dcm"):
        errors, _warnings = dciodvfyErrors(tmp_path / "out" / name)
        assert errors == [], f"{name}: {errors}"


def test_bad_output_folder_or_table_writes_nothing(case, scene):
    from VirtualBiopsy.mrml.dicomExportNodes import exportSegmentationNode

    tmp_path, files, volume, segmentation, _ = case
    before = sorted(path.name for path in (tmp_path / "database").iterdir())
    with pytest.raises(InputError, match=r"Output folder .*database.* is inside the source series' folder"):
        exportSegmentationNode(segmentation, volume, files, tmp_path / "database", "manual")
    with pytest.raises(InputError, match=r"is inside the source series' folder"):
        exportSegmentationNode(segmentation, volume, files, tmp_path / "database" / "seg", "manual")
    assert sorted(path.name for path in (tmp_path / "database").iterdir()) == before
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "changes")
    table.AddColumn().SetName("Segment")
    with pytest.raises(
        InputError, match=r"Features table 'changes' has no column Feature, Value \(its columns: Segment\)"
    ):
        exportSegmentationNode(segmentation, volume, files, tmp_path / "out", "manual", featuresTableNode=table)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(InputError, match="AI segment without a model id and version"):
        exportSegmentationNode(segmentation, volume, files, tmp_path / "out", "AI")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_segment_origins_from_provenance_and_the_review_reference(case, scene):
    from VirtualBiopsy.mrml.dicomExportNodes import PROVENANCE_ATTRIBUTE, segmentOrigins
    from VirtualBiopsy.mrml.segmentMasks import setSegmentMask
    from VirtualBiopsy.segment import modelLogic, review

    assert PROVENANCE_ATTRIBUTE == review.PROVENANCE_ATTRIBUTE == modelLogic.PROVENANCE_ATTRIBUTE
    _, _, volume, segmentation, expected = case
    drawn = segmentOrigins(segmentation)
    assert (drawn.algorithms, drawn.modelId, drawn.known) == ({"Tumour": "manual", "Oedema": "manual"}, "", True)
    segmentation.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps({"modelId": MODEL[0], "modelVersion": MODEL[1]}))
    unreviewed = segmentOrigins(segmentation)
    assert (unreviewed.algorithms, unreviewed.known) == ({"Tumour": "AI", "Oedema": "AI"}, False)
    assert (unreviewed.modelId, unreviewed.modelVersion) == MODEL and "no review was started" in unreviewed.reason
    reference = review.ReviewLogic(scene).startReview(segmentation)
    untouched = segmentOrigins(segmentation, reference, volume)
    assert (untouched.algorithms, untouched.known) == ({"Tumour": "AI", "Oedema": "AI"}, True)
    grown = expected["Oedema"].copy()
    grown[0, 0, 0] = 1  # one voxel drawn by the clinician
    mask = sitk.GetImageFromArray(grown)
    from VirtualBiopsy.mrml.images import volumeNodeToImage

    mask.CopyInformation(volumeNodeToImage(volume))
    setSegmentMask(segmentation, "Oedema", mask)
    edited = segmentOrigins(segmentation, reference, volume)
    assert edited.algorithms == {"Tumour": "AI", "Oedema": "manual"} and edited.reason.endswith("edited Oedema")


# --- The Segmentation module, read statically (it runs only inside 3D Slicer) ---------------------------------------


def _segmentationModule():
    from moduleSources import moduleSources

    (source,) = [source for source in moduleSources() if source.name == "VirtualBiopsySegmentation"]
    return source


def test_the_dicom_section_has_the_export_button_and_the_features_selector():
    import xml.etree.ElementTree as ElementTree

    from moduleSources import moduleUiReferences

    source = _segmentationModule()
    root = ElementTree.parse(source.uiPath).getroot()
    section = next(w for w in root.iter("widget") if w.get("name") == "dicomCollapsibleButton")
    assert section.get("class") == "ctkCollapsibleButton" and section.findtext("property/string") == "DICOM"
    widgets = {w.get("name"): w for w in section.iter("widget")}
    button = widgets["exportDicomButton"]
    texts = {prop.get("name"): prop.findtext("*") for prop in button.findall("property")}
    assert (button.get("class"), texts["text"], texts["enabled"]) == ("QPushButton", "Export to DICOM SEG…", "false")
    assert widgets["dicomFeaturesSelector"].get("class") == "qMRMLNodeComboBox"
    assert {"exportDicomButton", "dicomFeaturesSelector"} <= moduleUiReferences(source.tree)


def test_the_export_is_an_action_that_installs_highdicom_first():
    """Both logic calls of the export run through ``runStage(..., "dicomExport", ...)``, which ensures
    ``dicomExport.txt`` (highdicom: Slicer 5.10 does not ship it) before running; the module never imports it."""
    from test_action_requirements import actionMethods, listedRequirements

    source = _segmentationModule()
    assert actionMethods(source)["dicomExport"] == {"segmentOriginsOf", "exportToDicom"}
    path = source.folder / "Resources" / "Requirements" / "VirtualBiopsySegmentation" / "dicomExport.txt"
    assert "highdicom" in listedRequirements(path)
    sectionFile = source.folder.parent / "VirtualBiopsyWidgets" / "segmentationDicomSection.py"
    for text in (source.pyPath.read_text(encoding="utf-8"), sectionFile.read_text(encoding="utf-8")):
        assert "import highdicom" not in text and "import pydicom" not in text


def test_the_section_finds_the_series_as_slicers_dicom_plugins_do():
    """The names of Slicer's API the section uses (checked against Slicer's source, see the report of issue 15):
    the scalar volume plugin's attribute and the database's lookup; the files go back through the CTK indexer."""
    source = _segmentationModule()
    text = (source.folder.parent / "VirtualBiopsyWidgets" / "segmentationDicomSection.py").read_text(encoding="utf-8")
    for name in ('"DICOM.instanceUIDs"', "database.fileForInstance(uid)", "database.isOpen",
                 "ctk.ctkDICOMIndexer()", "indexer.addFile(slicer.dicomDatabase, str(path), True)",
                 "indexer.waitForImportFinished()", "DICOMUtils.refreshDICOMWidget()"):  # fmt: skip
        assert name in text, name
