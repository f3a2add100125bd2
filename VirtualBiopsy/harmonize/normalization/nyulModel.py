"""The standard scale of Nyúl histogram standardization, as a versioned JSON file.

A model file records what it takes to apply the scale and to trace it: the
schema version, the sequence it was fitted for, the percentiles and standard
landmarks, the standard range, how many images it was fitted on and their
SHA-256 hashes (of the voxels, so no file names or patient identifiers), and
the Virtual Biopsy version that wrote it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import pathlib
from typing import Any, cast

from VirtualBiopsy import __version__
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import writeTextAtomically

#: What the ``format`` key of every model file says.
MODEL_FORMAT = "VirtualBiopsy.NyulModel"
#: The schema this version writes and reads; a file with a newer one is refused.
SCHEMA_VERSION = 1
#: The largest model file read (a scale fitted on 10,000 images takes under 1 MiB).
MAX_MODEL_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class NyulModel:
    """A fitted Nyúl standard scale.

    :ivar percentiles: landmark percentiles in (0, 100), strictly increasing; the first and last
        bound the intensity range of interest.
    :ivar standardLandmarks: the average landmark of each percentile on the standard scale.
    :ivar standardRange: where the first and last percentiles map on the standard scale.
    :ivar sequence: the sequence the scale was fitted for (``""`` when not told).
    :ivar fittedOnCount: number of images the scale was fitted on.
    :ivar fittedOnHashes: SHA-256 of each image's voxels, in fitting order.
    :ivar libraryVersion: the Virtual Biopsy version that fitted the model.
    :ivar created: UTC time of fitting (ISO 8601).
    """

    percentiles: tuple[float, ...]
    standardLandmarks: tuple[float, ...]
    standardRange: tuple[float, float] = (0.0, 100.0)
    sequence: str = ""
    fittedOnCount: int = 0
    fittedOnHashes: tuple[str, ...] = ()
    libraryVersion: str = __version__
    created: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    )

    def __post_init__(self) -> None:
        checkScale(self.percentiles, self.standardLandmarks, self.standardRange)

    def toDict(self) -> dict[str, Any]:
        """The model as the plain dictionary its JSON file holds."""
        return {
            "format": MODEL_FORMAT,
            "schemaVersion": SCHEMA_VERSION,
            "sequence": self.sequence,
            "percentiles": list(self.percentiles),
            "standardLandmarks": list(self.standardLandmarks),
            "standardRange": list(self.standardRange),
            "fittedOn": {"count": self.fittedOnCount, "sha256": list(self.fittedOnHashes)},
            "libraryVersion": self.libraryVersion,
            "created": self.created,
        }

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the model to the new JSON file ``path`` (atomically; an existing file is not overwritten).

        :raises InputError: when ``path`` exists.
        """
        path = pathlib.Path(path).expanduser()
        if path.exists():
            raise InputError(f"Nyúl model file {path} exists already; nothing is overwritten. Choose a new path.")
        path.parent.mkdir(parents=True, exist_ok=True)
        return writeTextAtomically(json.dumps(self.toDict(), indent=2) + "\n", path)

    @classmethod
    def fromDict(cls, document: Any, source: str = "Nyúl model") -> NyulModel:
        """Check and read a model dictionary.

        :raises InputError: for another format, a newer or unknown schema version, a missing key, a
            value of the wrong type, or landmarks that are not finite and strictly increasing.
        """
        if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
            found = document.get("format") if isinstance(document, dict) else type(document).__name__
            raise InputError(
                f"{source} is not a Nyúl model (format {found!r}, expected {MODEL_FORMAT!r}); give a "
                "file written by 'virtual-biopsy nyul fit'."
            )
        version = document.get("schemaVersion")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InputError(
                f"{source} has schemaVersion {version!r}; expected a whole number (this version reads "
                f"{SCHEMA_VERSION})."
            )
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{source} has schemaVersion {version}, newer than this Virtual Biopsy reads "
                f"({SCHEMA_VERSION}); update Virtual Biopsy or refit the model with this version."
            )
        try:
            fittedOn = document["fittedOn"]
            model = cls(
                percentiles=_numbers(document["percentiles"], "percentiles", source),
                standardLandmarks=_numbers(document["standardLandmarks"], "standardLandmarks", source),
                # Any length reaches the model: its __post_init__ checks for a pair, with a clearer message.
                standardRange=cast(tuple[float, float], _numbers(document["standardRange"], "standardRange", source)),
                sequence=_text(document["sequence"], "sequence", source),
                fittedOnCount=_count(fittedOn["count"], source),
                fittedOnHashes=tuple(_text(value, "fittedOn.sha256", source) for value in fittedOn["sha256"]),
                libraryVersion=_text(document["libraryVersion"], "libraryVersion", source),
                created=_text(document["created"], "created", source),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, InputError):  # the scale's own checks: name the file too
                if source in str(error):
                    raise
                raise InputError(f"{source}: {error}") from error
            raise InputError(
                f"{source} lacks or mistypes {error}; the file is damaged or was edited. Refit it with "
                "'virtual-biopsy nyul fit'."
            ) from error
        return model

    @classmethod
    def load(cls, path: str | os.PathLike) -> NyulModel:
        """Read a model file.

        :raises InputError: for a missing or unreadable file, one over :data:`MAX_MODEL_BYTES`, invalid JSON (NaN and
            Infinity included) or any problem :meth:`fromDict` reports.
        """
        path = pathlib.Path(path).expanduser()
        if not path.is_file():
            raise InputError(f"Nyúl model file not found: {path}. Fit one with 'virtual-biopsy nyul fit'.")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise InputError(
                f"Nyúl model file {path} is {size} bytes, more than the {MAX_MODEL_BYTES >> 20} MiB a Nyúl scale "
                "takes; it is not a model file. Give a file written by 'virtual-biopsy nyul fit'."
            )
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_MODEL_BYTES + 1).decode("utf-8")
            document = json.loads(text, parse_constant=_refuseConstant)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            raise InputError(f"Nyúl model file {path} is not valid JSON ({error}); refit it.") from error
        return cls.fromDict(document, f"Nyúl model file {path}")


