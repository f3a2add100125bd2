"""Agreement maps as segmentations for display, and segment masks by name on a chosen grid (real nodes)."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.mrml.images import imageToVolumeNode
from VirtualBiopsy.mrml.segmentations import (
    labelmapImageToSegmentation,
    segmentationToLabelmapImage,
)
from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName, setSegmentMask
from VirtualBiopsy.segment.qa.agreement import (
    AGREEMENT_COLORS,
    AGREEMENT_NAMES,
    agreementMap,
)
from VirtualBiopsy.segment.qa.agreementSegmentation import agreementMapToSegmentation


def _masks(like: sitk.Image):
    shape = like.GetSize()[::-1]
    reference, prediction = np.zeros(shape, bool), np.zeros(shape, bool)
    reference[2:6, 2:6, 2:6] = True  # 64 voxels
    prediction[3:7, 2:6, 2:6] = True  # overlap 48, 16 false positive, 16 false negative
    images = []
    for voxels in (reference, prediction):
        image = sitk.GetImageFromArray(voxels.astype(np.uint8))
        image.CopyInformation(like)
        images.append(image)
    return images


def test_agreement_map_counts_each_category(makeImage):
    reference, prediction = _masks(makeImage(size=(8, 9, 10)))
    labels = sitk.GetArrayFromImage(agreementMap(reference, prediction))
    assert [int((labels == value).sum()) for value in (1, 2, 3)] == [48, 16, 16]
    assert agreementMap(reference, prediction).GetDirection() == reference.GetDirection()
    other = sitk.Image(reference)
    other.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="not on one grid"):
        agreementMap(reference, other)


def test_agreement_segmentation_has_three_named_coloured_segments_on_the_volume(scene, makeImage):
    volumeImage = makeImage(size=(8, 9, 10))
    volume = imageToVolumeNode(volumeImage, scene, "T1c")
    reference, prediction = _masks(volumeImage)
    agreement = agreementMap(reference, prediction)
    node = agreementMapToSegmentation(agreement, scene, "agreement", referenceVolume=volume)
    segmentation = node.GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert names == ["Agreement", "False positive", "False negative"]
    colors = [tuple(segmentation.GetNthSegment(i).GetColor()) for i in range(3)]
    assert colors == [pytest.approx(AGREEMENT_COLORS[label]) for label in (1, 2, 3)] and len(set(colors)) == 3
    exported, _infos = segmentationToLabelmapImage(node, volume)
    assert np.array_equal(sitk.GetArrayFromImage(exported), sitk.GetArrayFromImage(agreement))


def test_a_perfect_prediction_still_shows_empty_error_segments(scene, makeImage):
    reference, _prediction = _masks(makeImage(size=(8, 9, 10)))
    node = agreementMapToSegmentation(agreementMap(reference, reference), scene, "agreement")
    segmentation = node.GetSegmentation()
    assert [segmentation.GetNthSegment(i).GetName() for i in range(3)] == list(AGREEMENT_NAMES.values())
    masks = segmentMasksByName(node, reference)
    assert sitk.GetArrayFromImage(masks["Agreement"]).sum() == 64
    assert (
        sitk.GetArrayFromImage(masks["False positive"]).sum()
        == 0
        == sitk.GetArrayFromImage(masks["False negative"]).sum()
    )


def test_agreement_segmentation_refuses_other_values(scene, makeImage):
    reference, _ = _masks(makeImage(size=(8, 9, 10)))
    with pytest.raises(InputError, match=r"values \[4\]"):
        agreementMapToSegmentation(reference * 4, scene, "bad")


def test_segment_masks_by_name_round_trip_on_another_grid(scene, labelmapImage):
    node = labelmapImageToSegmentation(labelmapImage, scene, "seg", segmentNames=["a", "b", "c"])
    masks = segmentMasksByName(node)
    labels = sitk.GetArrayFromImage(labelmapImage)
    for value, name in enumerate(("a", "b", "c"), start=1):
        assert np.array_equal(sitk.GetArrayFromImage(masks[name]) == 1, labels == value)
    # On a grid with the voxel axes flipped the masks are the same physical regions.
    flipped = sitk.Flip(labelmapImage, (True, False, True))
    onFlipped = segmentMasksByName(node, flipped)
    flippedLabels = sitk.GetArrayFromImage(flipped)
    assert np.array_equal(sitk.GetArrayFromImage(onFlipped["b"]) == 1, flippedLabels == 2)
    assert onFlipped["b"].GetDirection() == pytest.approx(flipped.GetDirection())
    nodesBefore = scene.GetNumberOfNodes()
    setSegmentMask(node, "c", masks["a"])
    assert np.array_equal(sitk.GetArrayFromImage(segmentMasksByName(node)["c"]) == 1, labels == 1)
    assert scene.GetNumberOfNodes() == nodesBefore  # no helper node left behind
    with pytest.raises(InputError, match="no segment with ID or name 'd'"):
        setSegmentMask(node, "d", masks["a"])
