"""Tumour-centred crops: grid, sampling, z-score, the map's way back, and refusals of bad input."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.outcome.deep.cohortData import readTargets
from VirtualBiopsy.outcome.deep.crops import (
    cropGrid,
    cropMapToImage,
    insideCrop,
    makeCrop,
    tumourCentre,
)
from VirtualBiopsy.outcome.deep.training import splitPatients


def obliqueLeftHanded() -> tuple[float, ...]:
    rotation = np.array(sitk.VersorTransform((0.3, 0.5, -0.2), 0.7).GetMatrix()).reshape(3, 3)
    return tuple((rotation @ np.diag([1.0, 1.0, -1.0])).ravel())


def patientImage(voxels: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing((1.1, 0.9, 2.3))
    image.SetOrigin((-12.0, 30.0, 4.0))
    image.SetDirection(obliqueLeftHanded())
    return image


def physicalPoints(image: sitk.Image) -> np.ndarray:
    """(3, k, j, i) LPS position of every voxel centre, computed from the grid by hand."""
    k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in image.GetSize()[::-1]), indexing="ij")
    index = np.stack([i, j, k]).reshape(3, -1) * np.array(image.GetSpacing())[:, None]
    points = np.array(image.GetDirection()).reshape(3, 3) @ index + np.array(image.GetOrigin())[:, None]
    return points.reshape(3, *image.GetSize()[::-1])


@pytest.fixture
def case():
    """A left-handed oblique 'head' (ball, zero background) whose intensity is linear in position, and a tumour box."""
    shape = (30, 36, 40)
    reference = patientImage(np.zeros(shape, np.float32))
    points = physicalPoints(reference)
    centreIndex = np.array([20.0, 18.0, 15.0])
    centre = np.array(reference.TransformContinuousIndexToPhysicalPoint(centreIndex))
    head = np.linalg.norm(points - centre[:, None, None, None], axis=0) <= 22.0
    linear = 100.0 + 2.0 * points[0] - 1.5 * points[1] + 0.5 * points[2]
    t1c = patientImage(np.where(head, linear, 0.0).astype(np.float32))
    flair = patientImage(np.where(head, 2 * linear + 7, 0.0).astype(np.float32))
    tumour = np.zeros(shape, np.uint8)
    tumour[13:18, 16:21, 18:23] = 1
    return {"T1c": t1c, "FLAIR": flair}, patientImage(tumour), head, linear


def test_tumour_centre_is_the_physical_centroid(case):
    _images, mask, _head, _linear = case
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(mask))
    expected = mask.TransformContinuousIndexToPhysicalPoint((i.mean(), j.mean(), k.mean()))
    assert tumourCentre(mask) == pytest.approx(expected, abs=1e-9)


def test_crop_grid_is_centred_and_aligned_with_the_image(case):
    images, mask, _head, _linear = case
    grid = cropGrid(images["T1c"], tumourCentre(mask), 9, 2.5)
    reference = grid.referenceImage()
    assert grid.direction == images["T1c"].GetDirection() and grid.spacing == (2.5,) * 3
    assert reference.TransformContinuousIndexToPhysicalPoint((4.0, 4.0, 4.0)) == pytest.approx(tumourCentre(mask))


def test_a_map_of_ones_goes_back_to_exactly_the_crops_region(case):
    images, mask, _head, _linear = case
    grid = cropGrid(images["T1c"], tumourCentre(mask), 8, 3.0)
    back = sitk.GetArrayFromImage(cropMapToImage(np.ones((8, 8, 8)), grid, images["T1c"]))
    # The crop's region, from its definition: continuous crop index within [-0.5, 7.5) on every axis.
    points = physicalPoints(images["T1c"]).reshape(3, -1)
    continuous = np.linalg.solve(np.array(grid.direction).reshape(3, 3), points - np.array(grid.origin)[:, None]) / 3.0
    region = np.all((continuous >= -0.5) & (continuous < 7.5), axis=0).reshape(back.shape)
    assert region.sum() > 500
    assert np.array_equal(back == 1.0, region) and np.array_equal(back == 0.0, ~region)
    assert np.array_equal(insideCrop(grid, images["T1c"]), region)


def test_a_linear_map_comes_back_exactly_where_it_is_interpolated(case):
    images, mask, _head, _linear = case
    grid = cropGrid(images["T1c"], tumourCentre(mask), 10, 2.0)
    cropPoints = physicalPoints(grid.referenceImage())
    function = lambda p: 3.0 * p[0] - 2.0 * p[1] + p[2] + 50.0  # noqa: E731
    back = sitk.GetArrayFromImage(cropMapToImage(function(cropPoints), grid, images["T1c"]))
    points = physicalPoints(images["T1c"])
    continuous = (
        np.linalg.solve(np.array(grid.direction).reshape(3, 3), points.reshape(3, -1) - np.array(grid.origin)[:, None])
        / 2.0
    )
    interior = np.all((continuous >= 0) & (continuous <= 9), axis=0).reshape(back.shape)
    assert interior.sum() > 500
    np.testing.assert_allclose(back[interior], function(points)[interior], rtol=0, atol=1e-3)


def test_crop_channels_are_the_head_z_scores_sampled_on_the_crop_grid(case):
    images, mask, head, linear = case
    crop = makeCrop(images, mask, ["FLAIR", "T1c"], 8, 2.0)
    assert crop.array.shape == (2, 8, 8, 8) and crop.array.dtype == np.float32 and crop.channels == ("FLAIR", "T1c")
    cropPoints = physicalPoints(crop.grid.referenceImage())
    for channel, values in enumerate((2 * linear[head] + 7, linear[head])):
        mean, sd = values.astype(np.float32).mean(dtype=np.float64), values.astype(np.float32).std(dtype=np.float64)
        scale = 2.0 if channel == 0 else 1.0
        offset = 7.0 if channel == 0 else 0.0
        intensity = 100.0 + 2.0 * cropPoints[0] - 1.5 * cropPoints[1] + 0.5 * cropPoints[2]
        expected = (scale * intensity + offset - mean) / sd
        np.testing.assert_allclose(crop.array[channel], expected, rtol=0, atol=2e-3)


def test_sequences_are_found_ignoring_case_and_missing_ones_are_named(case):
    images, mask, _head, _linear = case
    assert makeCrop(images, mask, ["t1c"], 6, 2.0).array.shape == (1, 6, 6, 6)
    with pytest.raises(InputError, match="Sequence 'T2' is needed.*given: T1c, FLAIR"):
        makeCrop(images, mask, ["T1c", "T2"], 6, 2.0)
    with pytest.raises(InputError, match="No sequences"):
        makeCrop(images, mask, [], 6, 2.0)


def test_hostile_masks_and_grids_are_refused(case):
    images, mask, _head, _linear = case
    with pytest.raises(InputError, match="tumour mask is empty"):
        makeCrop(images, patientImage(np.zeros((30, 36, 40), np.uint8)), ["T1c"], 6, 2.0)
    shifted = sitk.Image(mask)
    shifted.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(GeometryError, match="tumour mask"):
        makeCrop(images, shifted, ["T1c"], 6, 2.0)
    other = sitk.Image(images["FLAIR"])
    other.SetSpacing((1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="image 'FLAIR'"):
        makeCrop({"T1c": images["T1c"], "FLAIR": other}, mask, ["T1c", "FLAIR"], 6, 2.0)
    constant = patientImage(np.full((30, 36, 40), 5.0, np.float32))
    with pytest.raises(InputError, match="Sequence 'T1c'.*constant"):
        makeCrop({"T1c": constant}, mask, ["T1c"], 6, 2.0)
    for size, spacing in ((3, 2.0), (2.5, 2.0), (True, 2.0), (8, 0.0), (8, float("nan"))):
        with pytest.raises(InputError, match="Crop s"):
            makeCrop(images, mask, ["T1c"], size, spacing)
    grid = cropGrid(images["T1c"], tumourCentre(mask), 6, 2.0)
    with pytest.raises(GeometryError, match="shape"):
        cropMapToImage(np.ones((6, 6, 5)), grid, images["T1c"])


def test_targets_are_read_strictly(tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_text("patient,grade,site,n\nA,HGG,X,1\nB,LGG,X,2\nC,HGG,Y,\nD,LGG,Z,3\n")
    labels, classes = readTargets(path, "grade", ["B", "A", "C"])
    assert classes == ["HGG", "LGG"] and labels.tolist() == [1, 0, 0]
    with pytest.raises(InputError, match="no column 'age'.*patient, grade, site, n"):
        readTargets(path, "age", ["A"])
    with pytest.raises(InputError, match="3 class"):
        readTargets(path, "site", ["A", "C", "D"])
    with pytest.raises(InputError, match="1 class"):
        readTargets(path, "grade", ["A", "C"])
    with pytest.raises(InputError, match="empty for patient.*C"):
        readTargets(path, "n", ["A", "B", "C"])
    with pytest.raises(InputError, match="E of the manifest are not in"):
        readTargets(path, "grade", ["A", "E"])
    with pytest.raises(InputError, match="not found"):
        readTargets(tmp_path / "absent.csv", "grade", ["A"])


def test_validation_split_is_stratified_by_patient_and_seeded():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    patients = [f"P{i}" for i in range(12)]
    training, validation = splitPatients(patients, labels, 0.25, seed=3)
    assert sorted(training + validation) == list(range(12)) and not set(training) & set(validation)
    assert sorted(labels[validation].tolist()) == [0, 1, 1]
    assert splitPatients(patients, labels, 0.25, seed=3) == (training, validation)
    with pytest.raises(InputError, match="Class 1 has 1 patient"):
        splitPatients(patients[:5], labels[:5], 0.25, seed=0)
