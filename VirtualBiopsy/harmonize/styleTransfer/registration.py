"""Register a trained style-transfer model folder in the model registry."""

from __future__ import annotations

import os
import pathlib

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.cycleGanFolder import KIND, isCycleGanFolder
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.registry import ModelRegistry


def registerStyleModel(
    modelFolder: str | os.PathLike, modelId: str | None = None, modelsFolder: str | os.PathLike | None = None
) -> ModelEntry:
    """Copy a trained model folder into the model registry and list it, with its tree hash, in the user manifest.

    :param modelId: the id (default: the folder's name).
    :param modelsFolder: the registry's user folder (default: the user's).
    :returns: the new :class:`~VirtualBiopsy.models.modelEntry.ModelEntry`.
    :raises InputError: for a folder that is not a CycleGAN model or an id in use (nothing is registered).
    """
    if not isCycleGanFolder(pathlib.Path(modelFolder)):
        raise InputError(
            f'{modelFolder} is not a CycleGAN model folder (no config.json with "kind": "{KIND}"); '
            "give a folder written by 'virtual-biopsy styletransfer train'."
        )
    return ModelRegistry(modelsFolder).importModel(modelFolder, modelId)
