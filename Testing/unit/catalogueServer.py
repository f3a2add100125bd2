"""The local model server for catalogue-model tests, and a small real catalogue
model: a MONAI network folder zipped, listed in a user manifest with its download address."""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib

from modelFolders import writeNetworkModel, zipFolder
from modelServer import ModelServer

from VirtualBiopsy.models.manifest import writeManifest
from VirtualBiopsy.models.modelDetection import entryFromPath
from VirtualBiopsy.models.modelEntry import ModelDownload, ModelEntry

MODEL_ID = "tiny-cat"


class CatalogueServer(ModelServer):
    """A :class:`ModelServer` serving in its own thread from construction on."""

    def __init__(self) -> None:
        super().__init__()
        self.start()


def modelArchive(folder: pathlib.Path) -> tuple[ModelEntry, bytes]:
    """A MONAI network model (its entry, as detected) and a zip of it wrapped in one folder, as releases are."""
    model = writeNetworkModel(folder / MODEL_ID)
    entry = entryFromPath(model, MODEL_ID)
    archive = zipFolder(model, folder / "archive.zip", prefix=f"{MODEL_ID}-1.0/")
    return entry, archive.read_bytes()


def catalogueEntry(
    local: ModelEntry, url: str, sha256: str | None, listFiles: bool = False, notice: str = ""
) -> ModelEntry:
    """``local`` as a catalogue entry fetched from ``url`` (listing its files' hashes when ``listFiles``)."""
    return dataclasses.replace(
        local,
        path=MODEL_ID,
        sha256=local.sha256 if listFiles else "",
        files=dict(local.files) if listFiles else {},
        licence="CC-BY-4.0",
        download=ModelDownload(url=url, sha256=sha256, licenceNotice=notice),
    )


def publish(userFolder: pathlib.Path, entry: ModelEntry) -> None:
    """List ``entry`` in the user manifest of ``userFolder``."""
    userFolder.mkdir(parents=True, exist_ok=True)
    writeManifest(userFolder / "models.json", [entry])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
