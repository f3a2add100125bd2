"""nnU-Net v2 trained-model folders: where the model is, which folds and checkpoints, what grid it runs on."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import SimpleITK as sitk

from VirtualBiopsy.errors import ModelError

CHECKPOINT_NAMES = ("checkpoint_final.pth", "checkpoint_best.pth")


def findTrainedModelFolder(path: pathlib.Path, configuration: str | None) -> pathlib.Path:
    """The folder with ``plans.json``: ``path`` itself or its one ``*__*__<configuration>`` subfolder.

    :raises ModelError: when ``dataset.json``/``plans.json`` are missing or the configuration is ambiguous.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ModelError(f"nnU-Net model folder {path} does not exist or is not a folder.")
    if not (path / "plans.json").is_file():
        candidates = sorted(p for p in path.iterdir() if p.is_dir() and (p / "plans.json").is_file())
        if configuration:
            candidates = [p for p in candidates if p.name.split("__")[-1] == configuration]
        if len(candidates) != 1:
            found = ", ".join(p.name for p in candidates) or "none"
            raise ModelError(
                f"{path} has no plans.json and {len(candidates)} trained-model subfolders match configuration "
                f"{configuration!r} (found: {found}). Give the folder that holds dataset.json, plans.json and "
                "fold_N/, or set the configuration."
            )
        path = candidates[0]
    for required in ("dataset.json", "plans.json"):
        if not (path / required).is_file():
            raise ModelError(f"nnU-Net model folder {path} has no {required}; it is not a complete trained model.")
    return path


def nnunetWorkingGrid(
    modelFolder: pathlib.Path,
    configuration: str | None,
    image: sitk.Image,
    readPlans: Callable[[pathlib.Path], Any] | None = None,
) -> tuple[list[int], list[int]]:
    """The voxel shape the network sees after nnU-Net's resampling, and its patch size (for the memory check).

    :param readPlans: reads ``plans.json`` (default: unchecked; pass ``ModelFiles.readJson`` for a model's files).
    :raises ModelError: for an incomplete folder or an unknown configuration.
    """
    plans, name = _plansConfiguration(modelFolder, configuration, readPlans)
    target = plans["configurations"][name].get("spacing") or []
    patch = [int(v) for v in plans["configurations"][name].get("patch_size") or []]
    order = plans.get("transpose_forward", [0, 1, 2])
    size, spacing = image.GetSize()[::-1], image.GetSpacing()[::-1]
    shape = [max(1, round(size[axis] * spacing[axis] / t)) for axis, t in zip(order, target)] or list(size)
    if len(patch) < len(shape):  # a 2D configuration runs slice by slice
        patch = [1] * (len(shape) - len(patch)) + patch
    return shape, patch or list(shape)


def nnunetInputGrid(
    modelFolder: pathlib.Path, configuration: str | None, readPlans: Callable[[pathlib.Path], Any] | None = None
) -> tuple[list[float | None], list[int]]:
    """The spacing (x, y, z, mm) nnU-Net resamples an image to (``None`` along an axis it does not resample,
    the slice axis of a 2D configuration) and its patch (x, y, z; 1 along the slice axis of a 2D configuration).

    :raises ModelError: for an incomplete folder or an unknown configuration.
    """
    plans, name = _plansConfiguration(modelFolder, configuration, readPlans)
    target: list[float | None] = [float(v) for v in plans["configurations"][name].get("spacing") or []]
    patch = [int(v) for v in plans["configurations"][name].get("patch_size") or []]
    order = list(plans.get("transpose_forward", [0, 1, 2]))
    patch = [1] * (3 - len(patch)) + patch  # a 2D configuration: one slice along the first (transposed) axis
    padding: list[float | None] = [None] * (3 - len(target))
    target = padding + target
    spacingXyz: list[float | None] = [None, None, None]
    patchXyz = [1, 1, 1]
    for position, axis in enumerate(order[:3]):  # position in the transposed array, axis of the k, j, i array
        patchXyz[2 - axis] = patch[position]
        spacingXyz[2 - axis] = target[position]
    return spacingXyz, patchXyz


def _plansConfiguration(
    modelFolder: pathlib.Path, configuration: str | None, readPlans: Callable[[pathlib.Path], Any] | None
) -> tuple[dict[str, Any], str]:
    folder = findTrainedModelFolder(modelFolder, configuration)
    plans = (readPlans or readJson)(folder / "plans.json")
    configurations = plans.get("configurations", {})
    name: str | None = configuration or folder.name.split("__")[-1]
    if name not in configurations:
        name = next(iter(configurations), None) if len(configurations) == 1 else None
    if name is None:
        raise ModelError(
            f"Cannot tell which configuration of {folder / 'plans.json'} to run; set the model's configuration option."
        )
    return plans, name


def chooseCheckpoints(
    folder: pathlib.Path, folds: Sequence[int | str] | None, checkpointName: str | None
) -> tuple[list[int | str], list[pathlib.Path]]:
    """The folds to run (given, or every numbered fold with a checkpoint) and their checkpoint files.

    :raises ModelError: for a fold without a checkpoint, or a folder without any.
    """
    chosen = _chooseFolds(folder, folds)
    return chosen, [_checkpointOf(folder, fold, checkpointName) for fold in chosen]


def _chooseFolds(folder: pathlib.Path, folds: Sequence[int | str] | None) -> list[int | str]:
    available = sorted(
        (
            p.name[len("fold_") :]
            for p in folder.glob("fold_*")
            if p.is_dir() and any((p / name).is_file() for name in CHECKPOINT_NAMES)
        ),
        key=_foldKey,
    )
    if folds is None:
        numbered = [fold for fold in available if fold != "all"]
        chosen = numbered or available
    else:
        chosen = [str(fold) for fold in folds]
        missing = [fold for fold in chosen if fold not in available]
        if missing:
            raise ModelError(
                f"Fold(s) {', '.join(missing)} have no checkpoint in {folder} (available: "
                f"{', '.join(available) or 'none'}); choose among the available folds."
            )
    if not chosen:
        raise ModelError(
            f"{folder} has no fold_N/{CHECKPOINT_NAMES[0]}; the model was not trained or not copied whole."
        )
    return [int(fold) if fold != "all" else fold for fold in chosen]


def _checkpointOf(folder: pathlib.Path, fold: int | str, name: str | None) -> pathlib.Path:
    for candidate in (name,) if name else CHECKPOINT_NAMES:
        path = folder / f"fold_{fold}" / candidate
        if path.is_file():
            return path
    raise ModelError(f"fold_{fold} of {folder} has no {name or ' or '.join(CHECKPOINT_NAMES)}.")


def readJson(path: pathlib.Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{path} is not readable JSON ({error}); restore it from the model's source.") from error


def _foldKey(fold: str) -> tuple[int, int | str]:
    return (0, int(fold)) if fold.isdigit() else (1, fold)
