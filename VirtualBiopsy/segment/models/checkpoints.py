"""Load PyTorch checkpoints safely.

A checkpoint is read into memory once, hashed, checked against its model's manifest entry, and unpickled from
those same bytes (so the file cannot change between the check and the load) with ``weights_only=True``:
tensors, containers and plain values only. A checkpoint that needs more (nnU-Net's hold NumPy scalars in their
training log) is fully unpickled only when its model is trusted and its hash matched; full unpickling can run
code, so it is otherwise refused with the way to trust the model.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import pickle
import re
import stat
from typing import Any

from VirtualBiopsy.errors import ModelError, requirePackage
from VirtualBiopsy.segment.models.hashing import bytesSha256
from VirtualBiopsy.segment.models.modelEntry import ModelEntry

logger = logging.getLogger(__name__)

_WEIGHTS_ONLY_REFUSAL = "Weights only load failed"


def loadCheckpoint(path: str | os.PathLike, entry: ModelEntry | None = None,
                   modelRoot: str | os.PathLike | None = None) -> Any:
    """The object saved in a ``torch.save`` checkpoint, on the CPU.

    :param entry: the model the file belongs to; its SHA-256 must match ``entry.files``.
    :param modelRoot: the model's folder or file (:meth:`ModelRegistry.modelPath`); default ``entry.path``
        when that is absolute.
    :raises ModelError: for a missing, unreadable or changed file, a file not listed by ``entry``, or one that
        needs full unpickling when the model is not trusted (or no entry is given).
    """
    torch = requirePackage("torch")
    path = pathlib.Path(path)
    data = _readBytes(path)
    name = str(path)
    if entry is not None:
        name = _listedName(path, entry, modelRoot)
        expected, actual = entry.files[name], bytesSha256(data)
        if actual != expected:
            raise ModelError(
                f"Checkpoint '{name}' of model '{entry.id}' does not match its manifest: SHA-256 {actual}, "
                f"manifest {expected}. The file was changed or damaged and is not loaded; restore it or import the "
                f"model again, and check it with 'virtual-biopsy models verify {entry.id}'.")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if _WEIGHTS_ONLY_REFUSAL not in str(error):
            raise ModelError(f"Cannot read checkpoint {path} ({_firstLine(error)}); get a new copy of it.") from error
        needs = _refusedContent(error)
    except Exception as error:  # torch raises RuntimeError, EOFError, ValueError… for damaged files
        raise ModelError(f"Cannot read checkpoint {path} ({_firstLine(error)}); get a new copy of it.") from error
    if entry is None or not entry.trusted:
        owner = f"model '{entry.id}'" if entry is not None else "a model given by path"
        raise ModelError(
            f"Checkpoint {path} ({owner}) holds more than tensors and plain values ({needs}); unpickling it could run "
            "code, so it was not loaded. If you checked where the model came from, trust it: "
            "virtual-biopsy models import PATH --trust, then use it by its id.")
    logger.warning("Fully unpickling checkpoint %s of trusted model '%s' (SHA-256 matches the manifest; it needs %s).",
                   name, entry.id, needs)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as error:
        raise ModelError(f"Cannot read checkpoint {path} of trusted model '{entry.id}' ({_firstLine(error)}); "
                         "the model may need code that is not installed (an nnU-Net trainer class?).") from error


def _readBytes(path: pathlib.Path) -> bytes:
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        raise ModelError(f"Checkpoint {path} not found ({error.strerror}); check the model's files "
                         "('virtual-biopsy models verify ID').") from error
    if not stat.S_ISREG(mode):
        raise ModelError(f"Checkpoint {path} is a link or not a regular file; models must be plain files.")
    return path.read_bytes()


def _listedName(path: pathlib.Path, entry: ModelEntry, modelRoot: str | os.PathLike | None) -> str:
    if modelRoot is None:
        if not pathlib.Path(entry.path).is_absolute():
            raise ModelError(f"Model '{entry.id}' has the relative path '{entry.path}'; pass modelRoot "
                             "(ModelRegistry.modelPath(entry)) to load its checkpoints.")
        modelRoot = entry.path
    root = pathlib.Path(modelRoot).resolve()
    resolved = path.resolve()
    if resolved == root:
        name = root.name
    else:
        try:
            name = resolved.relative_to(root).as_posix()
        except ValueError:
            name = ""
    if name not in entry.files:
        raise ModelError(f"Checkpoint {path} is not one of the files of model '{entry.id}' (listed: "
                         f"{', '.join(sorted(entry.files))}); load the model's own files only.")
    return name


def _refusedContent(error: BaseException) -> str:
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
    return f"it needs {match.group(1)}" if match else "it needs objects beyond the allowed types"


def _firstLine(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else 'no details'}"
