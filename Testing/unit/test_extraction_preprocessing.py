"""A preset's ``preprocessing:`` section runs (IBSI preprocessing) before pyradiomics, is
recorded in the provenance, and cropping after it changes nothing."""

import logging
import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from syntheticImages import headWithLesion

from VirtualBiopsy.extract.extraction import extractFeatures
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

preprocessingModule = pytest.importorskip("VirtualBiopsy.extract.preprocessing")

PRESET = {
    "description": "test",
    "preprocessing": {"roundIntensities": True, "resegmentationRange": [100.0, None]},
    "pyradiomics": {"featureClass": {"firstorder": None, "glcm": None}, "setting": {"binWidth": 25}},
}


@pytest.fixture(scope="module")
def case():
    image, lesion, _head = headWithLesion(size=32)
    return image, lesion


def test_preprocessing_runs_before_pyradiomics(case):
    featureextractor = pytest.importorskip("radiomics.featureextractor")
    image, lesion = case
    settings = RadiomicsSettings.fromDict(PRESET, name="rounded")
    assert isinstance(settings.preprocessing, preprocessingModule.RadiomicsPreprocessing)
    result = extractFeatures(image, lesion, settings)

    expectedImage, expectedMask, record = preprocessingModule.preprocess(image, lesion, settings.preprocessing)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        extractor = featureextractor.RadiomicsFeatureExtractor(settings.pyradiomics)
    expected = extractor.execute(expectedImage, expectedMask)
    for name, value in result.features.items():
        assert value == pytest.approx(float(expected[name]), rel=1e-12), name
    assert result.provenance["preprocessing"]["image"] == record and record["applied"]
    # rounding and re-segmentation really happened: integer intensities, no voxel below 100
    assert result.features["original_firstorder_Minimum"] >= 100.0
    roi = sitk.GetArrayFromImage(image)[sitk.GetArrayFromImage(lesion) == 1]
    assert result.features["original_firstorder_Minimum"] == np.round(roi[roi >= 100]).min()


def test_resampling_preprocessing_then_cropped_log_equals_uncropped(case):
    image, lesion = case
    settings = RadiomicsSettings.fromDict(
        {
            "preprocessing": {"resampledSpacingMm": [1.5, 1.5, 1.5], "imageInterpolator": "linear"},
            "pyradiomics": {
                "imageType": {"LoG": {"sigma": [1.0]}},
                "featureClass": {"firstorder": None},
                "setting": {"binWidth": 25},
            },
        }
    )
    cropped = extractFeatures(image, lesion, settings)
    whole = extractFeatures(image, lesion, settings, crop=False)
    box = cropped.provenance["cropBox"]["image"]
    assert box["marginVoxels"] == [11, 11, 11]  # 16 sigma on the resampled 1.5 mm grid
    resampledSize = cropped.provenance["preprocessing"]["image"]["steps"][0]
    assert np.prod(box["size"]) < 43**3, (box, resampledSize)  # it did crop the resampled image
    for name, value in whole.features.items():
        assert cropped.features[name] == pytest.approx(value, rel=1e-6), name