def checkScale(percentiles, landmarks, standardRange) -> None:
    """Raise :class:`InputError` unless the percentiles and landmarks make a usable standard scale."""
    if len(percentiles) < 2 or not all(0.0 < value < 100.0 for value in percentiles):
        raise InputError(
            f"Nyúl percentiles {list(percentiles)}: give at least two percentiles strictly between 0 "
            "and 100, e.g. 1, 10, 20, ..., 90, 99."
        )
    if any(b <= a for a, b in zip(percentiles, percentiles[1:])):
        raise InputError(
            f"Nyúl percentiles {list(percentiles)} are not strictly increasing; sort them and drop repeats."
        )
    if (
        len(standardRange) != 2
        or not all(math.isfinite(v) for v in standardRange)
        or standardRange[0] >= standardRange[1]
    ):
        raise InputError(
            f"Nyúl standard range {list(standardRange)}: give two finite numbers, low < high (e.g. 0, 100)."
        )
    if len(landmarks) != len(percentiles):
        raise InputError(
            f"Nyúl model has {len(landmarks)} standard landmarks for {len(percentiles)} percentiles; "
            "they must pair up. Refit the model."
        )
    if not all(math.isfinite(v) for v in landmarks) or any(b <= a for a, b in zip(landmarks, landmarks[1:])):
        raise InputError(
            f"Nyúl standard landmarks {list(landmarks)} are not finite and strictly increasing; the "
            "images it was fitted on have repeated intensities between percentiles. Refit with masks "
            "that exclude the background, or with fewer percentiles."
        )


def _numbers(value: Any, name: str, source: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise InputError(f"{source}: '{name}' must be a list of numbers, got {value!r}.")
    return tuple(float(v) for v in value)


def _count(value: Any, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{source}: 'fittedOn.count' must be a whole number of images, got {value!r}.")
    return value


def _text(value: Any, name: str, source: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{source}: '{name}' must be text, got {value!r}.")
    return value


def _refuseConstant(name: str) -> float:
    raise ValueError(f"{name} is not a number a model may hold")
