"""Predict with a trained-model folder written by :mod:`.nnunetTraining`, loading weights only.

nnU-Net's own ``initialize_from_trained_model_folder`` unpickles the checkpoint
(``weights_only=False``); this loader reads our weights-only checkpoint with
``torch.load(weights_only=True)`` and hands the network to nnU-Net's predictor through
``manual_initialization``. Used to evaluate freshly trained models; the segmentation
backends serve models to users.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import GeometryError, ModelError, requirePackage

#: Trainer classes whose network this loader can rebuild.
KNOWN_TRAINERS = ("nnUNetTrainer",)


def loadPredictor(modelFolder: str | pathlib.Path, fold: int | str = "all", device: str = "cpu",
                  mirroring: bool = False, tileStepSize: float = 0.5):
    """An ``nnUNetPredictor`` ready to run the model of ``modelFolder/fold_F/checkpoint_final.pth``.

    :raises ModelError: for missing files, a checkpoint that needs unpickling, or an unknown trainer.
    """
    torch = requirePackage("torch")
    requirePackage("nnunetv2")
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    folder = pathlib.Path(modelFolder)
    checkpointPath = folder / f"fold_{fold}" / "checkpoint_final.pth"
    for path in (folder / "dataset.json", folder / "plans.json", checkpointPath):
        if not path.is_file():
            raise ModelError(f"Trained-model folder {folder} lacks {path.relative_to(folder)}; give a folder "
                             "written by the nnU-Net training (dataset.json, plans.json, fold_F/checkpoint_final.pth).")
    try:
        checkpoint = torch.load(checkpointPath, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - unpickling errors come in many types
        raise ModelError(f"Checkpoint {checkpointPath} does not load with weights_only=True ({error}); "
                         "only weights-only checkpoints are loaded here.") from error
    if checkpoint.get("trainer_name") not in KNOWN_TRAINERS:
        raise ModelError(f"Checkpoint {checkpointPath} was trained with {checkpoint.get('trainer_name')!r}; "
                         f"this loader rebuilds only {', '.join(KNOWN_TRAINERS)}.")
    datasetJson = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    plansManager = PlansManager(json.loads((folder / "plans.json").read_text(encoding="utf-8")))
    configurationManager = plansManager.get_configuration(checkpoint["init_args"]["configuration"])
    network = nnUNetTrainer.build_network_architecture(
        plansManager, configurationManager,
        determine_num_input_channels(plansManager, configurationManager, datasetJson),
        plansManager.get_label_manager(datasetJson).num_segmentation_heads, enable_deep_supervision=False)
    network.load_state_dict(checkpoint["network_weights"])
    predictor = nnUNetPredictor(tile_step_size=tileStepSize, use_mirroring=mirroring, device=torch.device(device),
                                allow_tqdm=False)
    predictor.manual_initialization(network, plansManager, configurationManager, [checkpoint["network_weights"]],
                                    datasetJson, checkpoint["trainer_name"],
                                    checkpoint["inference_allowed_mirroring_axes"])
    return predictor


def predictImages(predictor, images: list[sitk.Image]) -> sitk.Image:
    """The label map that ``predictor`` gives for ``images`` (one per channel, on one grid), on their grid.

    The arrays go to nnU-Net as its SimpleITK reader would give them (z, y, x; spacing reversed).

    :raises GeometryError: when the images do not share one grid or their number is not the model's.
    """
    channels = len(predictor.dataset_json["channel_names"])
    if len(images) != channels:
        raise GeometryError(f"The model takes {channels} channel(s) but {len(images)} image(s) were given.")
    reference = images[0]
    for image in images[1:]:
        if image.GetSize() != reference.GetSize() or not np.allclose(image.GetSpacing(), reference.GetSpacing()):
            raise GeometryError("The input images do not share one grid; resample them onto the first image's grid.")
    data = np.stack([sitk.GetArrayFromImage(image).astype(np.float32) for image in images])
    properties = {"spacing": list(reference.GetSpacing())[::-1]}
    labels = predictor.predict_single_npy_array(data, properties, None, None, False)
    result = sitk.GetImageFromArray(np.asarray(labels).astype(np.uint8))
    result.CopyInformation(reference)
    return result
