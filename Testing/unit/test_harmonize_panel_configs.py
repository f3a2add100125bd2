"""The settings of the Harmonization panel's actions: defaults equal the library functions' defaults,
the mapped arguments are accepted by those functions, the logics share one calling convention (nodes and
a config in, ``progress`` and ``cancel`` by keyword), and bad values are refused with messages that name
the setting and the value."""

import inspect
import math

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.biasField import correctBiasField
from VirtualBiopsy.harmonize.combat.cohortTables import fitTables, harmonizeTable
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.combatLogic import ComBatLogic
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.denoising import denoiseImage
from VirtualBiopsy.harmonize.logic import HarmonizationLogic
from VirtualBiopsy.harmonize.preprocessingConfig import (
    PreprocessingConfig,
    RegistrationConfig,
)
from VirtualBiopsy.harmonize.preprocessingLogic import (
    PreprocessingLogic,
    RegistrationLogic,
)
from VirtualBiopsy.harmonize.registration import RegistrationSettings, registerImages
from VirtualBiopsy.harmonize.resampling import resampleImage
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
from VirtualBiopsy.harmonize.styleTransfer.logic import StyleTransferLogic

CONFIGS = [PreprocessingConfig, RegistrationConfig, ComBatConfig, StyleTransferConfig]


def defaults(function) -> dict:
    """``{parameter: default}`` of a function's keyword parameters that have one."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def bindable(function, arguments: dict, *positional) -> None:
    """Raise TypeError unless ``function(*positional, **arguments)`` matches its signature."""
    inspect.signature(function).bind(*positional, **arguments)


@pytest.mark.parametrize("configClass", CONFIGS)
def test_defaults_round_trip_and_validate(configClass):
    config = configClass()
    assert configClass.fromDict(config.toDict()) == config
    assert configClass.fromDict({}) == config


#: Each harmonize logic method: its node parameters (before the config), the config class, and the nodes after
#: the config (outputs first, positional; inputs that only some settings use, keyword-only).
LOGIC_CALLS = [
    (
        PreprocessingLogic.correctBiasField,
        ["volumeNode"],
        PreprocessingConfig,
        ["outputVolume"],
        ["mask", "biasFieldVolume"],
    ),
    (PreprocessingLogic.denoise, ["volumeNode"], PreprocessingConfig, ["outputVolume"], []),
    (PreprocessingLogic.resample, ["volumeNode"], PreprocessingConfig, ["outputVolume"], ["reference"]),
    (RegistrationLogic.run, ["fixedVolume", "movingVolume"], RegistrationConfig, ["outputVolume"], ["mask"]),
    (HarmonizationLogic.run, ["inputVolume"], HarmonizationConfig, ["outputVolume"], ["mask", "reference"]),
    (ComBatLogic.fit, ["featureTableNode", "clinicalTableNode"], ComBatConfig, [], []),
    (ComBatLogic.apply, ["model", "featureTableNode", "clinicalTableNode"], ComBatConfig, ["outputTableNode"], []),
    (ComBatLogic.harmonize, ["featureTableNode", "clinicalTableNode"], ComBatConfig, ["outputTableNode"], []),
    (StyleTransferLogic.run, ["volumeNode"], StyleTransferConfig, ["outputVolume"], []),
]


@pytest.mark.parametrize(
    ("method", "nodes", "configClass", "outputs", "keywordNodes"),
    LOGIC_CALLS,
    ids=[call[0].__qualname__ for call in LOGIC_CALLS],
)
def test_logics_take_nodes_a_config_progress_and_cancel(method, nodes, configClass, outputs, keywordNodes):
    """``method(self, *nodes, config, *outputs, *, *keywordNodes, progress=None, cancel=None)``: every setting is
    in the config; no other parameter."""
    parameters = inspect.signature(method).parameters
    positional = [name for name, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == ["self", *nodes, "config", *outputs]
    assert all(parameters[name].default is None for name in outputs)
    keywords = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords == [*keywordNodes, "progress", "cancel"]
    assert all(parameters[name].default is None for name in keywords)
    assert not [p for p in parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert parameters["config"].annotation in (configClass, configClass.__name__)


def test_preprocessing_defaults_equal_the_library_functions():
    config = PreprocessingConfig()
    n4 = defaults(correctBiasField)
    assert config.biasFieldArguments() == {
        "shrinkFactor": n4["shrinkFactor"],
        "iterations": list(n4["iterations"]),
        "convergenceThreshold": n4["convergenceThreshold"],
    }
    assert config.denoisingArguments() == {"method": defaults(denoiseImage)["method"]}
    resample = defaults(resampleImage)
    assert config.resamplingArguments() == {key: resample[key] for key in ("preset", "spacingMm", "interpolator")}
    bindable(correctBiasField, config.biasFieldArguments(), "image")
    bindable(denoiseImage, config.denoisingArguments(), "image")
    bindable(resampleImage, config.resamplingArguments(), "image")


def test_registration_defaults_equal_the_library_function():
    arguments = RegistrationConfig().registrationArguments()
    register = defaults(registerImages)
    assert arguments["stages"] == tuple(register["stages"])
    for name in ("bspline", "focusOnMask", "maskDilationMm", "retry", "qcMinimumNmi"):
        assert arguments[name] == register[name]
    assert arguments["settings"] == RegistrationSettings()
    bindable(registerImages, arguments, "fixed", "moving")


@pytest.mark.parametrize(
    ("text", "stages"), [("rigid,affine", ("rigid", "affine")), ("rigid", ("rigid",)), ("affine", ("affine",))]
)
def test_registration_stage_choices(text, stages):
    assert RegistrationConfig(registrationStages=text).stages == stages


def test_combat_defaults_equal_the_library_functions():
    config = ComBatConfig()
    fit, apply = defaults(fitTables), defaults(harmonizeTable)
    assert config.fitArguments() == {
        "batchColumn": "site",
        "covariates": list(fit["covariates"]),
        "method": fit["method"],
        "referenceBatch": fit["referenceBatch"],
        "categorical": list(fit["categorical"]),
        "passThrough": list(fit["passThrough"]),
    }
    assert config.applyArguments() == {"batchColumn": "site", "unseenBatch": apply["unseenBatch"]}
    assert config.modelPath is None
    bindable(fitTables, config.fitArguments(), "features", "clinical")
    bindable(harmonizeTable, config.applyArguments(), "model", "features", "clinical")


def test_combat_settings_are_parsed():
    config = ComBatConfig.fromDict(
        {
            "batchColumn": " scanner ",
            "combatCovariates": "age, sex, grade",
            "referenceBatch": " B ",
            "combatMethod": "meanonly",
            "combatModelFile": "/tmp/model.json",
            "categoricalCovariates": " grade",
            "passThroughColumns": "",
            "unseenBatch": "reference",
        }
    )
    assert config.fitArguments() == {
        "batchColumn": "scanner",
        "covariates": ["age", "sex", "grade"],
        "method": "meanonly",
        "referenceBatch": "B",
        "categorical": ["grade"],
        "passThrough": [],
    }
    assert config.applyArguments() == {"batchColumn": "scanner", "unseenBatch": "reference"}
    assert str(config.modelPath) == "/tmp/model.json"


def test_combat_unseen_batch_choices_are_the_models():
    from VirtualBiopsy.harmonize.combat.model import UNSEEN_BATCH_CHOICES
    from VirtualBiopsy.harmonize.combatConfig import UNSEEN_BATCH_CHOICES as CONFIG_CHOICES

    assert CONFIG_CHOICES == tuple(UNSEEN_BATCH_CHOICES)


def test_style_transfer_settings_are_the_apply_tasks():
    config = StyleTransferConfig(styleModel="cyclegan-demo")
    assert config.runArguments() == {"model": "cyclegan-demo", "device": "auto", "batchSize": 8}


def test_style_transfer_needs_a_model():
    with pytest.raises(InputError, match="styleModel is empty.*styletransfer train"):
        StyleTransferConfig(styleModel="  ").runArguments()


@pytest.mark.parametrize(
    ("configClass", "values", "message"),
    [
        (PreprocessingConfig, {"n4ShrinkFactor": 0}, r"n4ShrinkFactor is 0; it must lie in \[1, 16\]"),
        (PreprocessingConfig, {"n4Levels": 11}, r"n4Levels is 11"),
        (PreprocessingConfig, {"n4Iterations": 0}, r"n4Iterations is 0"),
        (PreprocessingConfig, {"n4ConvergenceThreshold": math.nan}, r"n4ConvergenceThreshold is nan; give a finite"),
        (PreprocessingConfig, {"n4ConvergenceThreshold": 0.0}, r"n4ConvergenceThreshold is 0.0"),
        (PreprocessingConfig, {"denoisingMethod": "median"}, r"denoisingMethod is 'median'; choose one of: nlm"),
        (PreprocessingConfig, {"resamplingPreset": "iso"}, r"resamplingPreset is 'iso'; choose one of: isotropic"),
        (PreprocessingConfig, {"resamplingSpacingMm": -1.0}, r"resamplingSpacingMm is -1.0"),
        (PreprocessingConfig, {"resamplingSpacingMm": math.inf}, r"resamplingSpacingMm is inf; give a finite"),
        (PreprocessingConfig, {"resamplingInterpolator": "cubic"}, r"resamplingInterpolator is 'cubic'"),
        (PreprocessingConfig, {"n4Iterations": 2.5}, r"n4Iterations must be of type int"),
        (
            RegistrationConfig,
            {"registrationStages": "affine,rigid"},
            r"registrationStages is 'affine,rigid'; choose one",
        ),
        (RegistrationConfig, {"maskDilationMm": 0.0}, r"maskDilationMm is 0.0"),
        (RegistrationConfig, {"qcMinimumNmi": 2.5}, r"qcMinimumNmi is 2.5; it must lie in \[1.0, 2.0\]"),
        (RegistrationConfig, {"qcMinimumNmi": math.nan}, r"qcMinimumNmi is nan"),
        (RegistrationConfig, {"registrationSeed": -1}, r"registrationSeed is -1"),
        (RegistrationConfig, {"registrationBspline": "yes"}, r"registrationBspline must be of type bool"),
        (ComBatConfig, {"batchColumn": "  "}, r"batchColumn is empty; name the clinical column"),
        (ComBatConfig, {"combatMethod": "bayes"}, r"combatMethod is 'bayes'; choose one of: parametric"),
        (ComBatConfig, {"combatCovariates": "age,,sex"}, r"combatCovariates is 'age,,sex', with an empty name"),
        (ComBatConfig, {"combatCovariates": "age,age"}, r"combatCovariates repeats age"),
        (ComBatConfig, {"combatCovariates": "age,site"}, r"includes the batch column 'site'"),
        (ComBatConfig, {"combatModelFile": "model.csv"}, r"combatModelFile is 'model.csv'; give a .json"),
        (
            ComBatConfig,
            {"combatCovariates": "age", "categoricalCovariates": "grade"},
            r"categoricalCovariates is 'grade'",
        ),
        (ComBatConfig, {"passThroughColumns": "label,,id"}, r"passThroughColumns is 'label,,id', with an empty name"),
        (ComBatConfig, {"unseenBatch": "ignore"}, r"unseenBatch is 'ignore'; choose one of: error, reference"),
        (StyleTransferConfig, {"styleDevice": "gpu"}, r"styleDevice: Device 'gpu' is not known"),
        (StyleTransferConfig, {"styleBatchSize": 0}, r"styleBatchSize is 0"),
        (StyleTransferConfig, {"styleModels": "x"}, r"no setting 'styleModels'.*Did you mean 'styleModel'"),
    ],
)
def test_bad_values_are_refused_with_the_setting_and_value(configClass, values, message):
    with pytest.raises(InputError, match=message):
        configClass.fromDict(values)


def test_cuda_index_is_accepted():
    assert StyleTransferConfig.fromDict({"styleDevice": "cuda:1"}).styleDevice == "cuda:1"


def test_qc_line_states_the_verdict_and_metrics():
    from VirtualBiopsy.harmonize.registrationQuality import qcLine

    metrics = {"nmiBefore": 1.07, "nmiAfter": 1.21234, "mattesBefore": -0.3, "mattesAfter": -0.61}
    assert qcLine(metrics, True, "none", False) == (
        "QC: passed; NMI 1.0700 → 1.2123; Mattes MI -0.3000 → -0.6100; metric mask none"
    )
    assert qcLine(metrics, False, "head", True).startswith("QC: FAILED;")
    assert qcLine(metrics, False, "head", True).endswith("metric mask head; retried")


def test_combat_methods_are_the_estimations():
    """The config spells the methods out (it loads without pandas); they must stay the estimation's."""
    from VirtualBiopsy.harmonize.combat.estimation import METHODS
    from VirtualBiopsy.harmonize.combatConfig import COMBAT_METHODS

    assert COMBAT_METHODS == tuple(METHODS)
