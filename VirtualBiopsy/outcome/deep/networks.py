"""The 3D CNN classifiers: MONAI DenseNet and ResNet, in a small (CPU, tests, demo) and a full (GPU) size.

A network is described by a plain ``{"network": NAME, "size": "small"|"full"}`` plus its channel and class
counts; :func:`buildNetwork` makes it, :func:`targetLayer` names its last convolutional block (Grad-CAM's
default) and :func:`featureLayer` the module whose output is the pooled penultimate activation (deep features).
"""

from __future__ import annotations

import math
from typing import Any

from VirtualBiopsy.errors import InputError, ModelError, requirePackage

#: Networks and their sizes: MONAI constructor arguments besides channels and classes.
NETWORKS: dict[str, dict[str, dict[str, Any]]] = {
    "DenseNet": {
        # The last block sees the crop at 1/8 (two blocks) or 1/16 (three) of its size per axis.
        "small": {"init_features": 8, "growth_rate": 8, "block_config": [2, 2], "bn_size": 2},
        "full": {"init_features": 32, "growth_rate": 16, "block_config": [6, 12, 24], "bn_size": 4},
    },
    "ResNet": {
        "small": {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [8, 16, 32, 64]},
        "full": {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [64, 128, 256, 512]},  # resnet10
    },
}


#: Smallest crop side, in voxels: the networks downsample by 8 to 32 before their last block.
MIN_CROP_SIZE = 16


def checkCrop(size: int, spacing: float) -> None:
    """Raise :class:`InputError` unless ``size`` (voxels per side) and ``spacing`` (mm) suit the networks."""
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_CROP_SIZE:
        raise InputError(
            f"Crop size {size!r} is too small for the CNN; give at least {MIN_CROP_SIZE} voxels per side "
            "(the networks downsample by 8 to 32), e.g. 32."
        )
    if not (
        isinstance(spacing, (int, float)) and not isinstance(spacing, bool) and math.isfinite(spacing) and spacing > 0
    ):
        raise InputError(f"Crop spacing {spacing!r} is not valid; give a positive number of mm, e.g. 2.")


def checkNetwork(network: str, size: str) -> None:
    """Raise :class:`InputError` unless ``network`` and ``size`` are known."""
    if network not in NETWORKS:
        raise InputError(f"Network '{network}' is not known; choose one of {', '.join(NETWORKS)}.")
    if size not in NETWORKS[network]:
        raise InputError(f"Network size '{size}' is not known; choose one of {', '.join(NETWORKS[network])}.")


def networkArguments(network: str, size: str, channels: int, classes: int) -> dict[str, Any]:
    """The MONAI constructor's arguments for ``network`` of ``size``."""
    checkNetwork(network, size)
    arguments = dict(NETWORKS[network][size])
    if network == "DenseNet":
        arguments.update(spatial_dims=3, in_channels=channels, out_channels=classes)
    else:
        arguments.update(spatial_dims=3, n_input_channels=channels, num_classes=classes)
    return arguments


def buildNetwork(network: str, arguments: dict[str, Any]) -> Any:
    """A new (untrained) MONAI network.

    :raises ModelError: when MONAI refuses the arguments (a damaged or foreign config).
    """
    nets = requirePackage("monai.networks.nets", "monai")
    if network not in NETWORKS:
        raise ModelError(
            f"Network '{network}' is not one Virtual Biopsy builds ({', '.join(NETWORKS)}); the model's "
            "config.json is damaged or from another program."
        )
    try:
        return getattr(nets, network)(**arguments)
    except (TypeError, ValueError) as error:
        raise ModelError(
            f"Cannot build {network} from the arguments {arguments} ({error}); the model's config.json "
            "is damaged or from another MONAI version."
        ) from error


def targetLayer(network: str, arguments: dict[str, Any]) -> str:
    """The last convolutional block: Grad-CAM's default layer."""
    if network == "DenseNet":
        return f"features.denseblock{len(arguments['block_config'])}"
    return "layer4"


def featureLayer(network: str) -> str:
    """The module whose output is the pooled, flattened penultimate activation."""
    return "class_layers.flatten" if network == "DenseNet" else "avgpool"
