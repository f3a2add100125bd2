"""A real, tiny nnU-Net v2 trained-model folder for inference tests.

nnU-Net's own fingerprint extraction and experiment planning run on a small
synthetic raw dataset (two channels, two labels, anisotropic spacing); the plans
are then shrunk (small patch, few features) so that inference takes a second,
the network is built from the plans as nnU-Net builds it, seeded random weights
are saved as ``fold_N/checkpoint_final.pth`` with the keys nnU-Net's trainer writes.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import SimpleITK as sitk

#: Sequence names of the two channels, in channel order.
CHANNELS = ("T1c", "FLAIR")
#: nnU-Net label names and values.
LABELS = {"background": 0, "Tumor": 1, "Edema": 2}
SPACING = (0.9, 1.0, 2.5)
PATCH = (8, 16, 16)


def syntheticCase(seed: int, size: tuple[int, int, int] = (20, 18, 9)) -> tuple[list[sitk.Image], sitk.Image]:
    """Two channels with a bright blob (tumour) in an edema shell, and the label map, on one grid."""
    rng = np.random.default_rng(seed)
    shape = size[::-1]
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]].astype(float)
    centre = np.array(shape) / 2 + rng.uniform(-1, 1, 3)
    distance = np.sqrt(
        ((z - centre[0]) * SPACING[2]) ** 2 + ((y - centre[1]) * SPACING[1]) ** 2 + ((x - centre[2]) * SPACING[0]) ** 2
    )
    labels = np.where(distance < 4, 1, np.where(distance < 7, 2, 0)).astype(np.uint8)
    images = []
    for channel in range(len(CHANNELS)):
        voxels = 100 + 50 * labels * (channel + 1) + rng.normal(0, 10, shape)
        images.append(sitk.GetImageFromArray(voxels.astype(np.float32)))
    labelImage = sitk.GetImageFromArray(labels)
    for image in (*images, labelImage):
        image.SetSpacing(SPACING)
        image.SetOrigin((3.0, -4.0, 12.0))
    return images, labelImage


def buildModelFolder(
    root: pathlib.Path,
    folds: tuple[int, ...] = (0, 1),
    seed: int = 0,
    patch: tuple[int, int, int] = PATCH,
    maxFeatures: int = 16,
) -> pathlib.Path:
    """Plan a tiny raw dataset with nnU-Net and write a trained-model folder under ``root``.

    :param patch: the patch size (z, y, x) written into the plans; ``maxFeatures``: the widest stage.

    :returns: the model folder (``dataset.json``, ``plans.json``, ``fold_N/checkpoint_final.pth``).
    """
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
    )
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.label_handling.label_handling import (
        determine_num_input_channels,
    )
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    name = "Dataset991_Tiny"
    raw, preprocessed = root / "raw", root / "preprocessed"
    (raw / name / "imagesTr").mkdir(parents=True)
    (raw / name / "labelsTr").mkdir()
    for case in range(3):
        images, labels = syntheticCase(case)
        for channel, image in enumerate(images):
            sitk.WriteImage(image, str(raw / name / "imagesTr" / f"tiny_{case:03d}_{channel:04d}.nii.gz"))
        sitk.WriteImage(labels, str(raw / name / "labelsTr" / f"tiny_{case:03d}.nii.gz"))
    datasetJson = {
        "channel_names": {str(i): n for i, n in enumerate(CHANNELS)},
        "labels": LABELS,
        "numTraining": 3,
        "file_ending": ".nii.gz",
    }
    (raw / name / "dataset.json").write_text(json.dumps(datasetJson))

    previous = {key: os.environ.get(key) for key in ("nnUNet_raw", "nnUNet_preprocessed")}
    os.environ.update(nnUNet_raw=str(raw), nnUNet_preprocessed=str(preprocessed))
    try:
        extract_fingerprints([991], num_processes=1, verbose=False, show_progress_bar=False)
        plan_experiments([991])
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    plans = json.loads((preprocessed / name / "nnUNetPlans.json").read_text(encoding="utf-8"))
    configuration = plans["configurations"]["3d_fullres"]
    configuration["patch_size"] = list(patch)
    architecture = configuration["architecture"]["arch_kwargs"]
    stages = len(architecture["features_per_stage"])
    architecture["features_per_stage"] = [min(4 * 2**i, maxFeatures) for i in range(stages)]

    model = root / "Dataset991_Tiny" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    model.mkdir(parents=True)
    (model / "plans.json").write_text(json.dumps(plans, indent=2))
    (model / "dataset.json").write_text(json.dumps(datasetJson, indent=2))
    plansManager = PlansManager(plans)
    configurationManager = plansManager.get_configuration("3d_fullres")
    channels = determine_num_input_channels(plansManager, configurationManager, datasetJson)
    heads = plansManager.get_label_manager(datasetJson).num_segmentation_heads
    for fold in folds:
        torch.manual_seed(seed + fold)
        network = nnUNetTrainer.build_network_architecture(
            plansManager, configurationManager, channels, heads, enable_deep_supervision=False
        )
        checkpoint = {
            "network_weights": network.state_dict(),
            "optimizer_state": {},
            "grad_scaler_state": None,
            "logging": {"mean_fg_dice": [0.5], "ema_fg_dice": [0.5]},
            "_best_ema": 0.5,
            "current_epoch": 1,
            "init_args": {
                "plans": plans,
                "configuration": "3d_fullres",
                "fold": fold,
                "dataset_json": datasetJson,
                "device": torch.device("cpu"),
            },
            "trainer_name": "nnUNetTrainer",
            "inference_allowed_mirroring_axes": (0, 1, 2),
        }
        (model / f"fold_{fold}").mkdir()
        torch.save(checkpoint, model / f"fold_{fold}" / "checkpoint_final.pth")
    return model
