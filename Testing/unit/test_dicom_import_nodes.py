"""DICOM series and RTSTRUCT into MRML nodes, mask files and the ``dicom import-*`` command-line actions."""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import pytest
import SimpleITK as sitk

pydicom = pytest.importorskip("pydicom")

from VirtualBiopsy.commands import dicomImport  # noqa: E402
from VirtualBiopsy.data.dicomRtstruct import writeRtstruct  # noqa: E402
from VirtualBiopsy.data.dicomWriter import PROTOCOLS, SeriesHeader, obliqueDirection, uid, writeSeries  # noqa: E402
from VirtualBiopsy.errors import InputError  # noqa: E402

SHAPE = (5, 12, 10)


@pytest.fixture
def case(tmp_path):
    """A left-handed oblique series, two overlapping ROIs and one empty ROI, in an RTSTRUCT beside it."""
    direction = np.array(obliqueDirection(15.0)).reshape(3, 3)
    direction[:, 2] *= -1
    image = sitk.GetImageFromArray(np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE))
    image.SetSpacing((0.8, 0.9, 2.0))
    image.SetOrigin((1.0, 2.0, 3.0))
    image.SetDirection(tuple(direction.ravel()))
    header = SeriesHeader(
        "TEST^N", "N1", "19000101", "A3", uid("st", "n"), uid("se", "n"), uid("for", "n"), 2, PROTOCOLS["T2"]
    )
    writeSeries([image], tmp_path / "series", header)
    tumour, edema = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    tumour[1:4, 3:8, 2:7] = 1
    edema[2:5, 5:11, 4:9] = 1
    masks = {}
    for name, voxels in (("tumour", tumour), ("edema", edema), ("empty", np.zeros(SHAPE, np.uint8))):
        masks[name] = sitk.GetImageFromArray(voxels)
        masks[name].CopyInformation(image)
    writeRtstruct(tmp_path / "rs.dcm", tmp_path / "series", masks, colors={"tumour": (255, 0, 0), "edema": (0, 0, 255)})
    # the reader's grid is right-handed: the written slices in reverse order
    return tmp_path, image, {"tumour": tumour[::-1], "edema": edema[::-1], "empty": np.zeros(SHAPE, np.uint8)}


def test_series_node_has_the_series_voxels_and_geometry(case, scene):
    from VirtualBiopsy.dicom.seriesVolume import readSeriesVolume
    from VirtualBiopsy.mrml.dicomNodes import loadDicomSeriesNode
    from VirtualBiopsy.mrml.images import volumeNodeToImage

    folder, image, _ = case
    node = loadDicomSeriesNode(folder / "series", scene)
    assert node.GetName() == "series" and node.IsA("vtkMRMLScalarVolumeNode")
    loaded, read = volumeNodeToImage(node), readSeriesVolume(folder / "series")
    assert np.array_equal(sitk.GetArrayFromImage(loaded), sitk.GetArrayFromImage(image)[::-1])
    for got, want in (
        (loaded.GetOrigin(), read.GetOrigin()),
        (loaded.GetDirection(), read.GetDirection()),
        (loaded.GetSpacing(), read.GetSpacing()),
    ):
        np.testing.assert_allclose(got, want, atol=1e-9)
    display = node.GetDisplayNode()  # the window of Slicer's automatic one, without its full histogram
    assert display.GetColorNodeID() == "vtkMRMLColorTableNodeGrey" and not display.GetAutoWindowLevel()
    low, high = np.percentile(sitk.GetArrayFromImage(image), (0.1, 99.9))
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == pytest.approx((low, high))


