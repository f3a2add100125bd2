"""Clinician review on real segmentation nodes: the hidden AI reference, and what ``compare`` reports
after no edit, a known added slab, a known erased part, a deleted and a new segment."""

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
from VirtualBiopsy.mrml.segmentMasks import segmentMasksByName, setSegmentMask
from VirtualBiopsy.mrml.tables import tableNodeToDataFrame
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.review import (
    COLUMNS,
    PROVENANCE_ATTRIBUTE,
    REFERENCE_OF_ATTRIBUTE,
    REFERENCE_ROLE,
    ReviewLogic,
)

SPACING = (0.8, 1.2, 2.5)  # mm; one voxel is 2.4 mm³
VOXEL_ML = 0.8 * 1.2 * 2.5 / 1000


@pytest.fixture
def labels(makeImage) -> sitk.Image:
    """Tumor (label 1, 4×5×6 = 120 voxels) and Edema (label 2, 2×3×4 = 24 voxels) on an oblique, left-handed grid."""
    voxels = np.zeros((12, 14, 16), np.uint8)
    voxels[2:6, 3:8, 4:10] = 1
    voxels[8:10, 2:5, 2:6] = 2
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(makeImage(size=(16, 14, 12)))
    image.SetSpacing(SPACING)
    return image


@pytest.fixture
def aiSegmentation(scene, labels):
    node = labelmapImageToSegmentation(labels, scene, "case_ai", segmentNames=["Tumor", "Edema"])
    node.SetAttribute(PROVENANCE_ATTRIBUTE, json.dumps({"model": "demo", "sha256": "abc"}))
    return node


def _frame(table):
    return tableNodeToDataFrame(table).set_index("Segment")


def _mask(labels: sitk.Image, label: int) -> np.ndarray:
    return sitk.GetArrayFromImage(labels) == label


def _image(voxels: np.ndarray, like: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels.astype(np.uint8))
    image.CopyInformation(like)
    return image


def test_start_review_keeps_a_hidden_linked_copy(scene, aiSegmentation, labels):
    logic = ReviewLogic(scene)
    reference = logic.startReview(aiSegmentation)
    assert reference is not aiSegmentation and aiSegmentation.GetNodeReference(REFERENCE_ROLE) is reference
    assert reference.GetAttribute(REFERENCE_OF_ATTRIBUTE) == aiSegmentation.GetID()
    assert not reference.GetDisplayNode().GetVisibility() and reference.GetHideFromEditors()
    copied = segmentMasksByName(reference, labels)
    assert list(copied) == ["Tumor", "Edema"]
    assert np.array_equal(sitk.GetArrayFromImage(copied["Tumor"]) == 1, _mask(labels, 1))
    # Editing the segmentation leaves the reference as it was; a second start keeps it.
    setSegmentMask(aiSegmentation, "Tumor", _image(np.zeros_like(_mask(labels, 1)), labels))
    assert logic.startReview(aiSegmentation) is reference
    assert sitk.GetArrayFromImage(segmentMasksByName(reference, labels)["Tumor"]).sum() == 120
    provenance = json.loads(aiSegmentation.GetAttribute(PROVENANCE_ATTRIBUTE))
    assert provenance["model"] == "demo" and provenance["review"]["edited"] is False
    assert provenance["review"]["segments"] == ["Tumor", "Edema"]


def test_unchanged_segmentation_compares_perfectly(scene, aiSegmentation):
    logic = ReviewLogic(scene)
    logic.startReview(aiSegmentation)
    table = logic.compare(aiSegmentation)
    frame = _frame(table)
    assert list(tableNodeToDataFrame(table).columns) == list(COLUMNS)
    assert list(frame.index) == ["Tumor", "Edema"] and set(frame["Change"]) == {"unchanged"}
    assert (frame["DSC"] == 1.0).all() and (frame["HD95 (mm)"] == 0.0).all()
    assert (frame["Added (ml)"] == 0.0).all() and (frame["Removed (ml)"] == 0.0).all()
    assert frame.loc["Tumor", "AI (ml)"] == pytest.approx(120 * VOXEL_ML)
    assert table.GetColumnUnitLabel("Added (ml)") == "ml"
    provenance = json.loads(aiSegmentation.GetAttribute(PROVENANCE_ATTRIBUTE))
    assert provenance["review"]["edited"] is False and provenance["model"] == "demo"


