"""The configs of the Outcome module's Survival, Classifiers and Deep learning panels: defaults,
round trips, the library settings they give, and refusals of bad values."""

import dataclasses

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.exploration.config import ExplorationConfig
from VirtualBiopsy.outcome.classification.config import ClassificationConfig
from VirtualBiopsy.outcome.classification.panelConfig import ClassifierPanelConfig
from VirtualBiopsy.outcome.config import OutcomeConfig
from VirtualBiopsy.outcome.deep.config import GRADCAM_METHODS, DeepOutcomeConfig
from VirtualBiopsy.outcome.patientSummaryConfig import PatientSummaryConfig
from VirtualBiopsy.outcome.survivalConfig import SurvivalConfig

PANEL_CONFIGS = [SurvivalConfig, ClassifierPanelConfig, DeepOutcomeConfig, PatientSummaryConfig]


@pytest.mark.parametrize("configClass", PANEL_CONFIGS)
def test_defaults_validate_and_round_trip(configClass):
    config = configClass()
    config.validate()
    assert configClass.fromDict(config.toDict()) == config


def test_no_field_name_is_shared_with_the_modules_other_configs():
    configs = [ExtractionConfig, OutcomeConfig, ExplorationConfig, *PANEL_CONFIGS]
    names = [field.name for configClass in configs for field in dataclasses.fields(configClass)]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})


def test_classifier_panel_gives_the_library_settings():
    panel = ClassifierPanelConfig(targetColumn="histology", targetPositiveClass="HGG", classifierModels=["lr", "gb"],
                                  folds=3, repeats=2)
    config = panel.classificationConfig(patientColumn="case", randomSeed=7)
    assert isinstance(config, ClassificationConfig)
    assert (config.targetColumn, config.positiveClass, config.models, config.folds, config.repeats) == (
        "histology", "HGG", ["lr", "gb"], 3, 2)
    assert (config.patientColumn, config.randomSeed) == ("case", 7)
    assert config.trees == ClassificationConfig().trees


def test_gradcam_methods_are_the_libraries():
    from VirtualBiopsy.outcome.deep.gradcam import METHODS

    assert GRADCAM_METHODS == METHODS


def test_gradcam_class_is_an_index_a_name_or_the_prediction():
    assert DeepOutcomeConfig(gradCamClass="").classIndex() is None
    assert DeepOutcomeConfig(gradCamClass=" 1 ").classIndex() == 1
    assert DeepOutcomeConfig(gradCamClass="HGG").classIndex() == "HGG"


@pytest.mark.parametrize("configClass, values, message", [
    (SurvivalConfig, {"penalizer": -0.1}, "penalizer"),
    (SurvivalConfig, {"riskPercentile": 100.0}, "riskPercentile"),
    (SurvivalConfig, {"cindexBootstrap": -1}, "cindexBootstrap"),
    (SurvivalConfig, {"covariates": ["age", "age"]}, "twice"),
    (SurvivalConfig, {"covariates": ["age", " "]}, "empty name"),
    (SurvivalConfig, {"timeColumn": "t"}, "no setting 'timeColumn'"),
    (ClassifierPanelConfig, {"classifierModels": ["xgb"]}, "models"),
    (ClassifierPanelConfig, {"classifierModels": []}, "models"),
    (ClassifierPanelConfig, {"folds": 1}, "folds"),
    (ClassifierPanelConfig, {"repeats": 0}, "repeats"),
    (ClassifierPanelConfig, {"shapBackgroundSize": 0}, "shapBackgroundSize"),
    (DeepOutcomeConfig, {"gradCamMethod": "scorecam"}, "gradCamMethod"),
    (DeepOutcomeConfig, {"overlayOpacity": 1.5}, "overlayOpacity"),
    (DeepOutcomeConfig, {"overlayOpacity": "half"}, "overlayOpacity"),
])
def test_bad_values_are_refused(configClass, values, message):
    with pytest.raises(InputError, match=message):
        configClass.fromDict(values)
