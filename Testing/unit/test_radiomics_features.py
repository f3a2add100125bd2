"""pyradiomics features of an image and mask: known answers and settings honoured."""

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.radiomicsFeatures import computeRadiomicsFeatures

from syntheticImages import headWithLesion


def test_first_order_and_voxel_volume_equal_numpy():
    image, lesion, _ = headWithLesion(size=48)
    features = computeRadiomicsFeatures(image, lesion, ExtractionConfig(featureClasses=["firstorder", "shape"]))
    values = sitk.GetArrayFromImage(image)[sitk.GetArrayFromImage(lesion) == 1].astype(float)
    assert features["original_firstorder_Mean"] == pytest.approx(values.mean(), rel=1e-6)
    assert features["original_firstorder_Maximum"] == pytest.approx(values.max(), rel=1e-6)
    assert features["original_shape_VoxelVolume"] == pytest.approx(values.size * 8.0)
    assert all(name.startswith(("original_firstorder_", "original_shape_")) for name in features)


def test_only_the_requested_classes_are_computed():
    image, lesion, _ = headWithLesion(size=48)
    features = computeRadiomicsFeatures(image, lesion, ExtractionConfig(featureClasses=["glcm"], binWidth=25.0))
    assert features and all(name.startswith("original_glcm_") for name in features)
    assert len(features) == 24


def test_empty_mask_is_refused_with_the_fix():
    image, lesion, _ = headWithLesion(size=32)
    with pytest.raises(InputError, match="mask is empty.*segment the tumour"):
        computeRadiomicsFeatures(image, lesion * 0, ExtractionConfig())
