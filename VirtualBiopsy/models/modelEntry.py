"""One model of the model manifest: what it is, what it needs and what it gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Backends that can run a model.
MODEL_BACKENDS = ("nnunet", "monai-torchscript", "monai-network", "cyclegan", "monai-classifier")


@dataclass(frozen=True)
class ModelInput:
    """One input channel of a model, named by the sequence it expects.

    :ivar sequence: the sequence name (``T1c``, ``T2``, ``FLAIR``, ``DWI``, …), matched case-insensitively.
    :ivar channel: the network's input channel index.
    """

    sequence: str
    channel: int


@dataclass(frozen=True)
class ModelLabel:
    """One output label of a model.

    :ivar value: voxel value in the model's label map (background 0 is not listed).
    :ivar name: segment name shown in Slicer.
    :ivar color: RGB colour, each in [0, 1].
    :ivar terminology: DICOM terminology entry as Slicer writes it
        (``"SCT^49755003^Morphologically altered structure"``-style codes), or ``""``.
    """

    value: int
    name: str
    color: tuple[float, float, float]
    terminology: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """A model as the manifest lists it.

    :ivar id: short unique name (``demo``), used on the command line.
    :ivar version: the model's own version string.
    :ivar backend: one of :data:`MODEL_BACKENDS`.
    :ivar path: the model folder or file, relative to the manifest's folder or absolute.
    :ivar inputs: input channels by sequence name.
    :ivar labels: output labels.
    :ivar sha256: tree hash of the model's files (see ``VirtualBiopsy.models.hashing``).
    :ivar files: SHA-256 of each file, by path relative to :attr:`path`.
    :ivar trusted: whether a checkpoint that needs full unpickling may be loaded once its hash matches.
    :ivar licence: licence of the weights (SPDX identifier where one exists).
    :ivar source: where the model comes from (paper, dataset, training script).
    :ivar description: one sentence for the model list.
    :ivar options: backend-specific settings (nnU-Net configuration and folds; MONAI network, ROI size, spacing).
    """

    id: str
    version: str
    backend: str
    path: str
    inputs: tuple[ModelInput, ...]
    labels: tuple[ModelLabel, ...]
    sha256: str
    files: dict[str, str] = field(default_factory=dict)
    trusted: bool = False
    licence: str = ""
    source: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
