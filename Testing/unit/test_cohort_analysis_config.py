"""Settings of the demo's cohort analyses: defaults, the shipped preset, and every check."""

import pandas as pd
import pytest

from VirtualBiopsy.cohort.analysisConfig import (
    CoxAnalysisConfig,
    DeepLearningConfig,
    ExplanationConfig,
)
from VirtualBiopsy.cohort.deepAnalysis import gradCamPatients
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.cohort.pipelineSections import ANALYSES
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.outcome.deep.training import TrainingSettings


def test_demo_preset_runs_every_analysis_with_demo_sized_settings():
    config = PipelineConfig.preset("demo").analyses
    assert config.active() == list(ANALYSES)
    assert config.cox.covariates == ["age", "cluster"] and config.cox.penalizer > 0
    assert config.classification.models == ["lr", "rf"]
    assert (config.classification.folds, config.classification.repeats) == (5, 3)
    assert config.explanation.model == "lr"
    assert (config.deepLearning.cropSize, config.deepLearning.cropSpacing) == (32, 3.0)


def test_training_arguments_are_valid_training_settings():
    arguments = DeepLearningConfig().trainingArguments()
    crop = {"sequences", "cropSize", "cropSpacing", "device"}
    settings = TrainingSettings.fromDict({key: value for key, value in arguments.items() if key not in crop})
    assert (settings.epochs, settings.seed) == (DeepLearningConfig().epochs, DeepLearningConfig().randomSeed)


@pytest.mark.parametrize(
    "section, values, message",
    [
        ("classification", {"enabled": False}, "explanation: enabled without analyses.classification"),
        ("cox", {"enabled": "yes"}, "analyses.cox.enabled: must be true or false"),
        ("cox", {"covariates": []}, "at least one"),
        ("cox", {"covariates": ["age", "age"]}, "name each column once"),
        ("cox", {"penalizer": -0.1}, "penalizer is -0.1"),
        ("cox", {"riskPercentile": 100.0}, "riskPercentile"),
        ("explanation", {"model": "xgboost"}, "choose one of: best, lr"),
        ("explanation", {"backgroundSize": 0}, "backgroundSize"),
        ("deepLearning", {"cropSize": 8}, "cropSize is 8"),
        ("deepLearning", {"sequences": ["T1c", "T1c"]}, "list each sequence once"),
        ("deepLearning", {"network": "UNet"}, "choose one of: DenseNet, ResNet"),
        ("deepLearning", {"gradCamMethod": "saliency"}, "gradcam, gradcampp"),
        ("deepLearning", {"epochs": 0}, "epochs is 0"),
        ("deepLearning", {"cropSpacing": "3 mm"}, "must be a number"),
    ],
)
def test_bad_settings_are_refused_with_the_value(section, values, message):
    with pytest.raises(InputError, match=message) as raised:
        PipelineConfig.fromDict({"analyses": {section: values}})
    assert str(raised.value).startswith("analyses.")


def test_explained_model_must_be_compared():
    with pytest.raises(InputError, match="explanation.model: is 'svm' but analyses.classification.models is"):
        PipelineConfig.fromDict(
            {"analyses": {"classification": {"models": ["lr", "rf"]}, "explanation": {"model": "svm"}}}
        )
    assert PipelineConfig.fromDict(
        {"analyses": {"classification": {"models": ["rf"]}, "explanation": {"model": "best"}}}
    )
    # without the explanation, the explained model does not matter
    PipelineConfig.fromDict({"analyses": {"explanation": {"enabled": False}, "classification": {"models": ["rf"]}}})


def test_defaults_validate():
    for config in (CoxAnalysisConfig(), ExplanationConfig(), DeepLearningConfig()):
        assert type(config).fromDict(config.toDict()) == config


def test_grad_cam_patients_first_of_each_class_or_named():
    clinical = pd.DataFrame(
        {"grade": ["LGG", "LGG", "HGG", "LGG", "HGG"]}, index=pd.Index(["p1", "p2", "p3", "p4", "p5"], name="patient")
    )
    assert gradCamPatients(clinical, DeepLearningConfig()) == ["p1", "p3"]
    assert gradCamPatients(clinical, DeepLearningConfig(gradCamPatients=["p5"])) == ["p5"]
    with pytest.raises(InputError, match="names patient\\(s\\) p9 the run did not process"):
        gradCamPatients(clinical, DeepLearningConfig(gradCamPatients=["p9"]))
    with pytest.raises(InputError, match="no column 'histology'"):
        gradCamPatients(clinical, DeepLearningConfig(targetColumn="histology"))
