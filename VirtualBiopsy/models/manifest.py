"""The model manifest: a JSON file listing models, checked against ``resources/models/manifest.schema.json``.

Besides the schema, a manifest must have unique ids, input channels numbered 0…n-1 with
distinct sequence names, distinct label values, safe relative file paths, and a tree hash
that matches its per-file hashes. Every message names the manifest, the entry and the field.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import posixpath
from collections.abc import Iterable
from typing import Any

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import writeTextAtomically
from VirtualBiopsy.models.hashing import treeDigest
from VirtualBiopsy.models.modelEntry import ModelDownload, ModelEntry, ModelInput, ModelLabel

RESOURCES = pathlib.Path(__file__).resolve().parents[1] / "resources" / "models"
#: The manifest shipped with the library (read-only).
SHIPPED_MANIFEST = RESOURCES / "models.json"
#: The JSON Schema every manifest follows.
SCHEMA_PATH = RESOURCES / "manifest.schema.json"
SCHEMA_VERSION = 1

_MAX_ERRORS = 5


def readManifest(path: str | os.PathLike) -> list[ModelEntry]:
    """The models a manifest lists, in file order.

    :raises InputError: when the file is missing, not JSON (or has a repeated key), or invalid;
        the message names the entry and the field.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(
            f"Model manifest {path} not found; check the path (a new manifest is made by "
            "'virtual-biopsy models import')."
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_uniqueKeys)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"Model manifest {path} is not valid JSON ({error}); fix or restore the file.") from error
    validateManifest(document, str(path))
    return [entryFromDict(item) for item in document["models"]]


def writeManifest(path: str | os.PathLike, entries: Iterable[ModelEntry]) -> pathlib.Path:
    """Write ``entries`` as a manifest, atomically (the old file stays whole until the new one is complete).

    :raises InputError: when an entry is invalid (nothing is written).
    """
    path = pathlib.Path(path)
    document = {"schemaVersion": SCHEMA_VERSION, "models": [entryToDict(entry) for entry in entries]}
    try:
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise InputError(
            f"Model manifest {path}: an entry's options cannot be written as JSON ({error}); "
            "use strings, numbers, lists and mappings only."
        ) from error
    validateManifest(json.loads(text), str(path))
    return writeTextAtomically(text, path)


