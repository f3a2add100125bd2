"""Training settings and nnU-Net plan overrides: known answers and hostile values."""

from __future__ import annotations

import copy

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.segment.training.config import DatasetExportConfig, TrainingConfig
from VirtualBiopsy.segment.training.planOverrides import (
    applyPlanOverrides,
    keepConfiguration,
)
from VirtualBiopsy.segment.training.trainingSettings import NnunetTrainingSettings


def planned() -> dict:
    """The shape of a plan nnU-Net 2.8's ExperimentPlanner writes (3d_fullres with four stages)."""
    arch = {
        "n_stages": 4,
        "features_per_stage": [32, 64, 128, 256],
        "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]],
        "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]],
        "n_conv_per_stage": [2, 2, 2, 2],
        "n_conv_per_stage_decoder": [2, 2, 2],
        "conv_bias": True,
    }
    return {
        "plans_name": "nnUNetPlans",
        "configurations": {
            "2d": {"patch_size": [64, 64], "batch_size": 12, "architecture": {"arch_kwargs": copy.deepcopy(arch)}},
            "3d_fullres": {
                "patch_size": [40, 80, 80],
                "batch_size": 2,
                "spacing": [1.0, 1.0, 1.0],
                "architecture": {"arch_kwargs": arch},
            },
            "3d_lowres": {
                "patch_size": [40, 80, 80],
                "batch_size": 2,
                "architecture": {"arch_kwargs": copy.deepcopy(arch)},
            },
            "3d_cascade_fullres": {"inherits_from": "3d_fullres", "previous_stage": "3d_lowres"},
        },
    }


def test_fewer_stages_keep_the_planned_kernels_and_strides_of_the_first_ones():
    plans = applyPlanOverrides(
        planned(), "3d_fullres", {"featuresPerStage": [4, 8, 16], "patchSize": [32, 32, 32], "batchSize": 3}
    )
    config = plans["configurations"]["3d_fullres"]
    arch = config["architecture"]["arch_kwargs"]
    assert config["patch_size"] == [32, 32, 32] and config["batch_size"] == 3
    assert arch["n_stages"] == 3 and arch["features_per_stage"] == [4, 8, 16]
    assert arch["kernel_sizes"] == [[1, 3, 3], [3, 3, 3], [3, 3, 3]]
    assert arch["strides"] == [[1, 1, 1], [1, 2, 2], [2, 2, 2]]
    assert arch["n_conv_per_stage"] == [2, 2, 2] and arch["n_conv_per_stage_decoder"] == [2, 2]
    assert plans["configurations"]["2d"]["architecture"]["arch_kwargs"]["n_stages"] == 4  # others untouched


def test_more_stages_add_stride_two_levels_and_single_convolutions_apply_everywhere():
    plans = applyPlanOverrides(
        planned(),
        "3d_fullres",
        {"featuresPerStage": [8, 16, 32, 64, 64], "patchSize": [16, 32, 32], "convolutionsPerStage": 1},
    )
    arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    assert arch["strides"][-1] == [2, 2, 2] and len(arch["kernel_sizes"]) == 5
    assert arch["n_conv_per_stage"] == [1] * 5 and arch["n_conv_per_stage_decoder"] == [1] * 4


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"patchSize": [30, 32, 32]}, "divisible"),
        ({"featuresPerStage": [8, 16, 32, 64, 128], "patchSize": [4, 32, 32]}, "divisible"),
        ({"patch": [32, 32, 32]}, "Unknown plan override"),
        ({"patchSize": [32, 32]}, "3 positive whole numbers"),
        ({"patchSize": [32, 32, 0]}, "positive"),
        ({"batchSize": 1.5}, "whole"),
        ({"batchSize": True}, "whole"),
        ({"featuresPerStage": []}, "positive"),
        ({"featuresPerStage": [4, 8]}, "at least 3"),
        ({"featuresPerStage": "8,16"}, "positive"),
        ({"targetSpacing": [1.0, -1.0, 1.0]}, "targetSpacing"),
    ],
)
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(InputError, match=message):
        applyPlanOverrides(planned(), "3d_fullres", overrides)


def test_keep_configuration_keeps_what_it_inherits_from():
    assert list(keepConfiguration(planned(), "3d_fullres")["configurations"]) == ["3d_fullres"]
    assert list(keepConfiguration(planned(), "3d_cascade_fullres")["configurations"]) == [
        "3d_fullres",
        "3d_cascade_fullres",
    ]
    with pytest.raises(InputError, match="no configuration '3d'"):
        keepConfiguration(planned(), "3d")


