"""A tiny real MONAI bundle for the ``monai-bundle`` backend tests: a SegResNet (init_filters 8, seeded random
weights saved as a state dict) and an ``inference.json`` with the structure of the MONAI Model Zoo's
``brats_mri_segmentation`` config (a small roi), listed in a user manifest with its files' hashes."""

from __future__ import annotations

import json
import pathlib

from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.models.manifest import writeManifest
from VirtualBiopsy.models.modelEntry import ModelEntry, ModelInput, ModelLabel

BUNDLE_ID = "tiny-brats-bundle"
SEQUENCES = ("T1c", "T1", "T2", "FLAIR")
LABELS = (("Tumor core", 1, 0), ("Whole tumor", 2, 1), ("Enhancing tumor", 3, 2))  # name, value, channel
NETWORK_DEF = {
    "_target_": "SegResNet",
    "blocks_down": [1, 2, 2, 4],
    "blocks_up": [1, 1, 1],
    "init_filters": 8,  # 4 does not divide into GroupNorm's 8 groups
    "in_channels": 4,
    "out_channels": 3,
    "dropout_prob": 0.2,
}
ROI = [16, 16, 8]
OVERLAP = 0.5


def inferenceConfig() -> dict:
    """The zoo bundle's ``configs/inference.json`` layout (expressions, references and all), with a small network
    and roi."""
    return {
        "imports": ["$import glob", "$import os"],
        "bundle_root": ".",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": dict(NETWORK_DEF),
        "network": "$@network_def.to(@device)",
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image"},
                {"_target_": "NormalizeIntensityd", "keys": "image", "nonzero": True, "channel_wise": True},
            ],
        },
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": list(ROI), "sw_batch_size": 1, "overlap": OVERLAP},
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "sigmoid": True},
                {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image"},
                {"_target_": "AsDiscreted", "keys": "pred", "threshold": 0.5},
                {
                    "_target_": "Lambdad",
                    "keys": "pred",
                    "func": "$lambda x: torch.where(x[[2]] > 0, 4, torch.where(x[[0]] > 0, 1, torch.where(x[[1]] > 0, 2, 0)))",
                },
                {"_target_": "SaveImaged", "keys": "pred", "output_dir": "@output_dir", "resample": False},
            ],
        },
        "handlers": [{"_target_": "CheckpointLoader", "load_path": "$@bundle_root + '/models/model.pt'"}],
        "evaluator": {"_target_": "SupervisedEvaluator", "network": "@network", "inferer": "@inferer"},
        "run": ["$@evaluator.run()"],
    }


def segResNet(seed: int = 3):
    """The bundle's network with seeded random weights (output biases shifted so that every region appears)."""
    import torch
    from monai.networks.nets import SegResNet

    torch.manual_seed(seed)
    network = SegResNet(**{key: value for key, value in NETWORK_DEF.items() if key != "_target_"})
    with torch.no_grad():
        network.conv_final[-1].conv.bias += torch.tensor([0.0, 0.3, -0.3])
    return network


def writeBundle(folder: pathlib.Path, config: dict | None = None, weights: bytes | None = None) -> pathlib.Path:
    """A bundle folder: ``configs/inference.json``, ``configs/metadata.json`` and ``models/model.pt``."""
    import io

    import torch

    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    (folder / "configs" / "inference.json").write_text(json.dumps(config or inferenceConfig(), indent=4))
    channels = {str(index): name for index, name in enumerate(SEQUENCES)}
    regions = {str(channel): name for name, _, channel in LABELS}
    metadata = {"version": "0.3.7", "network_data_format": {"inputs": {"image": {"channel_def": channels}}}}
    metadata["network_data_format"]["outputs"] = {"pred": {"channel_def": regions}}
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata))
    if weights is None:
        stream = io.BytesIO()
        torch.save(segResNet().state_dict(), stream)
        weights = stream.getvalue()
    (folder / "models" / "model.pt").write_bytes(weights)
    return folder


def bundleEntry(folder: pathlib.Path, modelId: str = BUNDLE_ID) -> ModelEntry:
    """The manifest entry of a bundle folder, as the catalogue lists the zoo's BraTS bundle, with its hashes."""
    tree, files = treeHashes(folder)
    return ModelEntry(
        id=modelId,
        version="0.3.7",
        backend="monai-bundle",
        path=str(folder),
        inputs=tuple(ModelInput(name, index) for index, name in enumerate(SEQUENCES)),
        labels=tuple(ModelLabel(value, name, (0.5, 0.5, 0.5)) for name, value, _ in LABELS),
        sha256=tree,
        files=files,
        licence="Apache-2.0",
        options={
            "outputs": "sigmoid",
            "outputChannels": {name: channel for name, _, channel in LABELS},
            "regionOrder": ["Whole tumor", "Tumor core", "Enhancing tumor"],
        },
    )


def publishBundle(userFolder: pathlib.Path, entries: list[ModelEntry]) -> None:
    """List ``entries`` in the user manifest of ``userFolder``."""
    userFolder.mkdir(parents=True, exist_ok=True)
    writeManifest(userFolder / "models.json", entries)