def test_rtstruct_node_has_one_segment_per_roi_with_names_and_colours(case, scene):
    from VirtualBiopsy.mrml.dicomNodes import loadRtstructNode
    from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName

    folder, _, truth = case
    node = loadRtstructNode(folder / "rs.dcm", folder / "series", scene)
    segmentation = node.GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert names == ["tumour", "edema", "empty"]
    np.testing.assert_allclose(segmentation.GetNthSegment(0).GetColor(), (1, 0, 0), atol=1e-6)
    np.testing.assert_allclose(segmentation.GetNthSegment(1).GetColor(), (0, 0, 1), atol=1e-6)
    masks = segmentMasksByName(node)
    for name in ("tumour", "edema"):  # overlapping ROIs stay whole
        assert np.array_equal(sitk.GetArrayFromImage(masks[name]), truth[name]), name


def test_read_mask_file_picks_an_roi_of_an_rtstruct_on_its_series(case):
    from VirtualBiopsy.mrml.maskFiles import readMaskFile

    folder, _, truth = case
    mask = readMaskFile(folder / "rs.dcm", "reference 'rater2'", segment="edema", reference=folder / "series")
    assert np.array_equal(sitk.GetArrayFromImage(mask), truth["edema"])
    union = readMaskFile(folder / "rs.dcm", "mask", reference=folder / "series")
    assert np.array_equal(sitk.GetArrayFromImage(union), truth["edema"] | truth["tumour"])
    with pytest.raises(
        InputError, match=r"has no ROI named 'GTV' \(its ROIs: tumour, edema, empty\); give one of these with --segment"
    ):
        readMaskFile(folder / "rs.dcm", "mask", segment="GTV", reference=folder / "series")
    with pytest.raises(InputError, match=r"is a DICOM RTSTRUCT; reading it needs the folder of the DICOM series"):
        readMaskFile(folder / "rs.dcm", "mask")


def parse(*argv: str | pathlib.Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dicomImport.addParser(parser.add_subparsers(dest="dicom_command"))
    return parser.parse_args([str(word) for word in argv])


def test_import_rtstruct_writes_a_labelmap_in_roi_order_and_prints_the_mapping(case, capsys):
    folder, _, truth = case
    arguments = parse(
        "import-rtstruct",
        folder / "rs.dcm",
        "--reference",
        folder / "series",
        "--out",
        folder / "out" / "labels.nii.gz",
    )
    assert arguments.run(arguments) == 0
    labels = sitk.ReadImage(str(folder / "out" / "labels.nii.gz"))
    expected = np.where(truth["edema"] == 1, 2, np.where(truth["tumour"] == 1, 1, 0))
    assert np.array_equal(sitk.GetArrayFromImage(labels), expected)
    printed = capsys.readouterr().out
    assert f"1\ttumour\t{truth['tumour'].sum()} voxels" in printed
    assert f"2\tedema\t{truth['edema'].sum()} voxels" in printed and "3\tempty\t0 voxels" in printed


def test_import_rtstruct_writes_a_segmentation_file_with_segment_names(case, scene):
    from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName
    from VirtualBiopsy.mrml.storage import loadSegmentation

    folder, _, truth = case
    arguments = parse(
        "import-rtstruct", folder / "rs.dcm", "--reference", folder / "series", "--out", folder / "seg.seg.nrrd"
    )
    assert arguments.run(arguments) == 0
    masks = segmentMasksByName(loadSegmentation(folder / "seg.seg.nrrd", scene))
    assert list(masks) == ["tumour", "edema", "empty"]
    assert np.array_equal(sitk.GetArrayFromImage(masks["tumour"]), truth["tumour"])


def test_import_series_writes_the_volume_and_refuses_an_output_inside_the_folder(case):
    folder, image, _ = case
    arguments = parse("import-series", folder / "series", "--out", folder / "volume.nrrd")
    assert arguments.run(arguments) == 0
    written = sitk.ReadImage(str(folder / "volume.nrrd"))
    assert np.array_equal(sitk.GetArrayFromImage(written), sitk.GetArrayFromImage(image)[::-1])
    inside = parse("import-series", folder / "series", "--out", folder / "series" / "volume.nrrd")
    with pytest.raises(InputError, match="is inside the DICOM folder .* which is never written"):
        inside.run(inside)
    assert not (folder / "series" / "volume.nrrd").exists()
