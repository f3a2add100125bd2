"""Channel mapping by sequence name, uncertainty maps, label-map post-processing and exact reorientation."""

import logging

import numpy as np
import pytest
import scipy.ndimage
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError, ModelError
from VirtualBiopsy.models.modelEntry import ModelInput
from VirtualBiopsy.segment.backends.channels import (
    canonicalSequence,
    mapChannels,
    sequenceFromName,
)
from VirtualBiopsy.segment.backends.orientation import (
    arrayBackOnGrid,
    imageBackOnGrid,
    reorient,
)
from VirtualBiopsy.segment.postprocess import fillHoles, keepLargestComponent
from VirtualBiopsy.segment.uncertainty import memberVariance, normalizedEntropy

INPUTS = (ModelInput("FLAIR", 1), ModelInput("T1c", 0))


def image(value: float, size=(4, 5, 6), spacing=(1.0, 1.0, 2.0)) -> sitk.Image:
    result = sitk.Image(size, sitk.sitkFloat32) + value
    result.SetSpacing(spacing)
    return result


def test_channels_follow_the_model_order_not_the_given_order():
    t1c, flair = image(1), image(2)
    forward = mapChannels({"T1c": t1c, "FLAIR": flair}, INPUTS)
    backward = mapChannels({"flair": flair, "t1-gd": t1c}, INPUTS)
    assert forward.images == (t1c, flair) and backward.images == (t1c, flair)
    assert backward.mapping == {"T1c": "t1-gd", "FLAIR": "flair"}


@pytest.mark.parametrize("alias", ["T1ce", "T1Gd", "t1 post", "T1_post", "T1C"])
def test_aliases_of_contrast_enhanced_t1(alias):
    assert canonicalSequence(alias) == canonicalSequence("T1c") == "t1c"
    assert canonicalSequence("T2w") == "t2" and canonicalSequence("T2-FLAIR") == "flair"


def test_extra_sequences_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        result = mapChannels({"T1c": image(1), "FLAIR": image(2), "ADC": image(3)}, INPUTS)
    assert result.ignored == ("ADC",)
    assert "ADC" in caplog.text


def test_a_missing_sequence_is_named_with_the_names_given():
    with pytest.raises(InputError, match=r"needs the sequence\(s\) FLAIR.*'T1c', 'T2'"):
        mapChannels({"T1c": image(1), "T2": image(2)}, INPUTS)


def test_position_alone_is_refused_for_multi_channel_models():
    with pytest.raises(InputError, match="unnamed image"):
        mapChannels({"": image(1)}, INPUTS)
    single = mapChannels({None: image(1)}, (ModelInput("FLAIR", 0),))
    assert single.mapping == {"FLAIR": ""}


def test_one_sequence_given_twice_is_refused():
    with pytest.raises(InputError, match="same sequence"):
        mapChannels({"T1c": image(1), "T1Gd": image(1), "FLAIR": image(2)}, INPUTS)


def test_inputs_on_different_grids_are_refused():
    shifted = image(2)
    shifted.SetOrigin((0.0, 0.0, 0.5))
    with pytest.raises(GeometryError, match="origin.*resample"):
        mapChannels({"T1c": image(1), "FLAIR": shifted}, INPUTS)
    with pytest.raises(GeometryError, match="size"):
        mapChannels({"T1c": image(1), "FLAIR": image(2, size=(4, 5, 7))}, INPUTS)


def test_bad_channel_indices_are_a_model_problem():
    with pytest.raises(InputError, match="0..n-1"):
        mapChannels({"T1c": image(1), "FLAIR": image(2)}, (ModelInput("T1c", 0), ModelInput("FLAIR", 2)))


def test_entropy_known_answers():
    uniform = np.full((4, 2, 2, 2), 0.25)
    certain = np.zeros((3, 2, 2, 2))
    certain[1] = 1.0
    assert np.allclose(normalizedEntropy(uniform), 1.0)
    assert np.allclose(normalizedEntropy(certain), 0.0)
    half = np.array([[[[0.5]]], [[[0.5]]], [[[0.0]]]])
    assert np.isclose(normalizedEntropy(half).item(), np.log(2) / np.log(3))


def test_entropy_refuses_logits_and_single_classes():
    with pytest.raises(InputError, match="logits"):
        normalizedEntropy(np.array([[[[3.0]]], [[[-2.0]]]]))
    with pytest.raises(InputError, match="classes"):
        normalizedEntropy(np.ones((1, 2, 2, 2)))
    with pytest.raises(InputError, match="logits"):
        normalizedEntropy(np.full((2, 1, 1, 1), np.nan))


