"""A content-addressed cache of per-case results, so re-runs and resumed runs skip finished cases.

A result is stored under the SHA-256 of what determines it (e.g. image hash,
mask hash, settings hash, code version: see :meth:`ResultCache.key`; file hashes
come from :func:`VirtualBiopsy.files.sha256File`) as one JSON file,
written atomically. An unreadable or corrupt entry is logged and treated as
missing, so the case is simply computed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import re
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import writeTextAtomically

logger = logging.getLogger(__name__)

#: Version of the entry layout; entries of another format count as missing.
FORMAT = 1

_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


class ResultCache:
    """Per-case results (JSON-serializable dicts with string keys) in ``folder``, one ``<key>.json`` file each.

    :param folder: where entries live; created if missing.
    :raises InputError: when ``folder`` cannot be created or is not a writable folder.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = pathlib.Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(
                f"Cannot create the result cache folder {self.folder} ({error}); pass a folder you can write to."
            ) from error
        if not os.access(self.folder, os.W_OK):
            raise InputError(f"The result cache folder {self.folder} is not writable; pass a folder you can write to.")

    @staticmethod
    def key(*parts: str) -> str:
        """SHA-256 (hex) of ``parts`` in order, e.g. ``key(imageHash, maskHash, settingsHash, version)``.

        Each part is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")`` give different keys.

        :raises InputError: when a part is not a string or no part is given.
        """
        if not parts:
            raise InputError("ResultCache.key needs at least one part (e.g. the image and mask hashes).")
        digest = hashlib.sha256()
        for index, part in enumerate(parts):
            if not isinstance(part, str):
                raise InputError(
                    f"ResultCache.key part {index} is {type(part).__name__} {part!r}; pass strings "
                    "(hashes, a JSON dump of the settings, a version)."
                )
            encoded = part.encode("utf-8")
            digest.update(f"{len(encoded)}:".encode("ascii") + encoded)
        return digest.hexdigest()

    def path(self, key: str) -> pathlib.Path:
        """The file that holds the entry ``key``.

        :raises InputError: when ``key`` is not a key made by :meth:`key` (64 lowercase hex digits).
        """
        if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
            raise InputError(f"{key!r} is not a result cache key; make keys with ResultCache.key(...).")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored result for ``key``, or ``None`` when absent, unreadable or corrupt (logged)."""
        path = self.path(key)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            logger.warning("Result cache entry %s cannot be read (%s); computing the case again.", path, error)
            return None
        try:
            entry = json.loads(content.decode("utf-8"))
        except ValueError as error:  # also UnicodeDecodeError
            logger.warning("Result cache entry %s is corrupt (%s); computing the case again.", path, error)
            return None
        valid = isinstance(entry, dict) and entry.get("format") == FORMAT and entry.get("key") == key
        if not (valid and isinstance(entry.get("value"), dict)):
            logger.warning(
                "Result cache entry %s is not a format-%d entry for its key; computing the case again.", path, FORMAT
            )
            return None
        return entry["value"]

    def put(self, key: str, value: dict) -> pathlib.Path:
        """Store ``value`` under ``key`` (replacing any entry) atomically: a reader sees the old
        entry or the new one, never part of one. numpy scalars and arrays are stored as numbers and
        lists; NaN and infinities are kept (Python's JSON dialect), so values round-trip exactly.

        :returns: the entry's file.
        :raises InputError: when ``value`` is not a dict or holds something JSON cannot store.
        """
        path = self.path(key)
        if not isinstance(value, dict):
            raise InputError(f"ResultCache.put stores dicts; got {type(value).__name__} for key {key}.")
        try:
            text = json.dumps({"format": FORMAT, "key": key, "value": value}, default=_plainValue, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise InputError(
                f"The result for cache key {key} cannot be stored as JSON ({error}); return numbers, strings, "
                "lists and dicts."
            ) from error
        return writeTextAtomically(text, path)

    def __contains__(self, key: object) -> bool:
        """Whether a readable entry exists for ``key``."""
        return isinstance(key, str) and _KEY_PATTERN.fullmatch(key) is not None and self.get(key) is not None


def _plainValue(value: Any) -> Any:
    """JSON fallback for numpy values (numbers and arrays); anything else is an error."""
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON serializable")
