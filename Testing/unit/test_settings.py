"""Stage configs: dictionary and YAML round trips, and specific errors for bad settings."""

import dataclasses

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.segment.config import SegmentationConfig

CONFIGS = [HarmonizationConfig, SegmentationConfig, ExtractionConfig, OutcomeConfig]


@pytest.mark.parametrize("configClass", CONFIGS)
def test_defaults_round_trip_through_dict(configClass):
    config = configClass()
    assert configClass.fromDict(config.toDict()) == config
    assert set(config.toDict()) == {f.name for f in dataclasses.fields(configClass)}


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(InputError, match="no setting 'binwidth'.*Did you mean 'binWidth'"):
        ExtractionConfig.fromDict({"binwidth": 5})


def test_wrong_type_names_the_field_and_value():
    with pytest.raises(InputError, match=r"SegmentationConfig.fillHoles must be of type bool, got 'yes'"):
        SegmentationConfig.fromDict({"fillHoles": "yes"})
    with pytest.raises(InputError, match="must be a number"):
        SegmentationConfig.fromDict({"threshold": "high"})


def test_integer_is_accepted_for_float_but_bool_is_not_an_int():
    assert SegmentationConfig.fromDict({"threshold": 2}).threshold == 2.0
    with pytest.raises(InputError, match="numberOfClusters must be of type int"):
        OutcomeConfig.fromDict({"numberOfClusters": True})


def test_out_of_range_and_bad_choice_are_rejected():
    with pytest.raises(InputError, match=r"numberOfClusters is 1; it must lie in \[2, 20\]"):
        OutcomeConfig.fromDict({"numberOfClusters": 1})
    with pytest.raises(InputError, match="normalization is 'wavelet'; choose one of: zscore, whitestripe"):
        HarmonizationConfig.fromDict({"normalization": "wavelet"})
    with pytest.raises(InputError, match="featureClasses"):
        ExtractionConfig.fromDict({"featureClasses": ["glcm", "texture"]})
    with pytest.raises(InputError, match="three positive spacings"):
        ExtractionConfig.fromDict({"resampledPixelSpacing": [1, 1]})


def test_optional_list_accepts_null_and_numbers():
    assert ExtractionConfig.fromDict({"resampledPixelSpacing": None}).resampledPixelSpacing is None
    assert ExtractionConfig.fromDict({"resampledPixelSpacing": [1, 1, 2]}).resampledPixelSpacing == [1.0, 1.0, 2.0]


def test_replace_validates():
    config = SegmentationConfig()
    assert config.replace(threshold=2.5).threshold == 2.5
    assert config.threshold == SegmentationConfig().threshold == 2.0
    with pytest.raises(InputError):
        config.replace(closingRadiusMm=-1.0)
