"""ExplorationConfig: defaults agree with the library's options, hostile settings are refused,
the positive class given as text finds its value whatever the column's type."""

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.commands import explore
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.config import ExtractionConfig
from VirtualBiopsy.extract.exploration import ExplorationConfig, ExplorationOptions
from VirtualBiopsy.extract.exploration.config import matchClass
from VirtualBiopsy.extract.exploration.missingValues import IMPUTATIONS
from VirtualBiopsy.outcome.config import OutcomeConfig


def test_defaults_and_options_agree_with_the_library():
    config = ExplorationConfig(outcomeColumn="grade")
    options = config.explorationOptions()
    assert options == ExplorationOptions()
    shared = {field.name for field in dataclasses.fields(ExplorationOptions)}
    plain = shared & {field.name for field in dataclasses.fields(ExplorationConfig)} - {"positiveClass", "volumeColumn"}
    assert len(plain) == 5
    for name in plain:
        assert getattr(config, name) == getattr(ExplorationOptions(), name), name
    given = ExplorationConfig(
        outcomeColumn="grade",
        positiveClass="HGG",
        volumeColumn="T1c_original_shape_VoxelVolume",
        maxMissingFraction=0.5,
        imputation="none",
        volumeThreshold=0.9,
        alpha=0.01,
        distributionFeatures=4,
    ).explorationOptions()
    assert given == ExplorationOptions(
        maxMissingFraction=0.5,
        imputation="none",
        positiveClass="HGG",
        volumeColumn="T1c_original_shape_VoxelVolume",
        volumeThreshold=0.9,
        alpha=0.01,
        distributionFeatures=4,
    )
    roundTrip = ExplorationConfig(outcomeColumn="grade", alpha=0.01, distributionFeatures=3)
    assert ExplorationConfig.fromDict(roundTrip.toDict()) == roundTrip


def test_field_names_do_not_collide_with_the_other_configs_of_the_outcome_module():
    names = {field.name for field in dataclasses.fields(ExplorationConfig)}
    for other in (ExtractionConfig, OutcomeConfig):
        assert not names & {field.name for field in dataclasses.fields(other)}
    assert all(isinstance(value, (str, int, float, bool)) for value in ExplorationConfig().toDict().values())


def test_config_module_imports_without_pandas_scipy_or_matplotlib():
    """The Slicer module imports the config at start-up, before its requirements are ensured."""
    code = (
        "import sys, VirtualBiopsy.extract.exploration.config; "
        "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"alpha": 0.0}, r"alpha is 0.0; give a significance level between 0 and 1"),
        ({"alpha": 1}, r"alpha is 1.0"),
        ({"alpha": float("nan")}, r"alpha is NaN"),
        ({"maxMissingFraction": 1.5}, r"maxMissingFraction is 1.5; it must lie in \[0.0, 1.0\]"),
        ({"volumeThreshold": -0.1}, r"volumeThreshold is -0.1"),
        ({"imputation": "mean"}, r"imputation is 'mean'; choose one of: median, none"),
        ({"distributionFeatures": 0}, r"distributionFeatures is 0; it must lie in \[1, 64\]"),
        ({"distributionFeatures": 2.5}, r"distributionFeatures must be of type int"),
        ({"outcomeColumn": " grade"}, r"outcomeColumn is ' grade', with spaces around it"),
        ({"outcome": "grade"}, r"has no setting 'outcome'\. Did you mean 'outcomeColumn'\?"),
        ({"positiveClass": 1}, r"positiveClass must be of type str, got 1"),
    ],
)
def test_hostile_settings_are_refused(values, message):
    with pytest.raises(InputError, match=message):
        ExplorationConfig.fromDict(values)


def test_an_outcome_column_is_required_to_build_options():
    with pytest.raises(InputError, match="No outcome column was chosen"):
        ExplorationConfig().explorationOptions()


@pytest.mark.parametrize(
    "column, text, expected",
    [
        (pd.Series([0, 1, 1, 0]), "1", 1),
        (pd.Series([0.0, 1.0, np.nan]), "1", 1.0),
        (pd.Series([0, 1]), "1.0", 1),
        (pd.Series([True, False]), "True", True),
        (pd.Series([True, False]), "0", False),
        (pd.Series(["1", "01"]), "01", "01"),
        (pd.Series(["LGG", "HGG"]), "HGG", "HGG"),
        (pd.Series(["yes", "no", None], dtype=object), "no", "no"),
        (pd.Series([1, 2], dtype="Int64"), "2", 2),
    ],
)
def test_positive_class_text_finds_its_value_whatever_the_type(column, text, expected):
    found = matchClass(text, column)
    assert found == expected and type(found) in {type(value) for value in column}
    options = ExplorationConfig(outcomeColumn="y", positiveClass=text).explorationOptions(column)
    assert options.positiveClass == expected


def test_positive_class_that_names_no_value_lists_the_values():
    with pytest.raises(
        InputError,
        match=r"Positive class 'GBM' is not a value of the outcome column 'grade' "
        r"\(values: 'HGG', 'LGG'\); give one of them",
    ):
        ExplorationConfig(outcomeColumn="grade", positiveClass="GBM").explorationOptions(["LGG", "HGG", "LGG"])
    with pytest.raises(InputError, match=r"\(values: 0, 1\)"):
        matchClass("2", np.array([1, 0, 1]))
    with pytest.raises(InputError, match=r"\(values: none\)"):
        matchClass("1", [np.nan, None])


def test_command_line_defaults_are_the_config_defaults():
    import argparse

    parser = argparse.ArgumentParser()
    explore.addParser(parser.add_subparsers())
    arguments = parser.parse_args(
        ["explore", "--features", "f.csv", "--clinical", "c.csv", "--outcome", "y", "--out", "o"]
    )
    defaults = ExplorationConfig()
    assert (arguments.max_missing, arguments.imputation, arguments.volume_threshold, arguments.alpha) == (
        defaults.maxMissingFraction,
        defaults.imputation,
        defaults.volumeThreshold,
        defaults.alpha,
    )
    assert IMPUTATIONS == ("median", "none")