def test_known_edit_reports_exact_added_and_removed_volume(scene, aiSegmentation, labels):
    logic = ReviewLogic(scene)
    logic.startReview(aiSegmentation)
    tumor = _mask(labels, 1)
    edited = tumor.copy()
    edited[6, 3:8, 4:10] = True  # a slab of 1 × 5 × 6 = 30 voxels added on top
    edited[2:6, 3:8, 4:6] = False  # 4 × 5 × 2 = 40 voxels erased
    setSegmentMask(aiSegmentation, "Tumor", _image(edited, labels))
    frame = _frame(logic.compare(aiSegmentation))
    assert frame.loc["Tumor", "Change"] == "edited" and frame.loc["Edema", "Change"] == "unchanged"
    assert frame.loc["Tumor", "Added (ml)"] == pytest.approx(30 * VOXEL_ML, rel=1e-12)
    assert frame.loc["Tumor", "Removed (ml)"] == pytest.approx(40 * VOXEL_ML, rel=1e-12)
    assert frame.loc["Tumor", "DSC"] == pytest.approx(2 * 80 / (120 + 110))
    assert frame.loc["Tumor", "HD95 (mm)"] > 0 and frame.loc["Tumor", "Reviewed (ml)"] == pytest.approx(110 * VOXEL_ML)
    review = json.loads(aiSegmentation.GetAttribute(PROVENANCE_ATTRIBUTE))["review"]
    assert review["edited"] is True and review["changes"]["Tumor"]["change"] == "edited"
    assert review["changes"]["Tumor"]["addedMl"] == pytest.approx(30 * VOXEL_ML)


def test_show_changes_marks_added_and_erased_voxels(scene, aiSegmentation, labels):
    logic = ReviewLogic(scene)
    logic.startReview(aiSegmentation)
    edited = _mask(labels, 1).copy()
    edited[6, 3:8, 4:10] = True  # 30 voxels added
    edited[2:6, 3:8, 4:6] = False  # 40 voxels erased
    setSegmentMask(aiSegmentation, "Tumor", _image(edited, labels))
    changes = logic.showChanges(aiSegmentation, "Tumor")
    masks = segmentMasksByName(changes, labels)
    assert list(masks) == ["Agreement", "False positive", "False negative"]
    assert [int(sitk.GetArrayFromImage(masks[name]).sum()) for name in masks] == [80, 30, 40]
    with pytest.raises(InputError, match="a segment named 'Liver' .segments: Tumor, Edema."):
        logic.showChanges(aiSegmentation, "Liver")


def test_deleted_and_new_segments_are_matched_by_name(scene, aiSegmentation, labels):
    logic = ReviewLogic(scene)
    logic.startReview(aiSegmentation)
    segmentation = aiSegmentation.GetSegmentation()
    segmentation.RemoveSegment(segmentation.GetSegmentIdBySegmentName("Edema"))
    newId = segmentation.AddEmptySegment("", "Necrosis", [0.5, 0.5, 0.5])
    necrosis = np.zeros_like(_mask(labels, 1))
    necrosis[3:5, 4:6, 5:7] = True  # 8 voxels
    setSegmentMask(aiSegmentation, newId, _image(necrosis, labels))
    frame = _frame(logic.compare(aiSegmentation))
    assert list(frame.index) == ["Tumor", "Edema", "Necrosis"]
    assert frame.loc["Edema", "Change"] == "removed" and frame.loc["Edema", "Removed (ml)"] == pytest.approx(
        24 * VOXEL_ML
    )
    assert frame.loc["Edema", "DSC"] == 0.0 and math.isinf(frame.loc["Edema", "HD95 (mm)"])
    assert frame.loc["Necrosis", "Change"] == "added" and frame.loc["Necrosis", "Added (ml)"] == pytest.approx(
        8 * VOXEL_ML
    )
    assert frame.loc["Tumor", "Change"] == "unchanged"


def test_compare_without_review_and_bad_nodes_are_refused(scene, aiSegmentation):
    logic = ReviewLogic(scene)
    with pytest.raises(InputError, match="startReview"):
        logic.compare(aiSegmentation)
    reference = logic.startReview(aiSegmentation)
    with pytest.raises(InputError, match="hidden AI reference"):
        logic.startReview(reference)
    with pytest.raises(InputError, match="segmentation node"):
        logic.startReview(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "volume"))
    segmentation = aiSegmentation.GetSegmentation()
    segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName("Edema")).SetName("Tumor")
    with pytest.raises(InputError, match="two segments named 'Tumor'"):
        logic.compare(aiSegmentation)
    token = CancelToken()
    token.cancel()
    segmentation.GetSegment(segmentation.GetNthSegmentID(1)).SetName("Edema")
    with pytest.raises(CancelledError):
        logic.compare(aiSegmentation, cancel=token)


def test_restart_replaces_the_reference_and_the_review_record(scene, aiSegmentation, labels):
    logic = ReviewLogic(scene)
    first = logic.startReview(aiSegmentation)
    setSegmentMask(aiSegmentation, "Tumor", _image(np.zeros_like(_mask(labels, 1)), labels))
    logic.compare(aiSegmentation)
    firstDisplay = first.GetDisplayNode().GetID()
    second = logic.startReview(aiSegmentation, restart=True)
    assert second is not first and scene.GetNodeByID(first.GetID()) is None and scene.GetNodeByID(firstDisplay) is None
    assert "changes" not in json.loads(aiSegmentation.GetAttribute(PROVENANCE_ATTRIBUTE))["review"]
    assert set(_frame(logic.compare(aiSegmentation))["Change"]) == {"unchanged"}
