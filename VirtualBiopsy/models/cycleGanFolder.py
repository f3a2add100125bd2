"""The files of a trained style-transfer model, and how the model registry recognises them.

A model folder holds ``config.json`` (``"kind": "cyclegan"``: networks, slice size, intensity mapping,
domains, sequence, training settings and losses, and the SHA-256 of the weights), ``generator.pt``
(the source→target generator's ``state_dict``, saved with ``torch.save``, loadable with
``weights_only=True``) and ``losses.csv`` (per-epoch mean losses).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.modelEntry import ModelInput
from VirtualBiopsy.models.modelLayout import ModelLayout

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "generator.pt"
LOSSES_NAME = "losses.csv"
#: The model's files, as the manifest lists them.
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, LOSSES_NAME)
#: ``config.json``'s ``kind``; also the manifest backend.
KIND = "cyclegan"
FORMAT_VERSION = 1


def isCycleGanFolder(path: pathlib.Path) -> bool:
    """Whether ``path`` is a folder whose ``config.json`` says ``"kind": "cyclegan"``."""
    config = pathlib.Path(path) / CONFIG_NAME
    if not config.is_file() or config.is_symlink() or config.stat().st_size > 1 << 20:
        return False
    try:
        document = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and document.get("kind") == KIND


def parseConfigDocument(document: Any, where: str) -> dict[str, Any]:
    """Check a model's ``config.json`` content and return it.

    :raises InputError: naming the missing or malformed key.
    """
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise InputError(
            f'{where} is not a CycleGAN model configuration (it needs "kind": "{KIND}"); '
            "give a folder written by 'virtual-biopsy styletransfer train'."
        )
    if document.get("formatVersion") != FORMAT_VERSION:
        raise InputError(
            f"{where} has format version {document.get('formatVersion')!r}; this version of Virtual "
            f"Biopsy reads version {FORMAT_VERSION}. Retrain the model or update Virtual Biopsy."
        )
    for key in ("networks", "intensity", "sequence", "sourceDomain", "targetDomain", "weights"):
        if key not in document:
            raise InputError(f"{where} has no '{key}'; the file is incomplete. Retrain the model.")
    return document


def cycleGanLayout(folder: pathlib.Path):
    """The :class:`~VirtualBiopsy.models.modelLayout.ModelLayout` of a CycleGAN model folder.

    :raises InputError: for a missing file or an incomplete configuration.
    """
    folder = pathlib.Path(folder)
    for name in MODEL_FILES:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise InputError(
                f"CycleGAN model folder {folder} has no file {name}; copy the whole folder written by "
                "'virtual-biopsy styletransfer train'."
            )
    document = parseConfigDocument(
        json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")), str(folder / CONFIG_NAME)
    )
    return ModelLayout(
        backend=KIND,
        root=folder,
        files=MODEL_FILES,
        inputs=(ModelInput(sequence=str(document["sequence"]), channel=0),),
        labels=(),
        version=str(document.get("version") or "unversioned"),
        description=f"CycleGAN style transfer of {document['sequence']}: {document['sourceDomain']} → "
        f"{document['targetDomain']}",
        source="virtual-biopsy styletransfer train",
        options={
            "sourceDomain": str(document["sourceDomain"]),
            "targetDomain": str(document["targetDomain"]),
            "weights": WEIGHTS_NAME,
            "config": CONFIG_NAME,
        },
    )
