"""A trained CNN classifier's folder: ``weights.pt`` (a ``torch.save``'d state dict) and ``config.json``.

The folder is registered in the model manifest (backend ``monai-classifier``) with the SHA-256 of both files;
loading checks them (:func:`~VirtualBiopsy.models.checkpoints.openVerified`) and reads the weights with
``weights_only=True``. Manifest labels are the classes, numbered from 1 in the config's class order.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import InputError, ModelError, requirePackage
from VirtualBiopsy.files import exclusiveLock
from VirtualBiopsy.models.allowList import checkMonaiNetwork
from VirtualBiopsy.models.checkpoints import loadCheckpoint, openVerified
from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.models.manifest import readManifest, writeManifest
from VirtualBiopsy.models.modelDetection import requireModelId
from VirtualBiopsy.models.modelEntry import ModelEntry, ModelInput, ModelLabel
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.models.verification import requireIntact
from VirtualBiopsy.outcome.deep.networks import buildNetwork

logger = logging.getLogger(__name__)

BACKEND = "monai-classifier"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.pt"
FORMAT = "virtual-biopsy-cnn-classifier"
_REQUIRED = ("format", "network", "networkArgs", "channels", "classes", "crop", "target", "targetLayer", "featureLayer")
_COLOURS = ((0.0, 0.447, 0.698), (0.835, 0.369, 0.0), (0.0, 0.620, 0.451), (0.8, 0.475, 0.655))


@dataclass
class ClassifierModel:
    """A loaded classifier, in eval mode on the CPU.

    :ivar network: the MONAI network.
    :ivar config: the folder's ``config.json``.
    :ivar entry: its manifest entry (hashes checked when it was loaded).
    """

    network: Any
    config: dict[str, Any]
    entry: ModelEntry

    @property
    def channels(self) -> list[str]:
        return list(self.config["channels"])

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def cropSize(self) -> int:
        return int(self.config["crop"]["size"])

    @property
    def cropSpacing(self) -> float:
        return float(self.config["crop"]["spacing"])


def folderEntry(modelDir: str | os.PathLike, modelId: str) -> ModelEntry:
    """The manifest entry of a classifier folder as it is now (absolute path, hashes computed now, not trusted).

    :raises InputError: for a folder that is not a classifier folder.
    """
    modelDir = pathlib.Path(modelDir).absolute()
    config = _readConfig(modelDir / CONFIG_NAME)
    treeHash, files = treeHashes(modelDir)
    if sorted(files) != sorted([CONFIG_NAME, WEIGHTS_NAME]):
        raise InputError(
            f"Classifier folder {modelDir} holds {', '.join(sorted(files))}; it must hold exactly "
            f"{CONFIG_NAME} and {WEIGHTS_NAME} (as 'virtual-biopsy outcome cnn train' writes it)."
        )
    return ModelEntry(
        id=requireModelId(modelId),
        version=str(config.get("version", "1")),
        backend=BACKEND,
        path=str(modelDir),
        inputs=tuple(ModelInput(name, index) for index, name in enumerate(config["channels"])),
        labels=tuple(
            ModelLabel(index + 1, str(name), _COLOURS[index % len(_COLOURS)])
            for index, name in enumerate(config["classes"])
        ),
        sha256=treeHash,
        files=files,
        description=f"3D CNN ({config['network']}) predicting '{config['target']}' from tumour-centred crops",
        source="virtual-biopsy outcome cnn train",
        options={
            "target": config["target"],
            "classes": list(config["classes"]),
            "network": config["network"],
            "cropSize": config["crop"]["size"],
            "cropSpacing": config["crop"]["spacing"],
        },
    )


def registerModel(modelDir: str | os.PathLike, registry: ModelRegistry, modelId: str | None = None) -> ModelEntry:
    """List the classifier folder, in place, in the registry's user manifest.

    :param modelId: the id (default: the folder's name).
    :raises InputError: when the id is taken or the folder is not a classifier folder (nothing is written).
    """
    modelDir = pathlib.Path(modelDir).absolute()
    entry = folderEntry(modelDir, modelId or modelDir.name)
    with exclusiveLock(registry.userFolder / ".models.lock"):
        taken = [item.id for item in registry.list() if item.id.lower() == entry.id.lower()]
        if taken:
            raise InputError(
                f"A model with id '{taken[0]}' exists already; the classifier was not registered. "
                f"Choose another id (e.g. --id {entry.id}-2)."
            )
        user = readManifest(registry.userManifest) if registry.userManifest.exists() else []
        writeManifest(registry.userManifest, [*user, entry])
    return entry


def resolveModel(model: str | os.PathLike, registry: ModelRegistry | None = None) -> tuple[ModelEntry, pathlib.Path]:
    """The entry and folder of ``model``: a classifier folder (its registered entry when it has one, else hashes
    computed now) or a registered model id.

    :raises InputError: for an unknown id or a path that is no classifier folder.
    """
    registry = registry or ModelRegistry()
    path = pathlib.Path(model)
    if path.is_dir():
        resolved = path.resolve()
        for entry in registry.list():
            if entry.backend == BACKEND and registry.modelPath(entry).resolve() == resolved:
                return entry, registry.modelPath(entry)
        logger.info("Classifier folder %s is not registered; its hashes were computed now.", path)
        return folderEntry(path, _idFromName(path.name)), path.absolute()
    if os.sep in str(model) or path.exists():
        raise InputError(
            f"Model {model} is neither a classifier folder nor a model id; give the folder that "
            "'virtual-biopsy outcome cnn train' wrote, or its id ('virtual-biopsy models list')."
        )
    entry = registry.get(str(model))
    if entry.backend != BACKEND:
        raise InputError(
            f"Model '{entry.id}' is a {entry.backend} model, not a CNN classifier; give a model "
            "trained with 'virtual-biopsy outcome cnn train'."
        )
    return entry, registry.modelPath(entry)


def loadClassifier(model: str | os.PathLike, registry: ModelRegistry | None = None) -> ClassifierModel:
    """Load a classifier by folder or id, after checking every file's SHA-256 against its manifest entry.

    :raises ModelError: for changed, missing or extra files, or weights that do not fit the network.
    :raises InputError: for an unknown model.
    """
    torch = requirePackage("torch")
    entry, root = resolveModel(model, registry)
    requireIntact(entry, root)
    with openVerified(root / CONFIG_NAME, entry, root) as handle:
        config = _parseConfig(handle.read(), root / CONFIG_NAME)
    checkMonaiNetwork(config["network"], config["networkArgs"], str(root / CONFIG_NAME))
    network = buildNetwork(config["network"], config["networkArgs"])
    state = loadCheckpoint(root / WEIGHTS_NAME, entry, root)
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ModelError(f"{root / WEIGHTS_NAME} is not a state dict of tensors; retrain or restore the model.")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(
            f"The weights in {root / WEIGHTS_NAME} do not fit {config['network']} "
            f"({str(error).splitlines()[0]}); the folder's files do not belong together."
        ) from error
    network.eval()
    return ClassifierModel(network, config, entry)


def writeModelFiles(folder: pathlib.Path, stateDict: dict[str, Any], config: dict[str, Any]) -> None:
    """Write ``weights.pt`` and ``config.json`` into the (new, staging) ``folder``."""
    torch = requirePackage("torch")
    torch.save(stateDict, folder / WEIGHTS_NAME)
    (folder / CONFIG_NAME).write_text(
        json.dumps({"format": FORMAT, **config}, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )


def _readConfig(path: pathlib.Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(
            f"{path.parent} has no {CONFIG_NAME}; give a folder written by 'virtual-biopsy outcome cnn train'."
        )
    return _parseConfig(path.read_bytes(), path)


def _parseConfig(data: bytes, path: pathlib.Path) -> dict[str, Any]:
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelError(f"{path} is not valid JSON ({error}); retrain or restore the model.") from error
    missing = [key for key in _REQUIRED if not isinstance(config, dict) or key not in config]
    if missing or config.get("format") != FORMAT:
        raise ModelError(
            f"{path} is not a CNN classifier config (missing {', '.join(missing) or 'nothing'}, format "
            f"{config.get('format') if isinstance(config, dict) else None!r}); retrain or restore it."
        )
    return config


def _idFromName(name: str) -> str:
    cleaned = "".join(character if character.isalnum() or character in "._-" else "-" for character in name)
    cleaned = cleaned.strip("._-")[:64]
    return cleaned or "classifier"
