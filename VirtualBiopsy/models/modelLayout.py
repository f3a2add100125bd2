"""What a model folder or file is: its backend, files and description, before it gets an id and hashes."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Any

from VirtualBiopsy.models.modelEntry import ModelInput, ModelLabel


@dataclass(frozen=True)
class ModelLayout:
    """What :func:`detectModel` found: a model's backend, files and description.

    :ivar root: the model folder, or the model file for TorchScript.
    :ivar files: the files that make up the model, relative to ``root`` (a file root: its name).
    :ivar companions: files next to a file root that travel with it (TorchScript's sidecar).
    """

    backend: str
    root: pathlib.Path
    files: tuple[str, ...]
    inputs: tuple[ModelInput, ...]
    labels: tuple[ModelLabel, ...]
    version: str = "unversioned"
    licence: str = ""
    source: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    companions: tuple[pathlib.Path, ...] = ()
