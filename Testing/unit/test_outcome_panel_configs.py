"""The configs of the Outcome module's Survival, Classifiers, Deep learning and Patient summary panels: defaults,
round trips, the library settings they give, and refusals of bad values. Each section has its own parameter
pack, so configs may share field names (``patientColumn``, ``randomSeed``)."""

import dataclasses

import pytest

from VirtualBiopsy.errors import InputError
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


def test_the_logics_settings_are_config_fields():
    """What the survival, classifier and summary logics once took as separate arguments is in their configs."""
    fields = {configClass: {field.name for field in dataclasses.fields(configClass)} for configClass in PANEL_CONFIGS}
    assert {"timeColumn", "eventColumn", "patientColumn", "randomSeed", "l1Ratio"} <= fields[SurvivalConfig]
    assert {"patientColumn", "randomSeed", "shapBackgroundSize"} <= fields[ClassifierPanelConfig]
    assert {"patientColumn", "summaryPatient", "topContributions"} <= fields[PatientSummaryConfig]
    assert set(dataclasses.asdict(OutcomeConfig())) <= {*fields[SurvivalConfig], "numberOfClusters"}


def test_classifier_panel_gives_the_library_settings():
    panel = ClassifierPanelConfig(
        targetColumn="histology",
        targetPositiveClass="HGG",
        classifierModels=["lr", "gb"],
        folds=3,
        repeats=2,
        patientColumn="case",
        randomSeed=7,
    )
    config = panel.classificationConfig()
    assert isinstance(config, ClassificationConfig)
    assert (config.targetColumn, config.positiveClass, config.models, config.folds, config.repeats) == (
        "histology",
        "HGG",
        ["lr", "gb"],
        3,
        2,
    )
    assert (config.patientColumn, config.randomSeed) == ("case", 7)
    assert config.trees == ClassificationConfig().trees


def test_gradcam_methods_are_the_libraries():
    from VirtualBiopsy.outcome.deep.gradcam import METHODS

    assert GRADCAM_METHODS == METHODS


def test_gradcam_class_is_an_index_a_name_or_the_prediction():
    assert DeepOutcomeConfig(gradCamClass="").classIndex() is None
    assert DeepOutcomeConfig(gradCamClass=" 1 ").classIndex() == 1
    assert DeepOutcomeConfig(gradCamClass="HGG").classIndex() == "HGG"


@pytest.mark.parametrize(
    "configClass, values, message",
    [
        (SurvivalConfig, {"penalizer": -0.1}, "penalizer"),
        (SurvivalConfig, {"riskPercentile": 100.0}, "riskPercentile"),
        (SurvivalConfig, {"cindexBootstrap": -1}, "cindexBootstrap"),
        (SurvivalConfig, {"covariates": ["age", "age"]}, "twice"),
        (SurvivalConfig, {"covariates": ["age", " "]}, "empty name"),
        (SurvivalConfig, {"timeColumn": " "}, "timeColumn is empty"),
        (SurvivalConfig, {"eventColumn": "time"}, "both 'time'"),
        (SurvivalConfig, {"l1Ratio": 1.5}, "l1Ratio"),
        (SurvivalConfig, {"randomSeed": -1}, "randomSeed"),
        (SurvivalConfig, {"groupcolumn": "grade"}, "Did you mean 'groupColumn'"),
        (ClassifierPanelConfig, {"classifierModels": ["xgb"]}, "models"),
        (ClassifierPanelConfig, {"classifierModels": []}, "models"),
        (ClassifierPanelConfig, {"folds": 1}, "folds"),
        (ClassifierPanelConfig, {"repeats": 0}, "repeats"),
        (ClassifierPanelConfig, {"shapBackgroundSize": 0}, "shapBackgroundSize"),
        (ClassifierPanelConfig, {"patientColumn": ""}, "patientColumn"),
        (ClassifierPanelConfig, {"randomSeed": -1}, "randomSeed"),
        (PatientSummaryConfig, {"patientColumn": " "}, "patientColumn"),
        (DeepOutcomeConfig, {"gradCamMethod": "scorecam"}, "gradCamMethod"),
        (DeepOutcomeConfig, {"overlayOpacity": 1.5}, "overlayOpacity"),
        (DeepOutcomeConfig, {"overlayOpacity": "half"}, "overlayOpacity"),
    ],
)
def test_bad_values_are_refused(configClass, values, message):
    with pytest.raises(InputError, match=message):
        configClass.fromDict(values)
