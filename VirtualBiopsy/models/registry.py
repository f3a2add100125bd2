"""The models Virtual Biopsy knows: the shipped manifest plus the user's own.

The user's models live in one folder (default: :func:`defaultUserFolder`), each in ``<folder>/<id>``,
listed in ``<folder>/models.json``. Paths in a manifest are relative to the manifest's folder.
"""

from __future__ import annotations

import builtins
import difflib
import os
import pathlib
import shutil
import sys

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.files import exclusiveLock
from VirtualBiopsy.models.archives import ImportLimits
from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, readManifest, writeManifest
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.modelImport import importedId, installModel
from VirtualBiopsy.models.verification import VerificationReport, verifyModel
from VirtualBiopsy.progress import CancelToken, ProgressCallback

#: The manifest's file name in a models folder.
MANIFEST_NAME = "models.json"


def defaultUserFolder() -> pathlib.Path:
    """The platform's per-user data folder for models: ``$XDG_DATA_HOME/virtual-biopsy/models``
    (``~/.local/share/…`` when unset) on Linux, ``~/Library/Application Support/…`` on macOS,
    ``%LOCALAPPDATA%\\virtual-biopsy\\models`` on Windows."""
    if sys.platform == "win32":
        base = pathlib.Path(os.environ.get("LOCALAPPDATA") or pathlib.Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = pathlib.Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = pathlib.Path(xdg) if os.path.isabs(xdg) else pathlib.Path.home() / ".local" / "share"
    return base / "virtual-biopsy" / "models"


class ModelRegistry:
    """The shipped models and the user's models.

    :param userFolder: the user's models folder (default: :func:`defaultUserFolder`).
    :param shippedManifest: the read-only manifest shipped with the library.
    """

    def __init__(
        self, userFolder: str | os.PathLike | None = None, shippedManifest: str | os.PathLike = SHIPPED_MANIFEST
    ) -> None:
        self.userFolder = pathlib.Path(userFolder).expanduser().absolute() if userFolder else defaultUserFolder()
        self.shippedManifest = pathlib.Path(shippedManifest).absolute()

    @property
    def userManifest(self) -> pathlib.Path:
        """The user's manifest, ``<userFolder>/models.json`` (absent until the first import)."""
        return self.userFolder / MANIFEST_NAME

    def list(self) -> list[ModelEntry]:
        """Every model: the shipped ones, then the user's, each in manifest order.

        :raises InputError: for an invalid manifest; :raises ModelError: when both list the same id.
        """
        return [entry for _, entries in self._manifests() for entry in entries]

    def get(self, modelId: str) -> ModelEntry:
        """The model with id ``modelId``.

        :raises InputError: listing the known ids and the closest one when there is no such model.
        """
        entries = self.list()
        for entry in entries:
            if entry.id == modelId:
                return entry
        ids = [entry.id for entry in entries]
        close = [i for i in ids if i.lower() == modelId.lower()] or difflib.get_close_matches(
            modelId, ids, n=1, cutoff=0.5
        )
        hint = f" Did you mean '{close[0]}'?" if close else ""
        known = ", ".join(ids) if ids else "none yet (import one with 'virtual-biopsy models import PATH')"
        raise InputError(f"No model with id '{modelId}'.{hint} Known models: {known}.")

    def manifestOf(self, entry: ModelEntry) -> pathlib.Path:
        """The manifest that lists ``entry``'s id.

        :raises ModelError: when neither manifest lists it.
        """
        for manifest, entries in self._manifests():
            if any(item.id == entry.id for item in entries):
                return manifest
        raise ModelError(
            f"Model '{entry.id}' is in no manifest of this registry ({self.shippedManifest}, "
            f"{self.userManifest}); import it with 'virtual-biopsy models import PATH'."
        )

    def modelPath(self, entry: ModelEntry) -> pathlib.Path:
        """The absolute path of the model's folder or file.

        :raises ModelError: for a relative path of a model this registry does not list.
        """
        path = pathlib.Path(entry.path)
        if path.is_absolute():
            return path
        return self.manifestOf(entry).parent / path

    def verify(self, entry: ModelEntry, progress: ProgressCallback | None = None) -> VerificationReport:
        """Compare the model's files with the hashes its manifest records."""
        return verifyModel(entry, self.modelPath(entry), progress)

    def importModel(
        self,
        path: str | os.PathLike,
        modelId: str | None = None,
        trust: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        limits: ImportLimits = ImportLimits(),
    ) -> ModelEntry:
        """Copy a model folder, TorchScript file or ``.zip`` into the user folder and list it in the user manifest.

        :param modelId: the new model's id (default: from the path's name).
        :param trust: allow its checkpoints to be fully unpickled once their hash matches; only for models
            whose origin you checked.
        :raises InputError: for an unsafe or unrecognised model, or an id in use (nothing is written).
        """
        if self.userFolder.resolve() == self.shippedManifest.parent.resolve():
            raise InputError(f"The user models folder {self.userFolder} is the shipped models folder; choose another.")
        modelId = importedId(path, modelId)
        self._requireFreeId(modelId)
        entry = installModel(path, self.userFolder, modelId, trust, limits, progress, cancel)
        try:
            with exclusiveLock(self.userFolder / ".models.lock"):
                self._requireFreeId(modelId)
                user = readManifest(self.userManifest) if self.userManifest.exists() else []
                writeManifest(self.userManifest, [*user, entry])
        except BaseException:
            shutil.rmtree(self.userFolder / modelId, ignore_errors=True)
            raise
        return entry

    def _manifests(self) -> builtins.list[tuple[pathlib.Path, builtins.list[ModelEntry]]]:  # list: the method above
        manifests = [(self.shippedManifest, readManifest(self.shippedManifest))]
        if self.userManifest.exists():
            manifests.append((self.userManifest, readManifest(self.userManifest)))
        shipped = {entry.id.lower() for entry in manifests[0][1]}
        clashes = [entry.id for entry in manifests[-1][1] if len(manifests) == 2 and entry.id.lower() in shipped]
        if clashes:
            raise ModelError(
                f"The user manifest {self.userManifest} lists '{clashes[0]}', an id of a shipped model; "
                "rename it there (ids must be unique)."
            )
        return manifests

    def _requireFreeId(self, modelId: str) -> None:
        taken = [entry.id for entry in self.list() if entry.id.lower() == modelId.lower()]
        if taken:
            raise InputError(
                f"A model with id '{taken[0]}' exists already; nothing was imported. Choose another id "
                f"with --id (e.g. --id {modelId}-2)."
            )
