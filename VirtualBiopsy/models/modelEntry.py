"""One model of the model manifest: what it is, what it needs and what it gives."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

#: Backends that can run a model.
MODEL_BACKENDS = (
    "nnunet",
    "monai-torchscript",
    "monai-network",
    "cyclegan",
    "monai-classifier",
    "monai-bundle",
    "monai-auto3dseg",
)
#: Backends the segmentation stage runs; catalogue models of other backends (a MONAI Auto3DSeg checkpoint) can be
#: fetched and verified but not run by this version.
SEGMENTATION_BACKENDS = ("nnunet", "monai-torchscript", "monai-network", "monai-bundle")


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
class ModelDownload:
    """Where a catalogue model is fetched from on first use.

    :ivar url: the archive's ``https://`` address (``http://`` and ``file://`` for local mirrors).
    :ivar sha256: the archive's SHA-256 where a source publishes it, else ``None``: a download is never trusted on
        first use, so such a model is fetched only with a hash the user pins (``models fetch ID --sha256 HEX``).
    :ivar sizeBytes: the archive's size, when known (a larger response is refused).
    :ivar format: the archive format (``zip``).
    :ivar root: the model's folder inside the archive (``""``: the archive's top, or the one folder it wraps).
    :ivar homepage: the page that publishes the model.
    :ivar licenceUrl: the licence's text.
    :ivar licenceNotice: terms to show before the first fetch (non-empty: the user accepts them by fetching).
    """

    url: str
    sha256: str | None = None
    sizeBytes: int | None = None
    format: str = "zip"
    root: str = ""
    homepage: str = ""
    licenceUrl: str = ""
    licenceNotice: str = ""


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
    :ivar intendedUse: what the model is for and not for, shown wherever models are listed.
    :ivar download: for a catalogue model, where it is fetched from on first use (``None`` for a local model). An
        entry not yet fetched has no :attr:`files`; the registry fills them from the verified download.
    """

    id: str
    version: str
    backend: str
    path: str
    inputs: tuple[ModelInput, ...]
    labels: tuple[ModelLabel, ...]
    sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)
    trusted: bool = False
    licence: str = ""
    source: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    intendedUse: str = ""
    download: ModelDownload | None = None

    @property
    def isCatalogue(self) -> bool:
        """Whether the model is fetched on first use (a catalogue model)."""
        return self.download is not None

    @property
    def isFetched(self) -> bool:
        """Whether the model's files are at hand: a local model, or a catalogue model found in the cache (whose
        path the registry makes absolute)."""
        return self.download is None or (bool(self.files) and os.path.isabs(self.path))
