"""Segmentation nodes ⇄ labelmaps and masks, directly and through .seg.nrrd and labelmap files."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.imageGeometry import gridDifferences, gridOf
from VirtualBiopsy.mrml import (
    SegmentInfo,
    imageToVolumeNode,
    labelmapImageToSegmentation,
    loadSegmentation,
    saveNode,
    segmentationToLabelmapImage,
    segmentMaskImage,
)

NAMES = ["Tumor", "Edema", "Necrosis"]
COLORS = [(1.0, 0.0, 0.0), (0.0, 0.5, 1.0), (0.25, 0.75, 0.125)]


@pytest.fixture
def referenceVolume(scene, labelmapImage):
    """A float volume on the labelmap's grid."""
    return imageToVolumeNode(sitk.Cast(labelmapImage, sitk.sitkFloat32), scene, "image")


def voxels(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def assertExactImage(actual: sitk.Image, expected: sitk.Image) -> None:
    assert actual.GetPixelID() == expected.GetPixelID()
    assert gridOf(actual) == gridOf(expected)
    assert np.array_equal(voxels(actual), voxels(expected))


def test_multiSegmentRoundTripOnReferenceVolumeIsExact(scene, labelmapImage, referenceVolume):
    segmentation = labelmapImageToSegmentation(
        labelmapImage, scene, "tumour", referenceVolume=referenceVolume, segmentNames=NAMES, segmentColors=COLORS
    )
    assert segmentation.GetSegmentation().GetNumberOfSegments() == 3
    image, infos = segmentationToLabelmapImage(segmentation, referenceVolume)
    assertExactImage(image, labelmapImage)
    assert [info.label for info in infos] == [1, 2, 3]
    assert [info.name for info in infos] == NAMES
    np.testing.assert_allclose([info.color for info in infos], COLORS)
    assert all(isinstance(info, SegmentInfo) for info in infos)
    # The reference volume is remembered: the same grid without passing it again.
    again, _ = segmentationToLabelmapImage(segmentation)
    assertExactImage(again, labelmapImage)
    assert scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode") == 0


def test_roundTripWithoutReferenceUsesTheLabelmapsOwnGrid(scene, labelmapImage):
    segmentation = labelmapImageToSegmentation(labelmapImage, scene, "tumour")
    image, infos = segmentationToLabelmapImage(segmentation)
    assert np.array_equal(voxels(image), voxels(labelmapImage))
    # Through Slicer's 4x4 matrices only: last-bit round-off, no resampling.
    assert gridDifferences(gridOf(labelmapImage), gridOf(image), 1e-12) == []
    assert [info.name for info in infos] == ["Segment_1", "Segment_2", "Segment_3"]


def test_segmentOrderDefinesLabelsAndNamesMayBeAMapping(scene, labelmapImage, referenceVolume):
    sparse = sitk.Cast(sitk.ChangeLabel(labelmapImage, changeMap={3: 7}), sitk.sitkUInt16)
    segmentation = labelmapImageToSegmentation(sparse, scene, "s", referenceVolume, segmentNames={7: "Cyst"})
    segments = segmentation.GetSegmentation()
    ids = [segments.GetNthSegmentID(i) for i in range(segments.GetNumberOfSegments())]
    assert [segments.GetSegment(i).GetName() for i in ids] == ["Segment_1", "Segment_2", "Cyst"]
    image, infos = segmentationToLabelmapImage(segmentation, referenceVolume, segmentIds=["Cyst", ids[0]])
    expected = np.select([voxels(sparse) == 7, voxels(sparse) == 1], [1, 2], 0)
    assert np.array_equal(voxels(image), expected)
    assert [(info.label, info.name) for info in infos] == [(1, "Cyst"), (2, "Segment_1")]


def test_segmentMaskImageIsBinaryOnTheExactReferenceGrid(scene, labelmapImage, referenceVolume):
    segmentation = labelmapImageToSegmentation(labelmapImage, scene, "s", referenceVolume, segmentNames=NAMES)
    segmentId = segmentation.GetSegmentation().GetNthSegmentID(1)
    for key in (segmentId, "Edema"):
        mask = segmentMaskImage(segmentation, key, referenceVolume)
        assert mask.GetPixelID() == sitk.sitkUInt8
        assert gridOf(mask) == gridOf(labelmapImage)
        assert np.array_equal(voxels(mask), (voxels(labelmapImage) == 2).astype(np.uint8))


def test_unknownAndEmptySegments(scene, labelmapImage, referenceVolume):
    segmentation = labelmapImageToSegmentation(labelmapImage, scene, "s", referenceVolume, segmentNames=NAMES)
    with pytest.raises(InputError, match="no segment with ID or name 'Liver'.*Existing segments: .*'Tumor'.*'Edema'"):
        segmentMaskImage(segmentation, "Liver", referenceVolume)
    segmentation.GetSegmentation().AddEmptySegment("emptyId", "Nothing")
    with pytest.raises(InputError, match="Segment 'Nothing' .*has no voxel inside volume 'image'"):
        segmentMaskImage(segmentation, "emptyId", referenceVolume)


def test_labelmapOnAnotherGridIsAGeometryError(scene, labelmapImage, referenceVolume, tmp_path):
    shifted = sitk.Image(labelmapImage)
    shifted.SetOrigin(np.array(labelmapImage.GetOrigin()) + (0.0, 0.0, 1.5))
    with pytest.raises(GeometryError, match="origin .*Resample the labelmap onto the volume"):
        labelmapImageToSegmentation(shifted, scene, "s", referenceVolume)

    path = tmp_path / "otherGrid_label.nii.gz"
    sitk.WriteImage(labelmapImage[1:, :, :], str(path))
    with pytest.raises(
        GeometryError, match=r"labelmap file .*otherGrid_label.nii.gz.*size \(10, 11, 12\) \(image\) vs \(9, 11, 12\)"
    ):
        loadSegmentation(path, scene, referenceVolume=referenceVolume)
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0


def test_badNamesColoursAndLabelmaps(scene, labelmapImage, makeImage):
    with pytest.raises(InputError, match="segmentNames has 2 entries but the labelmap has 3 labels"):
        labelmapImageToSegmentation(labelmapImage, scene, "s", segmentNames=["a", "b"])
    with pytest.raises(InputError, match="colour .* in \\[0, 1\\]"):
        labelmapImageToSegmentation(labelmapImage, scene, "s", segmentColors=[(255, 0, 0)] * 3)
    with pytest.raises(InputError, match="labels must be integers"):
        labelmapImageToSegmentation(makeImage(np.float32), scene, "s")


def test_segNrrdSaveAndLoadKeepsSegmentsNamesAndColours(scene, labelmapImage, referenceVolume, tmp_path):
    segmentation = labelmapImageToSegmentation(
        labelmapImage, scene, "tumour", referenceVolume, segmentNames=NAMES, segmentColors=COLORS
    )
    path = saveNode(segmentation, tmp_path / "tumour.seg.nrrd")
    loaded = loadSegmentation(path, scene, referenceVolume=referenceVolume)
    assert loaded.GetName() == "tumour" and loaded is not segmentation
    image, infos = segmentationToLabelmapImage(loaded, referenceVolume)
    assertExactImage(image, labelmapImage)
    assert [info.name for info in infos] == NAMES
    np.testing.assert_allclose([info.color for info in infos], COLORS, atol=1e-6)


def test_loadSegmentationFromLabelmapFiles(scene, labelmapImage, referenceVolume, tmp_path):
    for extension in (".nrrd", ".nii.gz"):
        path = tmp_path / f"tumour_label{extension}"
        sitk.WriteImage(labelmapImage, str(path))
        segmentation = loadSegmentation(path, scene, referenceVolume=referenceVolume)
        assert segmentation.GetName() == "tumour_label"
        image, infos = segmentationToLabelmapImage(segmentation, referenceVolume)
        assert np.array_equal(voxels(image), voxels(labelmapImage))
        assert [info.name for info in infos] == ["Segment_1", "Segment_2", "Segment_3"]


def test_realValuedLabelmapFiles(scene, labelmapImage, tmp_path):
    whole = tmp_path / "mask.nii.gz"
    sitk.WriteImage(sitk.Cast(labelmapImage, sitk.sitkFloat32), str(whole))
    image, _ = segmentationToLabelmapImage(loadSegmentation(whole, scene))
    assert np.array_equal(voxels(image), voxels(labelmapImage))
    probabilities = tmp_path / "probabilities.nii.gz"
    sitk.WriteImage(sitk.Cast(labelmapImage, sitk.sitkFloat32) * 0.3, str(probabilities))
    with pytest.raises(InputError, match="not a labelmap: it has non-integer values"):
        loadSegmentation(probabilities, scene)


def test_replacingTheSegmentsOfAnExistingNode(scene, labelmapImage, referenceVolume):
    segmentation = labelmapImageToSegmentation(labelmapImage, scene, "s", referenceVolume)
    onlyOne = sitk.BinaryThreshold(labelmapImage, 2, 2, 1, 0)
    same = labelmapImageToSegmentation(onlyOne, scene, "s2", referenceVolume, segmentationNode=segmentation)
    assert same is segmentation and segmentation.GetSegmentation().GetNumberOfSegments() == 1
    image, _ = segmentationToLabelmapImage(segmentation, referenceVolume)
    assertExactImage(image, onlyOne)
