"""Real model folders and archives for the model tests: an nnU-Net trained-model folder whose checkpoints are
built the way nnU-Net's trainer saves them, a TorchScript file with its sidecar, a MONAI network folder, and
zip archives (well-formed and hostile) written with :mod:`zipfile`."""

from __future__ import annotations

import functools
import io
import json
import pathlib
import stat
import warnings
import zipfile

TRAINED = "nnUNetTrainer__nnUNetPlans__3d_fullres"


def plainConvUNet():
    """A small real nnU-Net network (dynamic_network_architectures' PlainConvUNet)."""
    import torch
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    torch.manual_seed(0)
    return PlainConvUNet(
        2,
        2,
        (4, 8),
        torch.nn.Conv3d,
        3,
        (1, 2),
        (1, 1),
        3,
        (1,),
        False,
        torch.nn.InstanceNorm3d,
        {"eps": 1e-5, "affine": True},
        None,
        None,
        torch.nn.LeakyReLU,
        {"inplace": True},
    )


@functools.cache
def nnunetCheckpointBytes() -> bytes:
    """``torch.save`` bytes of a checkpoint laid out as nnU-Net's ``nnUNetTrainer.save_checkpoint`` writes it:
    network and optimizer state, and a training log with NumPy scalars (what ``weights_only`` refuses)."""
    import numpy as np
    import torch

    network = plainConvUNet()
    optimizer = torch.optim.SGD(network.parameters(), 0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)
    network(torch.randn(1, 2, 8, 8, 8)).sum().backward()
    optimizer.step()
    checkpoint = {
        "network_weights": network.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "grad_scaler_state": None,
        "logging": {
            "mean_fg_dice": [np.float64(0.5)],
            "ema_fg_dice": [np.float64(0.5)],
            "dice_per_class_or_region": [[np.float64(0.5)]],
            "train_losses": [np.float32(-0.25)],
            "val_losses": [np.float32(-0.2)],
            "lrs": [0.01],
            "epoch_start_timestamps": [1.0],
            "epoch_end_timestamps": [2.0],
        },
        "_best_ema": np.float64(0.5),
        "current_epoch": 1,
        "init_args": {
            "plans": {"plans_name": "nnUNetPlans"},
            "configuration": "3d_fullres",
            "fold": 0,
            "dataset_json": datasetJson(),
            "device": torch.device("cpu"),
        },
        "trainer_name": "nnUNetTrainer",
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }
    stream = io.BytesIO()
    torch.save(checkpoint, stream)
    return stream.getvalue()


@functools.cache
def stateDictBytes() -> bytes:
    """``torch.save`` bytes of a plain state dict (tensors only)."""
    import torch

    stream = io.BytesIO()
    torch.save(plainConvUNet().state_dict(), stream)
    return stream.getvalue()


def datasetJson() -> dict:
    return {
        "channel_names": {"0": "T1c", "1": "FLAIR"},
        "labels": {"background": 0, "tumour": 1, "oedema": 2},
        "numTraining": 4,
        "file_ending": ".nii.gz",
        "name": "Dataset001_Tiny",
        "description": "tiny test model",
    }


def writeNnunetModel(
    folder: pathlib.Path, folds=(0,), checkpoint: str = "checkpoint_final.pth", dataset: dict | None = None
) -> pathlib.Path:
    """An nnU-Net trained-model folder with nnU-Net's extra files (debug.json, progress.png, validation/)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps(dataset or datasetJson()))
    (folder / "plans.json").write_text(json.dumps({"plans_name": "nnUNetPlans", "configurations": {"3d_fullres": {}}}))
    (folder / "dataset_fingerprint.json").write_text("{}")
    for fold in folds:
        (folder / f"fold_{fold}" / "validation").mkdir(parents=True)
        (folder / f"fold_{fold}" / checkpoint).write_bytes(nnunetCheckpointBytes())
        (folder / f"fold_{fold}" / "debug.json").write_text("{}")
        (folder / f"fold_{fold}" / "progress.png").write_bytes(b"\x89PNG")
        (folder / f"fold_{fold}" / "validation" / "summary.json").write_text("{}")
        (folder / f"fold_{fold}" / "validation" / "case_001.nii.gz").write_bytes(b"patient data")
    return folder


def writeTorchScriptModel(folder: pathlib.Path, name: str = "net") -> pathlib.Path:
    """A TorchScript file ``name.pt`` and its sidecar ``name.json``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated but TorchScript files abound
        torch.jit.save(torch.jit.script(torch.nn.Conv3d(1, 2, 1)), str(folder / f"{name}.pt"))
    (folder / f"{name}.json").write_text(
        json.dumps(
            {
                "version": "2.1",
                "inputs": ["FLAIR"],
                "labels": {"1": "tumour"},
                "roiSize": [32, 32, 32],
                "licence": "CC-BY-4.0",
            }
        )
    )
    return folder / f"{name}.pt"


def writeNetworkModel(folder: pathlib.Path) -> pathlib.Path:
    """A MONAI network folder: metadata ``model.json`` and state-dict weights ``weights.pth``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.pth").write_bytes(monaiUNetBytes())
    (folder / "model.json").write_text(
        json.dumps(
            {
                "network": "monai.networks.nets.UNet",
                "networkArgs": UNET_ARGUMENTS,
                "spacing": [1, 1, 1],
                "inputs": [{"sequence": "T2", "channel": 1}, {"sequence": "T1c", "channel": 0}],
                "labels": [{"value": 1, "name": "tumour", "color": [1, 0, 0], "terminology": "SCT^108369006^Neoplasm"}],
            }
        )
    )
    return folder


UNET_ARGUMENTS = {"spatial_dims": 3, "in_channels": 2, "out_channels": 2, "channels": [4, 8], "strides": [2]}


@functools.cache
def monaiUNetBytes() -> bytes:
    """``torch.save`` bytes of a small MONAI UNet's state dict."""
    import torch
    from monai.networks.nets import UNet

    torch.manual_seed(2)
    stream = io.BytesIO()
    torch.save(UNet(**UNET_ARGUMENTS).state_dict(), stream)
    return stream.getvalue()


def zipFolder(folder: pathlib.Path, archive: pathlib.Path, prefix: str = "") -> pathlib.Path:
    """Zip every file under ``folder`` (names under ``prefix``), as ``zip -r`` would."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as sink:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                sink.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def writeZip(archive: pathlib.Path, entries: list[tuple[str, bytes, int]]) -> pathlib.Path:
    """A zip with raw entries ``(name, data, unix mode)``; ``mode`` 0 leaves the attributes unset."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as sink:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode:
                info.create_system = 3
                info.external_attr = mode << 16
            sink.writestr(info, data)
    return archive


LINK = stat.S_IFLNK | 0o777
CHARACTER_DEVICE = stat.S_IFCHR | 0o644
FILE = stat.S_IFREG | 0o644