def test_member_variance_known_answer():
    a = np.zeros((2, 1, 1, 1))
    a[0] = 1.0
    b = np.zeros((2, 1, 1, 1))
    b[1] = 1.0
    # Each class is 1 in one member, 0 in the other: variance 0.25 per class, mean 0.25.
    assert np.isclose(memberVariance([a, b]).item(), 0.25)
    assert memberVariance([a, a]).item() == 0.0
    with pytest.raises(InputError, match="at least two"):
        memberVariance([a])
    with pytest.raises(InputError, match="shapes"):
        memberVariance([a, np.zeros((3, 1, 1, 1))])


def randomLabels(seed=0, shape=(12, 13, 14)) -> sitk.Image:
    rng = np.random.default_rng(seed)
    voxels = np.zeros(shape, np.uint8)
    voxels[rng.random(shape) > 0.7] = 1
    voxels[rng.random(shape) > 0.9] = 2
    labels = sitk.GetImageFromArray(voxels)
    labels.SetSpacing((0.5, 0.7, 1.1))
    return labels


def test_largest_component_per_label_equals_scipy():
    labels = randomLabels()
    voxels = sitk.GetArrayFromImage(labels)
    result = sitk.GetArrayFromImage(keepLargestComponent(labels))
    for label in (1, 2):
        components, count = scipy.ndimage.label(voxels == label)
        sizes = np.bincount(components.ravel())[1:]
        expected = components == (np.argmax(sizes) + 1)
        assert np.array_equal(result == label, expected)
    assert sitk.GetArrayFromImage(labels).sum() == voxels.sum()  # input untouched


def test_fill_holes_per_label_equals_scipy_and_keeps_other_labels():
    voxels = np.zeros((9, 9, 9), np.uint8)
    voxels[1:8, 1:8, 1:8] = 1
    voxels[3:6, 3:6, 3:6] = 0
    voxels[4, 4, 4] = 2
    labels = sitk.GetImageFromArray(voxels)
    result = sitk.GetArrayFromImage(fillHoles(labels, [1]))
    expected = scipy.ndimage.binary_fill_holes(voxels == 1)
    assert result[4, 4, 4] == 2
    assert np.array_equal((result == 1) | (result == 2), expected)
    assert keepLargestComponent(labels).GetSpacing() == labels.GetSpacing()


def test_post_processing_refuses_real_valued_maps():
    with pytest.raises(InputError, match="integer"):
        fillHoles(image(1))


def obliqueLeftHanded(voxels: np.ndarray) -> sitk.Image:
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3) @ np.diag([1, 1, -1])
    result = sitk.GetImageFromArray(voxels)
    result.SetSpacing((0.7, 1.3, 2.9))
    result.SetOrigin((-12.3, 45.6, 7.89))
    result.SetDirection(tuple(rotation.ravel()))
    return result


@pytest.mark.parametrize("code", ["RAS", "LPS", "SRA", "pil"])
def test_reorient_and_back_is_exact_on_oblique_left_handed_grids(code):
    voxels = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    original = obliqueLeftHanded(voxels)
    oriented = reorient(original, code)
    # Every voxel keeps its physical position.
    for index in [(0, 0, 0), (6, 5, 4), (3, 1, 2)]:
        point = original.TransformIndexToPhysicalPoint(index)
        assert oriented[oriented.TransformPhysicalPointToIndex(point)] == original[index]
    back = imageBackOnGrid(oriented, oriented, original)
    assert np.array_equal(sitk.GetArrayFromImage(back), voxels)
    assert back.GetDirection() == original.GetDirection()
    stacked = np.stack([sitk.GetArrayFromImage(oriented), -sitk.GetArrayFromImage(oriented)])
    assert np.array_equal(arrayBackOnGrid(stacked, oriented, original), np.stack([voxels, -voxels]))


def test_bad_orientation_codes_are_refused():
    with pytest.raises(ModelError, match="axis code"):
        reorient(image(1), "RAR")


@pytest.mark.parametrize(
    "name, sequence",
    [
        ("VB0001_FLAIR", "FLAIR"),
        ("VB0001_T1c", "T1c"),
        ("flair", "FLAIR"),
        ("T1 Gd", "T1c"),
        ("t1ce brain", "T1c"),
        ("T2-FLAIR", "FLAIR"),
        ("pat_T2", None),
        ("FLAIR_T1c", None),
        ("", None),
    ],
)
def test_sequence_is_recognised_from_a_volume_name(name, sequence):
    inputs = [ModelInput("FLAIR", 0), ModelInput("T1c", 1)]
    assert sequenceFromName(name, inputs) == sequence
