"""Load PyTorch checkpoints and TorchScript files safely.

A model file is opened once, hashed through that handle, checked against its model's manifest entry, and loaded
from the same handle (so a file swapped in after the check is not the one loaded, and the file is not held in
memory twice) with ``weights_only=True``: tensors, containers and plain values only. A checkpoint that needs more
(nnU-Net's hold NumPy scalars in their training log) is fully unpickled only when its model is trusted and its
hash matched; full unpickling can run code, so it is otherwise refused with the way to trust the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pathlib
import pickle
import re
import stat
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

from VirtualBiopsy.errors import ModelError, requirePackage
from VirtualBiopsy.models.modelEntry import ModelEntry

logger = logging.getLogger(__name__)

_WEIGHTS_ONLY_REFUSAL = "Weights only load failed"
_CHUNK = 1 << 20


def loadCheckpoint(
    path: str | os.PathLike, entry: ModelEntry | None = None, modelRoot: str | os.PathLike | None = None
) -> Any:
    """The object saved in a ``torch.save`` checkpoint, on the CPU.

    :param entry: the model the file belongs to; its SHA-256 must match ``entry.files``.
    :param modelRoot: the model's folder or file (:meth:`ModelRegistry.modelPath`); default ``entry.path``
        when that is absolute.
    :raises ModelError: for a missing, unreadable or changed file, a file not listed by ``entry``, or one that
        needs full unpickling when the model is not trusted (or no entry is given), or whose floating-point tensors
        hold a NaN or an infinity (damaged weights).
    """
    torch = requirePackage("torch")
    path = pathlib.Path(path)
    with openVerified(path, entry, modelRoot) as handle:
        try:
            return _requireFinite(torch, torch.load(handle, map_location="cpu", weights_only=True), path)
        except ModelError:
            raise
        except Exception as error:  # torch raises RuntimeError, EOFError, ValueError… for damaged files
            if not (isinstance(error, pickle.UnpicklingError) and _WEIGHTS_ONLY_REFUSAL in str(error)):
                reason = _firstLine(error)
                raise ModelError(f"Cannot read checkpoint {path} ({reason}); get a new copy of it.") from error
            needs = _refusedContent(error)
        if entry is None or not entry.trusted:
            owner = f"model '{entry.id}'" if entry is not None else "a model given by path"
            raise ModelError(
                f"Checkpoint {path} ({owner}) holds more than tensors and plain values ({needs}); unpickling it could "
                "run code, so it was not loaded. If you checked where the model came from, import it as trusted: "
                "virtual-biopsy models import PATH --trust (with a new --id if its id is taken), then use it by id."
            )
        logger.warning(
            "Fully unpickling checkpoint %s of trusted model '%s' (SHA-256 matches the manifest; it needs %s).",
            _listedName(path, entry, modelRoot),
            entry.id,
            needs,
        )
        handle.seek(0)
        try:
            loaded = torch.load(handle, map_location="cpu", weights_only=False)
        except Exception as error:
            raise ModelError(
                f"Cannot read checkpoint {path} of trusted model '{entry.id}' ({_firstLine(error)}); "
                "the model may need code that is not installed (an nnU-Net trainer class?)."
            ) from error
        return _requireFinite(torch, loaded, path)


def loadTorchScript(
    path: str | os.PathLike, entry: ModelEntry | None = None, modelRoot: str | os.PathLike | None = None
) -> Any:
    """A TorchScript module (``torch.jit.load``) on the CPU, from a file checked as in :func:`loadCheckpoint`.

    :raises ModelError: for a missing, changed or unlisted file, or one that is not TorchScript.
    """
    torch = requirePackage("torch")
    with openVerified(path, entry, modelRoot) as handle:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
                return torch.jit.load(handle, map_location="cpu")
        except Exception as error:  # torch raises RuntimeError for anything it cannot read
            raise ModelError(
                f"Cannot load TorchScript model {path} ({_firstLine(error)}); give a file written by torch.jit.save."
            ) from error


@contextlib.contextmanager
def openVerified(
    path: str | os.PathLike, entry: ModelEntry | None = None, modelRoot: str | os.PathLike | None = None
) -> Iterator[BinaryIO]:
    """An open binary handle on a model file, at its start, after checking (when ``entry`` is given) that its
    SHA-256 matches ``entry.files``. Load from this handle, not from the path, so that the file checked is the
    file loaded.

    :raises ModelError: for a missing file, a link or special file, a file ``entry`` does not list, or a changed file.
    """
    path = pathlib.Path(path)
    name = _listedName(path, entry, modelRoot) if entry is not None else ""
    with _openRegular(path) as handle:
        if entry is not None:
            digest = hashlib.sha256()
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
            expected, actual = entry.files[name], digest.hexdigest()
            if actual != expected:
                raise ModelError(
                    f"File '{name}' of model '{entry.id}' does not match its manifest: SHA-256 {actual}, manifest "
                    f"{expected}. The file was changed or damaged and is not loaded; restore it from the model's "
                    "source (or import that again under a new --id) and check with "
                    f"'virtual-biopsy models verify {entry.id}'."
                )
            handle.seek(0)
        yield handle


def _openRegular(path: pathlib.Path) -> BinaryIO:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):  # before opening: a pipe would block
            raise ModelError(f"Model file {path} is a link or not a regular file; models must be plain files.")
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise ModelError(
            f"Model file {path} cannot be opened ({error.strerror}); check the model's files "
            "('virtual-biopsy models verify ID')."
        ) from error
    handle = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise ModelError(f"Model file {path} is not a regular file; models must be plain files.")
    return handle


def _listedName(path: pathlib.Path, entry: ModelEntry, modelRoot: str | os.PathLike | None) -> str:
    if modelRoot is None:
        if not pathlib.Path(entry.path).is_absolute():
            raise ModelError(
                f"Model '{entry.id}' has the relative path '{entry.path}'; pass modelRoot "
                "(ModelRegistry.modelPath(entry)) to load its checkpoints."
            )
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
        raise ModelError(
            f"Checkpoint {path} is not one of the files of model '{entry.id}' (listed: "
            f"{', '.join(sorted(entry.files))}); load the model's own files only."
        )
    return name


def _requireFinite(torch: Any, loaded: Any, path: pathlib.Path) -> Any:
    """``loaded``, after checking that none of its floating-point tensors holds a NaN or an infinity.

    :raises ModelError: naming the first such tensor, how many values are not finite and how many tensors are.
    """
    damaged: list[tuple[str, int]] = []
    stack: list[tuple[str, Any]] = [("", loaded)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, torch.Tensor):
            if item.is_floating_point() or item.is_complex():
                count = int((~torch.isfinite(item)).sum())
                if count:
                    damaged.append((key or "(the file)", count))
        elif isinstance(item, dict):
            stack += [(f"{key}.{name}" if key else str(name), value) for name, value in reversed(item.items())]
        elif isinstance(item, (list, tuple)):
            stack += [(f"{key}[{index}]", value) for index, value in reversed(list(enumerate(item)))]
    if damaged:
        key, count = damaged[0]
        more = f" (and {len(damaged) - 1} more tensor(s))" if len(damaged) > 1 else ""
        raise ModelError(
            f"Checkpoint {path} holds {count} NaN or infinite value(s) in '{key}'{more}: its weights are damaged "
            "(a training run that diverged?) and were not used. Retrain the model or restore the file."
        )
    return loaded


def _refusedContent(error: BaseException) -> str:
    text = str(error)
    if match := re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text):
        return f"it needs {match.group(1)}"
    _, marker, detail = text.partition("WeightsUnpickler error:")
    lines = detail.strip().splitlines() if marker else []
    return f"torch's safe loader says: {lines[0]}" if lines else "it needs objects beyond the allowed types"


def _firstLine(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else 'no details'}"
