"""The models Virtual Biopsy knows: the shipped manifest plus the user's own.

The user's models live in one folder (default: :func:`defaultUserFolder`), each in ``<folder>/<id>``,
listed in ``<folder>/models.json``. Paths in a manifest are relative to the manifest's folder.
Catalogue models (entries with a ``download`` address) live in the model cache once fetched
(:mod:`VirtualBiopsy.models.catalogue`); lookups of their ids resolve to the cached folder.
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
from VirtualBiopsy.models.catalogue import cachedModel, ensureModel
from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, readManifest, writeManifest
from VirtualBiopsy.models.modelEntry import SEGMENTATION_BACKENDS, ModelEntry
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
    :param cacheFolder: where catalogue models are fetched to (default: ``modelCacheFolder()``).
    """

    def __init__(
        self,
        userFolder: str | os.PathLike | None = None,
        shippedManifest: str | os.PathLike = SHIPPED_MANIFEST,
        cacheFolder: str | os.PathLike | None = None,
    ) -> None:
        self.userFolder = pathlib.Path(userFolder).expanduser().absolute() if userFolder else defaultUserFolder()
        self.shippedManifest = pathlib.Path(shippedManifest).absolute()
        self.cacheFolder = pathlib.Path(cacheFolder).expanduser().absolute() if cacheFolder else None

    @property
    def userManifest(self) -> pathlib.Path:
        """The user's manifest, ``<userFolder>/models.json`` (absent until the first import)."""
        return self.userFolder / MANIFEST_NAME

    def list(self) -> list[ModelEntry]:
        """Every model: the shipped ones, then the user's, each in manifest order; a fetched catalogue model as in
        the cache (see :meth:`lookup`). No network.

        :raises InputError: for an invalid manifest; :raises ModelError: when both list the same id.
        """
        return [self._resolved(entry) for _, entries in self._manifests() for entry in entries]

    def get(
        self, modelId: str, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ModelEntry:
        """The model with id ``modelId``, ready to load: a catalogue model not yet in the cache is fetched and
        verified first (:func:`~VirtualBiopsy.models.catalogue.ensureModel`).

        :raises InputError: listing the known ids and the closest one when there is no such model.
        :raises ModelError: for a catalogue model that cannot be fetched (no pinned SHA-256, network, hash) or that
            the segmentation stage cannot run (refused before any download).
        """
        entry = self.lookup(modelId)
        if entry.isCatalogue and not entry.isFetched:
            if entry.backend not in SEGMENTATION_BACKENDS:
                raise ModelError(
                    f"Model '{entry.id}' ({entry.backend}) is in the catalogue, but this version of Virtual Biopsy "
                    f"cannot run {entry.backend} models (it runs {', '.join(SEGMENTATION_BACKENDS)}), so it is not "
                    f"downloaded. 'virtual-biopsy models fetch {entry.id}' fetches and verifies its files anyway."
                )
            entry = self.fetch(entry.id, progress=progress, cancel=cancel)
        return entry

    def fetch(
        self,
        modelId: str,
        sha256: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        notify=None,
    ) -> ModelEntry:
        """Fetch catalogue model ``modelId`` into the cache (nothing is downloaded when it is there and intact).

        :param sha256: the archive's SHA-256, pinned by the user (needed when the catalogue records none).
        :param notify: called with the licence terms before a first download that states them.
        :returns: the entry as in the cache (absolute ``path``, files' hashes).
        :raises InputError: for an id that is not a catalogue model.
        """
        entry = self._find(modelId)
        if not entry.isCatalogue:
            raise InputError(
                f"Model '{entry.id}' is a local model, not a catalogue model; there is nothing to fetch "
                "(catalogue models have a download address: see 'virtual-biopsy models list')."
            )
        return ensureModel(entry, self.cacheFolder, sha256, progress, cancel, notify)

    def lookup(self, modelId: str) -> ModelEntry:
        """The model with id ``modelId`` without fetching anything: a catalogue model in the cache comes with its
        cached folder and files' hashes, one not yet fetched without files (:attr:`ModelEntry.isFetched`).

        :raises InputError: listing the known ids and the closest one when there is no such model.
        """
        return self._resolved(self._find(modelId))

    def _resolved(self, entry: ModelEntry) -> ModelEntry:
        if not entry.isCatalogue:
            return entry
        return cachedModel(entry, self.cacheFolder) or entry

    def _find(self, modelId: str) -> ModelEntry:
        entries = [entry for _, items in self._manifests() for entry in items]
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
        """The absolute path of the model's folder or file (a fetched catalogue model's folder in the cache).

        :raises ModelError: for a relative path of a model this registry does not list, or a catalogue model not
            fetched yet.
        """
        path = pathlib.Path(entry.path)
        if path.is_absolute():
            return path
        if entry.isCatalogue:
            raise ModelError(
                f"Model '{entry.id}' is a catalogue model that is not in the model cache yet; fetch it first "
                f"(ModelRegistry.get or 'virtual-biopsy models fetch {entry.id}')."
            )
        return self.manifestOf(entry).parent / path

    def verify(self, entry: ModelEntry, progress: ProgressCallback | None = None) -> VerificationReport:
        """Compare the model's files with the hashes its manifest (or, for a catalogue model, its verified download)
        records.

        :raises ModelError: for a catalogue model that was not fetched yet.
        """
        if entry.isCatalogue and not entry.isFetched:
            raise ModelError(
                f"Model '{entry.id}' is a catalogue model that is not in the model cache yet; fetch it first with "
                f"'virtual-biopsy models fetch {entry.id}'."
            )
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
        """Copy a model folder, TorchScript file, ``.zip`` or tar archive into the user folder and list it in the user
        manifest.

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