def test_settings_round_trip_through_plain_values():
    settings = NnunetTrainingSettings(
        epochs=3, iterationsPerEpoch=5, fold=2, device="cpu", seed=7, planOverrides={"batchSize": 2}
    )
    assert NnunetTrainingSettings.fromDict(settings.toDict()) == settings


@pytest.mark.parametrize(
    "field, value",
    [
        ("configuration", "4d"),
        ("epochs", 0),
        ("epochs", 1.5),
        ("epochs", True),
        ("iterationsPerEpoch", -1),
        ("validationIterationsPerEpoch", 0),
        ("fold", 5),
        ("fold", "one"),
        ("fold", True),
        ("device", "tpu"),
        ("seed", -1),
        ("augmentationProcesses", 100),
    ],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(InputError, match=field):
        NnunetTrainingSettings(**{field: value}).validate()


@pytest.mark.parametrize("configClass", [NnunetTrainingSettings, DatasetExportConfig, TrainingConfig])
def test_defaults_validate_and_round_trip(configClass):
    config = configClass()
    config.validate()
    assert configClass.fromDict(config.toDict()) == config
    assert configClass.fromDict({}) == config


def test_fold_is_a_number_or_all_through_from_dict():
    assert NnunetTrainingSettings.fromDict({"fold": 3}).fold == 3
    assert TrainingConfig.fromDict({"fold": "all"}).fold == "all"
    with pytest.raises(InputError, match="fold"):
        NnunetTrainingSettings.fromDict({"fold": True})
    with pytest.raises(InputError, match="fold"):
        NnunetTrainingSettings.fromDict({"fold": 1.5})


def test_training_config_gives_the_worker_settings_and_the_export():
    config = TrainingConfig.fromDict(
        {
            "epochs": 2,
            "fold": 1,
            "seed": 9,
            "planOverrides": {"batchSize": 2},
            "sequences": ["FLAIR", "T1c"],
            "labels": {"background": 0, "tumour": 1},
            "datasetId": 42,
            "modelName": "My cohort / v2",
            "licence": "CC-BY-4.0",
        }
    )
    settings = config.nnunetSettings()
    assert type(settings) is NnunetTrainingSettings
    assert settings == NnunetTrainingSettings(epochs=2, fold=1, seed=9, planOverrides={"batchSize": 2})
    export = config.exportConfig()
    assert export == DatasetExportConfig(datasetId=42, datasetName="My-cohort-v2", sequences=["FLAIR", "T1c"])
    assert export.folderName() == "Dataset042_My-cohort-v2"


@pytest.mark.parametrize(
    "configClass, values, message",
    [
        (DatasetExportConfig, {"datasetId": 0}, "dataset id"),
        (DatasetExportConfig, {"datasetName": "under_score"}, "dataset name"),
        (DatasetExportConfig, {"sequences": []}, "No sequence"),
        (DatasetExportConfig, {"sequences": ["FLAIR", "FLAIR"]}, "distinct"),
        (DatasetExportConfig, {"labels": {"tumour": 1}}, "background"),
        (DatasetExportConfig, {"labels": {"background": 0, "tumour": 2}}, "consecutive"),
        (DatasetExportConfig, {"sequence": ["FLAIR"]}, "Did you mean 'sequences'"),
        (TrainingConfig, {"sequences": ["../T1c"]}, "Sequences"),
        (TrainingConfig, {"datasetId": 1000}, "dataset id"),
        (TrainingConfig, {"epochs": 0}, "epochs"),
        (TrainingConfig, {"planOverrides": [1]}, "planOverrides"),
    ],
)
def test_bad_config_values_name_the_problem(configClass, values, message):
    with pytest.raises(InputError, match=message):
        configClass.fromDict(values)


def test_unknown_setting_is_refused():
    with pytest.raises(InputError, match="learningRate"):
        NnunetTrainingSettings.fromDict({"learningRate": 0.1})


@pytest.mark.parametrize("name", ["Dataset007_Tiny", "NotADataset", "Dataset7_Short"])
def test_train_task_refuses_a_folder_that_is_not_a_raw_dataset(tmp_path, name):
    from VirtualBiopsy.segment.training.nnunetTraining import trainTask

    folder = tmp_path / name
    folder.mkdir()
    if name != "Dataset007_Tiny":
        (folder / "dataset.json").write_text("{}")
    with pytest.raises(InputError, match="not an nnU-Net raw dataset folder"):
        trainTask(
            {
                "dataset": str(folder),
                "workFolder": str(tmp_path / "work"),
                "out": str(tmp_path / "model"),
                "settings": {},
            },
            lambda fraction, message: None,
        )
    assert not (tmp_path / "model").exists() and not (tmp_path / "work").exists()
