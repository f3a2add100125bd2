"""A model's files, read only after the whole model was checked against its manifest entry.

Every load goes through one :class:`ModelFiles`: :meth:`ModelFiles.checked` compares every file with the
manifest's SHA-256 before anything is built or unpickled, and each file is hashed again through the handle it
is read from, so a file swapped in after the check is not the one used.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
from typing import Any

from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.models.checkpoints import loadCheckpoint, openVerified
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.models.verification import requireIntact

_MAX_JSON_BYTES = 16 << 20


class ModelFiles:
    """Read the files of one model.

    :param entry: the model's manifest entry; ``None`` for a folder used directly by code (tests, scripts):
        its files are read unchecked and it is never trusted.
    :param root: the model's folder or file (:meth:`ModelRegistry.modelPath`).
    """

    def __init__(self, entry: ModelEntry | None, root: str | os.PathLike) -> None:
        self.entry = entry
        self.root = pathlib.Path(root)
        self._documents: dict[pathlib.Path, Any] = {}

    @classmethod
    def checked(cls, entry: ModelEntry, root: str | os.PathLike) -> ModelFiles:
        """The files of ``entry`` at ``root``, after checking every one against the manifest.

        :raises ModelError: listing each changed, missing or unsafe file (files the entry does not list are never
            read, and only logged).
        """
        requireIntact(entry, pathlib.Path(root))
        return cls(entry, root)

    @property
    def trusted(self) -> bool:
        """Whether the model was imported with ``--trust`` (its hashes pinned in the manifest)."""
        return self.entry is not None and self.entry.trusted

    def readJson(self, path: str | os.PathLike) -> Any:
        """The JSON document in one of the model's files, read from the bytes whose hash was checked (once per
        file; each call gets its own copy, so a caller may change it).

        :raises ModelError: for a changed, unlisted or unreadable file, or one that is not JSON.
        """
        key = pathlib.Path(path).absolute()
        if key not in self._documents:
            self._documents[key] = self._readJson(path)
        return copy.deepcopy(self._documents[key])

    def _readJson(self, path: str | os.PathLike) -> Any:
        with openVerified(path, self.entry, self.root) as handle:
            data = handle.read(_MAX_JSON_BYTES + 1)
        if len(data) > _MAX_JSON_BYTES:
            raise ModelError(f"{path} is larger than {_MAX_JSON_BYTES >> 20} MiB; it is not a model configuration.")
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelError(f"{path} is not readable JSON ({error}); restore it from the model's source.") from error

    def loadCheckpoint(self, path: str | os.PathLike) -> Any:
        """A ``torch.save`` file of the model, weights only unless the model is trusted (see
        :func:`~VirtualBiopsy.models.checkpoints.loadCheckpoint`)."""
        return loadCheckpoint(path, self.entry, self.root)