def validateManifest(document: Any, source: str) -> None:
    """Check a manifest document against the schema and the rules above.

    :param source: the manifest's name for messages.
    :raises InputError: listing up to five problems, each with the entry and the field.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))
    problems = [f"{_where(document, list(error.absolute_path))}: {error.message}" for error in errors]
    if not problems:
        problems = _semanticProblems(document["models"])
    if problems:
        more = f" (and {len(problems) - _MAX_ERRORS} more)" if len(problems) > _MAX_ERRORS else ""
        raise InputError(
            f"Model manifest {source} is invalid: "
            + "; ".join(problems[:_MAX_ERRORS])
            + more
            + ". Fix these fields (see resources/models/manifest.schema.json)."
        )


def entryToDict(entry: ModelEntry) -> dict[str, Any]:
    """The manifest form of an entry (plain JSON types); a catalogue entry not yet fetched has no hashes."""
    document = {
        "id": entry.id,
        "version": entry.version,
        "backend": entry.backend,
        "path": entry.path,
        "inputs": [{"sequence": item.sequence, "channel": item.channel} for item in entry.inputs],
        "labels": [
            {
                "value": label.value,
                "name": label.name,
                "color": [float(c) for c in label.color],
                "terminology": label.terminology,
            }
            for label in entry.labels
        ],
        "sha256": entry.sha256,
        "files": dict(sorted(entry.files.items())),
        "trusted": entry.trusted,
        "licence": entry.licence,
        "source": entry.source,
        "description": entry.description,
        "options": entry.options,
        "intendedUse": entry.intendedUse,
    }
    if not entry.files:
        del document["sha256"], document["files"]
    if entry.download is not None:
        document["download"] = _downloadToDict(entry.download)
    return document


def _downloadToDict(download: ModelDownload) -> dict[str, Any]:
    return {
        "url": download.url,
        "sha256": download.sha256,
        "sizeBytes": download.sizeBytes,
        "format": download.format,
        "root": download.root,
        "homepage": download.homepage,
        "licenceUrl": download.licenceUrl,
        "licenceNotice": download.licenceNotice,
    }


def _downloadFromDict(item: dict[str, Any] | None) -> ModelDownload | None:
    if item is None:
        return None
    return ModelDownload(
        url=item["url"],
        sha256=item.get("sha256"),
        sizeBytes=item.get("sizeBytes"),
        format=item.get("format", "zip"),
        root=item.get("root", ""),
        homepage=item.get("homepage", ""),
        licenceUrl=item.get("licenceUrl", ""),
        licenceNotice=item.get("licenceNotice", ""),
    )


def _rgb(values: Any) -> tuple[float, float, float]:
    red, green, blue = (float(value) for value in values)  # the schema allows three numbers only
    return red, green, blue


def entryFromDict(item: dict[str, Any]) -> ModelEntry:
    """An entry from its (validated) manifest form."""
    return ModelEntry(
        id=item["id"],
        version=item["version"],
        backend=item["backend"],
        path=item["path"],
        inputs=tuple(ModelInput(sequence=i["sequence"], channel=i["channel"]) for i in item["inputs"]),
        labels=tuple(
            ModelLabel(
                value=label["value"],
                name=label["name"],
                color=_rgb(label["color"]),
                terminology=label.get("terminology", ""),
            )
            for label in item["labels"]
        ),
        sha256=item.get("sha256", ""),
        files=dict(item.get("files", {})),
        trusted=item.get("trusted", False),
        licence=item.get("licence", ""),
        source=item.get("source", ""),
        description=item.get("description", ""),
        options=dict(item.get("options", {})),
        intendedUse=item.get("intendedUse", ""),
        download=_downloadFromDict(item.get("download")),
    )


def unsafeRelativePath(name: str) -> str | None:
    """Why ``name`` is not a safe relative POSIX path inside a model (``None`` when it is)."""
    if not name or name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "it is empty, absolute or uses backslashes or a drive letter"
    if ":" in name or any(ord(character) < 32 for character in name):
        return "it holds a colon (a Windows stream or drive) or control characters"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' component"
    if posixpath.normpath(name) != name:
        return "it is not in normal form"
    return None


def _semanticProblems(models: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(models):
        where = f"models[{index}] ('{item['id']}')"
        key = item["id"].lower()
        if key in seen:
            problems.append(
                f"{where}.id: '{item['id']}' repeats the id of models[{seen[key]}] (ids are compared "
                "ignoring case); give each model its own id"
            )
        seen.setdefault(key, index)
        channels = sorted(i["channel"] for i in item["inputs"])
        if channels != list(range(len(channels))):
            problems.append(f"{where}.inputs: channels are {channels}; number them 0 to {len(channels) - 1}, once each")
        sequences = [i["sequence"].lower() for i in item["inputs"]]
        if len(set(sequences)) != len(sequences):
            problems.append(
                f"{where}.inputs: a sequence name is repeated ({[i['sequence'] for i in item['inputs']]}); "
                "name each channel's sequence once"
            )
        values = [label["value"] for label in item["labels"]]
        if len(set(values)) != len(values):
            problems.append(f"{where}.labels: a label value is repeated ({values}); give each label its own value")
        path = item["path"]
        if not pathlib.PurePosixPath(path).is_absolute() and not pathlib.PureWindowsPath(path).is_absolute():
            if reason := unsafeRelativePath(path):
                problems.append(f"{where}.path: '{path}' is unsafe ({reason}); give a plain relative or absolute path")
        files = item.get("files", {})
        for name in files:
            if reason := unsafeRelativePath(name):
                problems.append(f"{where}.files: '{name}' is unsafe ({reason}); list paths relative to the model")
        root = (item.get("download") or {}).get("root", "")
        if root and (reason := unsafeRelativePath(root)):
            problems.append(f"{where}.download.root: '{root}' is unsafe ({reason}); give a folder inside the archive")
        if "sha256" in item and treeDigest(files) != item["sha256"]:
            problems.append(
                f"{where}.sha256: {item['sha256']} is not the tree hash of its files "
                f"({treeDigest(files)}); recompute it (re-import the model)"
            )
    return problems


def _where(document: Any, path: list[Any]) -> str:
    text = ""
    for depth, part in enumerate(path):
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        if depth == 1 and path[0] == "models":
            try:
                text += f" ('{document['models'][part]['id']}')"
            except (KeyError, TypeError, IndexError):
                pass
    return text or "top level"


def _uniqueKeys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"the key(s) {', '.join(map(repr, repeated))} appear twice in one object")
    return dict(pairs)


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
