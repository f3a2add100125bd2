"""extractFeatures on hostile inputs: each check fails with its own clear error before any
computation, and valid cases give features, diagnostics, undefined features and provenance."""

import math
import pickle

import numpy as np
import pytest
import SimpleITK as sitk
from syntheticImages import headWithLesion

from VirtualBiopsy.errors import GeometryError, InputError
from VirtualBiopsy.extract.extraction import ExtractionResult, extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings
from VirtualBiopsy.provenance import imageSha256

SETTINGS = RadiomicsSettings.fromPreset("mr-default").replaced(binWidth=25.0)


@pytest.fixture(scope="module")
def case():
    image, lesion, head = headWithLesion(size=32)
    labels = sitk.Cast(lesion, sitk.sitkUInt8) + sitk.Cast(head, sitk.sitkUInt8) * 0
    return image, labels


def withVoxels(reference: sitk.Image, voxels: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(voxels)
    image.CopyInformation(reference)
    return image


def test_features_equal_numpy_and_are_separated_from_diagnostics(case):
    image, mask = case
    result = extractFeatures(image, mask, SETTINGS)
    values = sitk.GetArrayFromImage(image)[sitk.GetArrayFromImage(mask) == 1].astype(float)
    assert result.features["original_firstorder_Mean"] == pytest.approx(values.mean(), rel=1e-6)
    assert result.features["original_firstorder_Maximum"] == pytest.approx(values.max(), rel=1e-6)
    assert result.features["original_shape_VoxelVolume"] == pytest.approx(values.size * 8.0)
    assert len(result.features) == 107 and result.undefined == []
    assert all(math.isfinite(value) for value in result.features.values())
    assert result.diagnostics and all(name.startswith("diagnostics_") for name in result.diagnostics)
    assert not any(name.startswith("diagnostics_") for name in result.features)
    provenance = result.provenance
    assert provenance["settingsSha256"] == SETTINGS.sha256() and provenance["versions"]["pyradiomics"] == "3.0.1"
    assert provenance["images"]["image"]["sha256"] == imageSha256(image)
    assert provenance["mask"]["image"]["sha256"] == imageSha256(mask) and provenance["label"] == 1
    assert provenance["cropBox"]["image"]["size"][0] < image.GetSize()[0]  # cropped to the lesion
    again = pickle.loads(pickle.dumps(result))  # workers send results back
    assert isinstance(again, ExtractionResult) and again.features == result.features


def test_hash_depends_on_voxels_and_geometry_not_on_the_object(case):
    image, _ = case
    copy = sitk.Image(image)
    assert imageSha256(copy) == imageSha256(image)
    copy.SetOrigin((0.0, 0.0, 0.0))
    assert imageSha256(copy) != imageSha256(image)
    assert imageSha256(sitk.Cast(image, sitk.sitkFloat64)) != imageSha256(image)


def test_sequences_are_prefixed_and_shape_comes_once(case):
    image, mask = case
    result = extractFeatures({"T1c": image, "FLAIR": image * 2}, mask, SETTINGS)
    assert "T1c_original_shape_VoxelVolume" in result.features
    assert not any(name.startswith("FLAIR_original_shape") for name in result.features)
    assert result.features["FLAIR_original_firstorder_Mean"] == pytest.approx(
        2 * result.features["T1c_original_firstorder_Mean"]
    )
    assert len(result.features) == 107 + 93
    assert set(result.provenance["images"]) == {"T1c", "FLAIR"}
    single = extractFeatures({"T1c": image}, mask, SETTINGS)
    assert all(name.startswith("T1c_") for name in single.features)
    assert set(extractFeatures({None: image}, mask, SETTINGS).features) == set(
        extractFeatures({"": image}, mask, SETTINGS).features
    )


def test_constant_roi_reports_texture_as_undefined(case):
    image, mask = case
    voxels = sitk.GetArrayFromImage(image)
    voxels[sitk.GetArrayFromImage(mask) == 1] = 123.0
    result = extractFeatures(withVoxels(image, voxels), mask, SETTINGS)
    texture = [name for name in result.undefined if name.split("_")[1] in ("glcm", "glrlm", "glszm", "gldm", "ngtdm")]
    assert len(texture) == 75 and len(result.undefined) == 75
    assert not any(name.split("_")[1] in ("glcm", "glrlm", "glszm", "gldm", "ngtdm") for name in result.features)
    assert result.features["original_firstorder_Mean"] == 123.0
    assert "constant ROI" in result.reasons["original_glcm_Contrast"]


def test_label_is_chosen_and_absent_labels_are_listed(case):
    image, mask = case
    labels = sitk.GetArrayFromImage(mask).astype(np.uint16) * 7
    labels[0:2, 0:2, 0:2] = 3
    labelled = withVoxels(image, labels)
    assert extractFeatures(image, labelled, SETTINGS, label=7).features == pytest.approx(
        extractFeatures(image, mask, SETTINGS).features, rel=1e-12
    )
    with pytest.raises(InputError, match=r"Label 1 is not in the mask; labels present: 3, 7"):
        extractFeatures(image, labelled, SETTINGS, label=1)
    with pytest.raises(InputError, match="positive integer"):
        extractFeatures(image, labelled, SETTINGS, label=0)


def test_empty_mask_and_too_few_voxels(case):
    image, mask = case
    with pytest.raises(InputError, match=r"mask is empty \(every voxel is 0\)"):
        extractFeatures(image, mask * 0, SETTINGS)
    count = int(sitk.GetArrayFromImage(mask).sum())
    with pytest.raises(InputError, match=rf"covers {count} voxels, fewer than the minimum of {count + 1}"):
        extractFeatures(image, mask, SETTINGS, minimumRoiVoxels=count + 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_the_roi(case, bad):
    image, mask = case
    voxels = sitk.GetArrayFromImage(image)
    inside = np.argwhere(sitk.GetArrayFromImage(mask) == 1)[0]
    voxels[tuple(inside)] = bad
    with pytest.raises(
        InputError,
        match=r"1 NaN or infinite voxel\(s\) \(\d NaN, \d infinite\) inside the ROI, the first at index \(i, j, k\)",
    ):
        extractFeatures(withVoxels(image, voxels), mask, SETTINGS)
    outside = sitk.GetArrayFromImage(image)
    outside[0, 0, 0] = bad  # outside the ROI (and outside the crop): harmless
    assert extractFeatures(withVoxels(image, outside), mask, SETTINGS).features


def test_soft_masks_are_refused_and_integer_valued_float_masks_accepted(case):
    image, mask = case
    soft = sitk.Cast(mask, sitk.sitkFloat32) * 0.8
    with pytest.raises(InputError, match=r"soft \(non-integer\) mask.*Threshold it"):
        extractFeatures(image, soft, SETTINGS)
    asFloat = extractFeatures(image, sitk.Cast(mask, sitk.sitkFloat32), SETTINGS)
    assert asFloat.features == extractFeatures(image, mask, SETTINGS).features


def test_mask_on_another_grid_is_refused_or_resampled_when_asked(case):
    image, mask = case
    shifted = sitk.Image(mask)
    shifted.SetOrigin(tuple(value + 1.0 for value in mask.GetOrigin()))
    with pytest.raises(GeometryError, match=r"does not lie on the grid of the image: origin .*resampleMaskToImage"):
        extractFeatures(image, shifted, SETTINGS)
    coarse = sitk.Resample(
        mask,
        [16, 16, 16],
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        mask.GetOrigin(),
        [4.0, 4.0, 4.0],
        mask.GetDirection(),
        0,
        mask.GetPixelID(),
    )
    with pytest.raises(GeometryError, match=r"size \(32, 32, 32\) \(image\) vs \(16, 16, 16\) \(mask\)"):
        extractFeatures(image, coarse, SETTINGS)
    result = extractFeatures(image, coarse, SETTINGS, resampleMaskToImage=True)
    assert result.provenance["maskResampledToImage"] == ["image"]
    assert result.features["original_shape_VoxelVolume"] > 0


def test_4d_and_vector_inputs(case):
    image, mask = case
    series = sitk.JoinSeries([image, image])
    with pytest.raises(GeometryError, match=r"image is 4D"):
        extractFeatures(series, mask, SETTINGS)
    with pytest.raises(GeometryError, match=r"mask is 4D"):
        extractFeatures(image, sitk.JoinSeries([mask, mask]), SETTINGS)
    vector = sitk.Compose(image, image)
    with pytest.raises(GeometryError, match=r"2 components per voxel"):
        extractFeatures({"T1c": vector}, mask, SETTINGS)
    with pytest.raises(InputError, match="must be a SimpleITK.Image"):
        extractFeatures({"T1c": sitk.GetArrayFromImage(image)}, mask, SETTINGS)


def test_bad_names_masks_and_settings(case):
    image, mask = case
    with pytest.raises(InputError, match="one has no name"):
        extractFeatures({None: image, "FLAIR": image}, mask, SETTINGS)
    with pytest.raises(InputError, match="Sequence name 'T1_c'"):
        extractFeatures({"T1_c": image}, mask, SETTINGS)
    with pytest.raises(InputError, match="one mask per image"):
        extractFeatures({"T1c": image, "FLAIR": image}, {"T1c": mask}, SETTINGS)
    with pytest.raises(InputError, match="must be a RadiomicsSettings"):
        extractFeatures(image, mask, {"setting": {"binWidth": 25}})
    with pytest.raises(InputError, match="non-empty"):
        extractFeatures({}, mask, SETTINGS)


def test_pyradiomics_refusal_is_an_input_error(case):
    image, mask = case
    line = np.zeros(sitk.GetArrayFromImage(mask).shape, np.uint8)
    line[16, 16, 10:22] = 1  # one-dimensional: pyradiomics needs at least two
    with pytest.raises(InputError, match=r"pyradiomics could not extract features.*too few dimensions"):
        extractFeatures(image, withVoxels(image, line), SETTINGS)
