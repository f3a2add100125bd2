"""The settings of the Harmonization panel's actions: defaults equal the library calls' defaults,
the mapped arguments are accepted by those calls, and bad values are refused with messages that
name the setting and the value."""

import dataclasses
import inspect
import math

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.combatLogic import ComBatLogic
from VirtualBiopsy.harmonize.config import HarmonizationConfig
from VirtualBiopsy.harmonize.preprocessingConfig import (
    PreprocessingConfig,
    RegistrationConfig,
)
from VirtualBiopsy.harmonize.preprocessingLogic import (
    PreprocessingLogic,
    RegistrationLogic,
)
from VirtualBiopsy.harmonize.registration import RegistrationSettings, registerImages
from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
from VirtualBiopsy.harmonize.styleTransfer.logic import StyleTransferLogic

CONFIGS = [PreprocessingConfig, RegistrationConfig, ComBatConfig, StyleTransferConfig]


def defaults(function) -> dict:
    """``{parameter: default}`` of a function's keyword parameters that have one."""
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def bindable(function, arguments: dict, *positional) -> None:
    """Raise TypeError unless ``function(*positional, **arguments)`` matches its signature."""
    inspect.signature(function).bind(*positional, **arguments)


@pytest.mark.parametrize("configClass", CONFIGS)
def test_defaults_round_trip_and_validate(configClass):
    config = configClass()
    assert configClass.fromDict(config.toDict()) == config
    assert configClass.fromDict({}) == config


def test_field_names_are_unique_across_the_modules_configs():
    """The module's parameter node holds all of them, field for field, next to HarmonizationConfig."""
    names = [field.name for configClass in [HarmonizationConfig, *CONFIGS] for field in dataclasses.fields(configClass)]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})


def test_preprocessing_defaults_equal_the_library_calls():
    config = PreprocessingConfig()
    n4 = defaults(PreprocessingLogic.correctBiasField)
    assert config.biasFieldArguments() == {
        "shrinkFactor": n4["shrinkFactor"], "iterations": list(n4["iterations"]),
        "convergenceThreshold": n4["convergenceThreshold"]}
    assert config.denoisingArguments() == {"method": defaults(PreprocessingLogic.denoise)["method"]}
    resample = defaults(PreprocessingLogic.resample)
    assert config.resamplingArguments() == {key: resample[key] for key in ("preset", "spacingMm", "interpolator")}
    logic = PreprocessingLogic(None)
    bindable(logic.correctBiasField, config.biasFieldArguments(), "volume")
    bindable(logic.denoise, config.denoisingArguments(), "volume")
    bindable(logic.resample, config.resamplingArguments(), "volume")


def test_registration_defaults_equal_the_library_calls():
    arguments = RegistrationConfig().registrationArguments()
    run, register = defaults(RegistrationLogic.run), defaults(registerImages)
    assert arguments["stages"] == tuple(run["stages"])
    for name in ("bspline", "focusOnMask"):
        assert arguments[name] == run[name]
    for name in ("maskDilationMm", "retry", "qcMinimumNmi"):
        assert arguments[name] == register[name]
    assert arguments["settings"] == RegistrationSettings()
    bindable(RegistrationLogic(None).run, arguments, "fixed", "moving")
    # The options RegistrationLogic.run passes on must be registerImages' own.
    runParameters = inspect.signature(RegistrationLogic.run).parameters
    options = {key: value for key, value in arguments.items() if key not in runParameters}
    assert set(options) <= set(inspect.signature(registerImages).parameters)


@pytest.mark.parametrize(("text", "stages"), [("rigid,affine", ("rigid", "affine")), ("rigid", ("rigid",)),
                                               ("affine", ("affine",))])
def test_registration_stage_choices(text, stages):
    assert RegistrationConfig(registrationStages=text).stages == stages


def test_combat_defaults_equal_the_library_call():
    config = ComBatConfig()
    fit = defaults(ComBatLogic.fit)
    arguments = config.fitArguments()
    assert arguments == {"batchColumn": "site", "covariates": list(fit["covariates"]), "method": fit["method"],
                         "referenceBatch": fit["referenceBatch"]}
    assert config.modelPath is None
    bindable(ComBatLogic(None).fit, arguments, "features", "clinical")


def test_combat_settings_are_parsed():
    config = ComBatConfig.fromDict({"batchColumn": " scanner ", "combatCovariates": "age, sex", "referenceBatch": " B ",
                                    "combatMethod": "meanonly", "combatModelFile": "/tmp/model.json"})
    assert config.fitArguments() == {"batchColumn": "scanner", "covariates": ["age", "sex"], "method": "meanonly",
                                     "referenceBatch": "B"}
    assert str(config.modelPath) == "/tmp/model.json"


def test_style_transfer_defaults_equal_the_library_call():
    config = StyleTransferConfig(styleModel="cyclegan-demo")
    run = defaults(StyleTransferLogic.run)
    assert config.runArguments() == {"model": "cyclegan-demo", "device": run["device"], "batchSize": run["batchSize"]}
    bindable(StyleTransferLogic(None).run, config.runArguments(), "volume")


def test_style_transfer_needs_a_model():
    with pytest.raises(InputError, match="styleModel is empty.*styletransfer train"):
        StyleTransferConfig(styleModel="  ").runArguments()


@pytest.mark.parametrize(("configClass", "values", "message"), [
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
    (RegistrationConfig, {"registrationStages": "affine,rigid"}, r"registrationStages is 'affine,rigid'; choose one"),
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
    (StyleTransferConfig, {"styleDevice": "gpu"}, r"styleDevice: Device 'gpu' is not known"),
    (StyleTransferConfig, {"styleBatchSize": 0}, r"styleBatchSize is 0"),
    (StyleTransferConfig, {"styleModels": "x"}, r"no setting 'styleModels'.*Did you mean 'styleModel'"),
])
def test_bad_values_are_refused_with_the_setting_and_value(configClass, values, message):
    with pytest.raises(InputError, match=message):
        configClass.fromDict(values)


def test_cuda_index_is_accepted():
    assert StyleTransferConfig.fromDict({"styleDevice": "cuda:1"}).styleDevice == "cuda:1"


def test_qc_line_states_the_verdict_and_metrics():
    from VirtualBiopsy.harmonize.registrationQuality import qcLine

    metrics = {"nmiBefore": 1.07, "nmiAfter": 1.21234, "mattesBefore": -0.3, "mattesAfter": -0.61}
    assert qcLine(metrics, True, "none", False) == (
        "QC: passed; NMI 1.0700 → 1.2123; Mattes MI -0.3000 → -0.6100; metric mask none")
    assert qcLine(metrics, False, "head", True).startswith("QC: FAILED;")
    assert qcLine(metrics, False, "head", True).endswith("metric mask head; retried")


def test_combat_methods_are_the_estimations():
    """The config spells the methods out (it loads without pandas); they must stay the estimation's."""
    from VirtualBiopsy.harmonize.combat.estimation import METHODS
    from VirtualBiopsy.harmonize.combatConfig import COMBAT_METHODS

    assert COMBAT_METHODS == tuple(METHODS)
