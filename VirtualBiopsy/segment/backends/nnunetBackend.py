"""nnU-Net v2 trained-model folders, run through nnU-Net's own predictor with safely loaded weights.

A trained-model folder holds ``dataset.json``, ``plans.json`` and ``fold_N/checkpoint_final.pth``
(or ``checkpoint_best.pth``); a folder of such folders (``Trainer__Plans__configuration``) is
accepted with the configuration chosen in the options. nnU-Net's
``initialize_from_trained_model_folder`` unpickles every checkpoint in full and imports whatever class
paths ``plans.json`` names; here every file is read through :class:`~VirtualBiopsy.models.modelFiles.ModelFiles`
(hash-checked; checkpoints ``weights_only=True``, full unpickling only for a trusted model whose hash matches),
every name the plans and the checkpoint make nnU-Net resolve is checked against
:mod:`~VirtualBiopsy.models.allowList` (unless the model is trusted), the trainer is looked up in the
installed nnU-Net alone, the network is built as nnU-Net builds it, and ``nnUNetPredictor.manual_initialization``
takes over: preprocessing, sliding window, test-time mirroring, fold averaging and resampling back are nnU-Net's.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.models.allowList import (
    checkNnunetPlans,
    checkNnunetTrainerName,
    refuse,
)
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress
from VirtualBiopsy.segment.backends.nnunetFolder import (
    chooseCheckpoints,
    findTrainedModelFolder,
)
from VirtualBiopsy.segment.backends.result import BackendResult
from VirtualBiopsy.segment.backends.torchSupport import forwardProgress, torchDevice

if TYPE_CHECKING:
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NnunetOptions:
    """How an nnU-Net model runs.

    :ivar configuration: ``3d_fullres``, ``2d``, …; ``None``: the only one in the folder, or the checkpoint's.
    :ivar folds: folds to ensemble (``"all"`` allowed); ``None``: every fold with a checkpoint.
    :ivar checkpointName: the checkpoint file in each fold; ``None``: final, else best.
    :ivar useMirroring: test-time mirroring along the axes the model allows.
    :ivar device: ``auto``, ``cpu`` or ``cuda``.
    :ivar tileStepSize: sliding-window step as a fraction of the patch (nnU-Net's default 0.5).
    :ivar perFold: also return each fold's probabilities (for the variance across folds).
    """

    configuration: str | None = None
    folds: tuple[int | str, ...] | None = None
    checkpointName: str | None = None
    useMirroring: bool = True
    device: str = "auto"
    tileStepSize: float = 0.5
    perFold: bool = False


def predictNnunet(
    images: Sequence[sitk.Image],
    modelFolder: pathlib.Path,
    options: NnunetOptions = NnunetOptions(),
    progress: ProgressCallback = noProgress,
    cancel: CancelToken | None = None,
    files: ModelFiles | None = None,
) -> BackendResult:
    """Segment one case (channels in the model's order, on one grid) with an nnU-Net model.

    :param files: the model's files as checked against its manifest entry (:meth:`ModelFiles.checked`), so
        hashes are checked and trust applies; default: the folder's files unchecked and untrusted.

    For a region-based model the "probabilities" are nnU-Net's per-region sigmoids (no background channel),
    flagged ``regions`` in the provenance.

    Voxels go to nnU-Net as SimpleITK arrays (z, y, x) with the spacing reversed, as nnU-Net's
    ``SimpleITKIO`` reads files, so the result equals nnU-Net on the same files.

    :raises ModelError: for an incomplete model folder or unusable checkpoints.
    :raises UnsafeModelError: when an untrusted model names a class or function outside the allow-list.
    :raises InputError: for a channel count the model does not take.
    :raises CancelledError: when ``cancel`` is set.
    """
    torch = requirePackage("torch")
    files = files or ModelFiles(None, modelFolder)
    predictor, configuration, folds, weights = _predictorFor(modelFolder, options, files, len(images))
    if cancel:
        cancel.raiseIfCancelled()
    progress(0.05, "Preprocessing (nnU-Net)")
    voxels = np.stack([sitk.GetArrayFromImage(image).astype(np.float32) for image in images])
    properties = {"spacing": list(images[0].GetSpacing())[::-1]}
    preprocessor = predictor.configuration_manager.preprocessor_class(verbose=False)
    data, _seg, properties = preprocessor.run_case_npy(
        voxels, None, properties, predictor.plans_manager, predictor.configuration_manager, predictor.dataset_json
    )
    data = torch.from_numpy(data)

    passes = _forwardPasses(predictor, data.shape[1:]) * len(weights)
    with forwardProgress(predictor.network, passes, progress, cancel, 0.1, 0.9, "Sliding window"):
        if options.perFold:
            perFold = []
            for parameters in weights:
                predictor.list_of_parameters = [parameters]
                perFold.append(predictor.predict_logits_from_preprocessed_data(data).cpu())
            logits = perFold[0].clone()
            for foldLogits in perFold[1:]:
                logits += foldLogits  # nnU-Net's own averaging, in its precision and order
            if len(perFold) > 1:
                logits /= len(perFold)
        else:
            predictor.list_of_parameters = weights
            logits = predictor.predict_logits_from_preprocessed_data(data).cpu()
    if cancel:
        cancel.raiseIfCancelled()
    progress(0.9, "Resampling to the input grid")
    labels, probabilities = _toInputGrid(predictor, logits, properties)
    members = (
        [_toInputGrid(predictor, foldLogits, properties)[1] for foldLogits in perFold] if options.perFold else None
    )
    labelMap = sitk.GetImageFromArray(labels)
    labelMap.CopyInformation(images[0])
    labelManager = predictor.label_manager
    regions = bool(labelManager.has_regions)
    values = tuple(int(v) for v in (labelManager.regions_class_order if regions else labelManager.all_labels))
    provenance = {
        "regions": regions,
        "backend": "nnunet",
        "configuration": configuration,
        "trainer": predictor.trainer_name,
        "folds": [str(f) for f in folds],
        "device": str(predictor.device),
        "testTimeAugmentation": bool(options.useMirroring and predictor.allowed_mirroring_axes),
        "mirrorAxes": list(predictor.allowed_mirroring_axes or ()),
        "tileStepSize": options.tileStepSize,
        "nnunetVersion": _version("nnunetv2"),
        "torchVersion": torch.__version__,
    }
    progress(1.0, "nnU-Net inference done")
    return BackendResult(labelMap, probabilities, values[-len(probabilities) :], members, provenance)


def _predictorFor(modelFolder, options: NnunetOptions, files: ModelFiles, channelCount: int):
    """An ``nnUNetPredictor`` initialised manually from checked files and safely loaded checkpoints, mirroring
    ``initialize_from_trained_model_folder``."""
    requirePackage("nnunetv2")
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.utilities.label_handling.label_handling import (
        determine_num_input_channels,
    )
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    folder = findTrainedModelFolder(modelFolder, options.configuration)
    datasetJson = files.readJson(folder / "dataset.json")
    plans = files.readJson(folder / "plans.json")
    if not files.trusted:
        checkNnunetPlans(plans, str(folder / "plans.json"))
    plansManager = PlansManager(plans)
    folds, checkpoints = chooseCheckpoints(folder, options.folds, options.checkpointName)
    loaded = [files.loadCheckpoint(path) for path in checkpoints]
    weights = [_requireKey(checkpoint, "network_weights", path) for checkpoint, path in zip(loaded, checkpoints)]
    first = loaded[0]
    trainerName = _requireKey(first, "trainer_name", checkpoints[0])
    trainerClass = _trainerClass(trainerName, files.trusted, str(checkpoints[0]))
    initArguments = first.get("init_args") or {}
    configuration = options.configuration or initArguments.get("configuration") or folder.name.split("__")[-1]
    if configuration not in plansManager.available_configurations:
        raise ModelError(
            f"Configuration '{configuration}' is not in {folder / 'plans.json'} (it has "
            f"{', '.join(plansManager.available_configurations)}); set the model's configuration option."
        )
    configurationManager = plansManager.get_configuration(configuration)
    inputs = determine_num_input_channels(plansManager, configurationManager, datasetJson)
    if inputs != channelCount:
        raise InputError(
            f"The nnU-Net model in {folder} takes {inputs} input channel(s) but {channelCount} image(s) "
            "were given; give one image per channel of its dataset.json."
        )
    heads = plansManager.get_label_manager(datasetJson).num_segmentation_heads
    network = _buildNetwork(trainerClass, plansManager, configurationManager, inputs, heads)
    try:
        network.load_state_dict(weights[0])
    except RuntimeError as error:
        raise ModelError(
            f"The weights of {checkpoints[0]} do not fit the network its plans describe: "
            f"{str(error).splitlines()[0]}. The checkpoint and plans.json belong to different models."
        ) from error
    mirrorAxes = first.get("inference_allowed_mirroring_axes")
    device = torchDevice(options.device)
    with contextlib.redirect_stdout(io.StringIO()):  # on CPU nnU-Net prints a note about CUDA on every case
        predictor = nnUNetPredictor(
            tile_step_size=options.tileStepSize,
            use_gaussian=True,
            use_mirroring=options.useMirroring,
            perform_everything_on_device=device.type == "cuda",
            device=device,
            verbose=False,
            allow_tqdm=False,
        )
    predictor.manual_initialization(
        network,
        plansManager,
        configurationManager,
        weights,
        datasetJson,
        trainerName,
        tuple(mirrorAxes) if mirrorAxes is not None else None,
    )
    return predictor, configuration, folds, weights


def _trainerClass(trainerName: str, trusted: bool, where: str) -> type[nnUNetTrainer]:
    """The nnU-Net trainer class a checkpoint names: for an untrusted model only a subclass of ``nnUNetTrainer``
    defined in the installed nnU-Net (nnU-Net's own lookup also imports ``nnUNet_extTrainer`` folders)."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    if trainerName == "nnUNetTrainer":
        return nnUNetTrainer
    if trusted:
        from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

        try:
            return recursive_find_trainer_class_by_name(trainerName)
        except Exception as error:
            raise ModelError(
                f"nnU-Net trainer '{trainerName}' named in the checkpoint is not installed ({error}); "
                "install the package that defines it."
            ) from error
    import nnunetv2
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    checkNnunetTrainerName(trainerName, where)
    try:
        found = recursive_find_python_class(
            str(pathlib.Path(nnunetv2.__path__[0]) / "training" / "nnUNetTrainer"),
            trainerName,
            "nnunetv2.training.nnUNetTrainer",
        )
    except Exception as error:  # an nnU-Net module that fails to import (a missing optional package)
        raise ModelError(f"Cannot look up nnU-Net trainer '{trainerName}' named in {where} ({error}).") from error
    if not (inspect.isclass(found) and issubclass(found, nnUNetTrainer) and found.__module__.startswith("nnunetv2.")):
        raise refuse(
            where, "trainer_name", trainerName, "a trainer class (nnUNetTrainer or a subclass) of the installed nnU-Net"
        )
    return found


def _buildNetwork(trainerClass: type[nnUNetTrainer], plansManager, configurationManager, inputs: int, heads: int):
    if "plans_manager" in inspect.signature(trainerClass.build_network_architecture).parameters:
        return trainerClass.build_network_architecture(
            plansManager, configurationManager, inputs, heads, enable_deep_supervision=False
        )
    return trainerClass.build_network_architecture(
        configurationManager.network_arch_class_name,
        configurationManager.network_arch_init_kwargs,
        configurationManager.network_arch_init_kwargs_req_import,
        inputs,
        heads,
        enable_deep_supervision=False,
    )


def _forwardPasses(predictor, shape: Sequence[int]) -> int:
    """Forward passes of one fold: sliding-window tiles times mirrored copies."""
    from nnunetv2.inference.sliding_window_prediction import (
        compute_steps_for_sliding_window,
    )

    patch = predictor.configuration_manager.patch_size
    padded = [max(s, p) for s, p in zip(shape[-len(patch) :], patch)]
    steps = compute_steps_for_sliding_window(padded, patch, predictor.tile_step_size)
    tiles = int(np.prod([len(s) for s in steps])) * (
        int(np.prod(shape[: -len(patch)])) if len(patch) < len(shape) else 1
    )
    axes = predictor.allowed_mirroring_axes if predictor.use_mirroring else None
    return tiles * (2 ** len(axes) if axes else 1)


def _toInputGrid(predictor, logits, properties) -> tuple[np.ndarray, np.ndarray]:
    from nnunetv2.inference.export_prediction import (
        convert_predicted_logits_to_segmentation_with_correct_shape,
    )

    labels, probabilities = convert_predicted_logits_to_segmentation_with_correct_shape(
        logits,
        predictor.plans_manager,
        predictor.configuration_manager,
        predictor.label_manager,
        properties,
        return_probabilities=True,
    )
    return np.ascontiguousarray(labels), np.ascontiguousarray(probabilities, dtype=np.float32)


def _requireKey(checkpoint: object, key: str, path: pathlib.Path):
    if not isinstance(checkpoint, dict) or key not in checkpoint:
        raise ModelError(f"Checkpoint {path} has no '{key}'; it is not an nnU-Net v2 training checkpoint.")
    return checkpoint[key]


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
