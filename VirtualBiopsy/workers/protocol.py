"""The messages a worker process and its parent exchange, and how errors cross between them.

The parent writes one JSON request ``{"task", "arguments", "logLevels"}`` to the
child's stdin. The child answers with JSON lines on a dedicated channel, one
object per line, each with a ``kind``:

- ``progress``: ``fraction``, ``message``;
- ``log``: ``record``, the fields of a :class:`logging.LogRecord` (message already formatted);
- ``result``: ``result``, the task's JSON result;
- ``error``: ``errorKind`` (see below), ``type``, ``message``, ``traceback``.

``errorKind`` is ``"virtualBiopsy"`` for a :class:`~VirtualBiopsy.errors.VirtualBiopsyError`
(``type`` is then the nearest class of :mod:`VirtualBiopsy.errors`, recreated in the
parent), ``"outOfMemory"`` for a CUDA out-of-memory error, and ``"exception"`` for
anything else.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from VirtualBiopsy import errors
from VirtualBiopsy.errors import ModelError, VirtualBiopsyError

#: Lines of the worker's traceback kept in an error message.
TRACEBACK_TAIL_LINES = 20

_RECORD_FIELDS = (
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "threadName",
    "processName",
    "process",
)


class DeviceMemoryError(ModelError):
    """A task ran out of GPU memory (CUDA out of memory) in a worker."""


def isCudaOutOfMemory(error: BaseException) -> bool:
    """Whether ``error`` is a CUDA out-of-memory error, from torch or relayed by a worker.

    Recognised without importing torch: :class:`DeviceMemoryError`, torch's
    ``torch.cuda.OutOfMemoryError``, or a ``RuntimeError`` whose message contains
    ``"CUDA out of memory"`` (older torch versions).
    """
    if isinstance(error, DeviceMemoryError):
        return True
    errorType = type(error)
    if errorType.__name__ == "OutOfMemoryError" and errorType.__module__.startswith("torch"):
        return True
    return isinstance(error, RuntimeError) and "CUDA out of memory" in str(error)


def encodeError(error: BaseException) -> dict[str, Any]:
    """The ``error`` message that carries ``error`` from the worker to its parent."""
    tail = "".join(traceback.format_exception(error)).splitlines()[-TRACEBACK_TAIL_LINES:]
    if isCudaOutOfMemory(error):
        errorKind, typeName = "outOfMemory", type(error).__name__
    elif isinstance(error, VirtualBiopsyError):
        errorKind, typeName = "virtualBiopsy", _nearestLibraryError(type(error)).__name__
    else:
        errorKind, typeName = "exception", type(error).__name__
    return {
        "kind": "error",
        "errorKind": errorKind,
        "type": typeName,
        "message": str(error),
        "traceback": "\n".join(tail),
    }


def decodeError(message: dict[str, Any], task: str) -> VirtualBiopsyError:
    """The exception the parent raises for a worker's ``error`` message on ``task``.

    Only classes of :mod:`VirtualBiopsy.errors` are recreated, whatever the message names.
    """
    typeName = str(message.get("type", "Exception"))
    text = str(message.get("message", ""))
    errorKind = message.get("errorKind")
    if errorKind == "virtualBiopsy":
        errorClass = getattr(errors, typeName, None)
        if isinstance(errorClass, type) and issubclass(errorClass, VirtualBiopsyError):
            return errorClass(text)
    if errorKind == "outOfMemory":
        return DeviceMemoryError(
            f"Task {task} ran out of GPU memory ({typeName}: {text}). Run it on the CPU (device 'cpu'), "
            "or reduce the input size or the batch size."
        )
    return ModelError(
        f"Task {task} failed in the worker process with {typeName}: {text}. "
        "This is a bug in the task or its model, not in the input; the worker's traceback is in the log."
    )


def encodeLogRecord(record: logging.LogRecord) -> dict[str, Any]:
    """The ``log`` message for ``record``; its message and any exception are formatted here."""
    fields = {name: getattr(record, name, None) for name in _RECORD_FIELDS}
    fields["msg"] = record.getMessage()
    if record.exc_info:
        fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        fields["exc_text"] = record.exc_text
    return {"kind": "log", "record": fields}


def decodeLogRecord(message: dict[str, Any]) -> logging.LogRecord:
    """The :class:`logging.LogRecord` a worker's ``log`` message describes."""
    record = message.get("record") or {}
    fields = {key: value for key, value in record.items() if key in _RECORD_FIELDS}
    try:
        fields["levelno"] = int(record.get("levelno", logging.INFO))
    except (TypeError, ValueError):
        fields["levelno"] = logging.INFO
    fields["levelname"] = logging.getLevelName(fields["levelno"])
    fields["name"] = str(record.get("name") or "VirtualBiopsy.workers.child")
    fields["msg"] = str(record.get("msg", ""))
    fields["args"] = None
    if record.get("exc_text"):
        fields["exc_text"] = str(record["exc_text"])
    return logging.makeLogRecord(fields)


def _nearestLibraryError(errorClass: type) -> type:
    for base in errorClass.__mro__:
        if getattr(errors, base.__name__, None) is base:
            return base
    return VirtualBiopsyError
