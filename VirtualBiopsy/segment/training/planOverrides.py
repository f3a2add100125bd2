"""Changes to an nnU-Net plan before preprocessing: smaller networks, patches and batches for small machines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from VirtualBiopsy.errors import InputError

#: The overrides :func:`applyPlanOverrides` understands.
PLAN_OVERRIDES = ("targetSpacing", "patchSize", "batchSize", "featuresPerStage", "convolutionsPerStage")


def applyPlanOverrides(plans: dict, configuration: str, overrides: Mapping[str, Any]) -> dict:
    """Change ``plans["configurations"][configuration]`` in place and return ``plans``.

    ``targetSpacing`` is applied by nnU-Net's planner itself (it is only checked here).
    ``featuresPerStage`` sets the number of stages; kernel sizes and strides keep nnU-Net's
    planned values for the first stages (deeper stages are dropped, missing ones stride 2).

    :param overrides: ``targetSpacing`` (mm per axis), ``patchSize`` (voxels per axis), ``batchSize``,
        ``featuresPerStage`` (list), ``convolutionsPerStage`` (int).
    :raises InputError: for an unknown key, a bad value, or a patch size that the network's total
        stride does not divide.
    """
    unknown = sorted(set(overrides) - set(PLAN_OVERRIDES))
    if unknown:
        raise InputError(f"Unknown plan override(s) {', '.join(unknown)}; known: {', '.join(PLAN_OVERRIDES)}.")
    config = plans["configurations"][configuration]
    dimension = len(config["patch_size"])
    if "targetSpacing" in overrides:
        _positiveNumbers("targetSpacing", overrides["targetSpacing"], dimension, float)
    if "patchSize" in overrides:
        config["patch_size"] = _positiveNumbers("patchSize", overrides["patchSize"], dimension, int)
    if "batchSize" in overrides:
        config["batch_size"] = _positiveNumbers("batchSize", [overrides["batchSize"]], 1, int)[0]
    arch = config["architecture"]["arch_kwargs"]
    if "featuresPerStage" in overrides:
        features = overrides["featuresPerStage"]
        stages = len(features) if isinstance(features, (list, tuple)) else 0
        features = _positiveNumbers("featuresPerStage", features, stages, int)
        if stages < 3:
            raise InputError(
                f"Plan override featuresPerStage={features} has {stages} stage(s); nnU-Net's deep "
                "supervision needs at least 3 (with 2 its loss weights are all zero)."
            )
        kernels, strides = list(arch["kernel_sizes"]), list(arch["strides"])
        while len(kernels) < stages:
            kernels.append([3] * dimension)
            strides.append([2] * dimension)
        arch["n_stages"] = stages
        arch["features_per_stage"] = features
        arch["kernel_sizes"], arch["strides"] = kernels[:stages], strides[:stages]
        encoder = list(arch["n_conv_per_stage"])
        arch["n_conv_per_stage"] = encoder[:stages] + [2] * max(0, stages - len(encoder))
        decoder = list(arch["n_conv_per_stage_decoder"])
        arch["n_conv_per_stage_decoder"] = decoder[: stages - 1] + [2] * max(0, stages - 1 - len(decoder))
    if "convolutionsPerStage" in overrides:
        count = _positiveNumbers("convolutionsPerStage", [overrides["convolutionsPerStage"]], 1, int)[0]
        arch["n_conv_per_stage"] = [count] * arch["n_stages"]
        arch["n_conv_per_stage_decoder"] = [count] * (arch["n_stages"] - 1)
    totalStride = [math.prod(stride[axis] for stride in arch["strides"]) for axis in range(dimension)]
    if any(size % stride for size, stride in zip(config["patch_size"], totalStride)):
        raise InputError(
            f"Patch size {config['patch_size']} is not divisible by the network's total stride "
            f"{totalStride}; choose a patch size that is a multiple of it per axis."
        )
    return plans


def _positiveNumbers(name: str, values: Any, count: int, kind: type) -> list:
    if (
        not isinstance(values, (list, tuple))
        or len(values) != count
        or count == 0
        or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 or (kind is int and v != int(v))
            for v in values
        )
    ):
        what = "whole numbers" if kind is int else "numbers"
        raise InputError(f"Plan override {name}={values!r} must be {count or 'one or more'} positive {what}.")
    return [kind(v) for v in values]


def keepConfiguration(plans: dict, configuration: str) -> dict:
    """``plans`` with only ``configuration`` (and the configurations it inherits from) left.

    :raises InputError: when the plans have no such configuration.
    """
    configurations = plans.get("configurations", {})
    keep, name = [], configuration
    while name is not None:
        if name not in configurations or name in keep:
            raise InputError(f"The plans have no configuration {name!r} (they have {', '.join(configurations)}).")
        keep.append(name)
        name = configurations[name].get("inherits_from")
    return {**plans, "configurations": {name: configurations[name] for name in configurations if name in keep}}
