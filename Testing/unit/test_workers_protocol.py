"""Errors and log records cross the worker protocol intact, and a forged message cannot make the
parent raise or import anything outside the library's error classes."""

import json
import logging

import pytest

from VirtualBiopsy import errors
from VirtualBiopsy.errors import (
    CancelledError,
    DependencyError,
    GeometryError,
    InputError,
    ModelError,
    VirtualBiopsyError,
)
from VirtualBiopsy.workers.protocol import (
    DeviceMemoryError,
    decodeError,
    decodeLogRecord,
    encodeError,
    encodeLogRecord,
)


class SegmentationModelError(ModelError):
    """A library error defined outside VirtualBiopsy.errors: crosses as its nearest class there."""


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001
        return caught


@pytest.mark.parametrize(
    "errorClass", [InputError, GeometryError, DependencyError, ModelError, CancelledError, VirtualBiopsyError]
)
def test_library_errors_round_trip_through_json(errorClass):
    message = json.loads(json.dumps(encodeError(raised(errorClass("Spacing (0.0, 1, 1) has a zero; fix the header.")))))
    error = decodeError(message, "pkg.mod:task")
    assert type(error) is errorClass
    assert str(error) == "Spacing (0.0, 1, 1) has a zero; fix the header."


def test_subclasses_outside_the_errors_module_cross_as_their_nearest_library_class():
    error = decodeError(encodeError(raised(SegmentationModelError("fold 3 missing"))), "t:f")
    assert type(error) is ModelError and str(error) == "fold 3 missing"


def test_traceback_tail_is_carried_and_bounded():
    text = "\n".join(f"line {number}" for number in range(40))
    message = encodeError(raised(KeyError(text)))
    assert message["errorKind"] == "exception" and message["type"] == "KeyError"
    assert message["message"] == repr(text)
    error = raised(ValueError(text))
    assert encodeError(error)["traceback"].splitlines() == [f"line {number}" for number in range(20, 40)]
    short = encodeError(raised(ValueError("weights")))["traceback"].splitlines()
    assert short[0] == "Traceback (most recent call last):" and short[-1] == "ValueError: weights"


@pytest.mark.parametrize(
    "forged",
    [
        {"errorKind": "virtualBiopsy", "type": "SystemExit", "message": "bye"},
        {"errorKind": "virtualBiopsy", "type": "requirePackage", "message": "os"},
        {"errorKind": "virtualBiopsy", "type": "__builtins__", "message": "x"},
        {"errorKind": "virtualBiopsy", "type": "ValueError", "message": "x"},
        {"errorKind": "somethingElse", "type": "InputError", "message": "x"},
        {},
    ],
)
def test_forged_error_messages_only_yield_model_errors(forged):
    error = decodeError({"kind": "error", **forged}, "t:f")
    assert type(error) is ModelError
    assert "failed in the worker process" in str(error)


def test_out_of_memory_has_its_own_kind():
    message = encodeError(raised(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")))
    assert message["errorKind"] == "outOfMemory"
    error = decodeError(message, "seg:infer")
    assert isinstance(error, DeviceMemoryError) and isinstance(error, ModelError)
    assert "Tried to allocate 2.00 GiB" in str(error) and "device 'cpu'" in str(error)


def test_error_classes_are_in_the_errors_module():
    assert {name for name in dir(errors) if isinstance(getattr(errors, name), type)} >= {
        "InputError",
        "GeometryError",
        "DependencyError",
        "ModelError",
        "CancelledError",
    }


def test_log_records_round_trip_with_formatted_message_and_exception():
    logger = logging.getLogger("VirtualBiopsy.segment.test")
    try:
        1 / 0
    except ZeroDivisionError:
        import sys

        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            "file.py",
            12,
            "case %s failed after %d steps",
            ("A-1", 3),
            sys.exc_info(),
            func="segmentCase",
        )
    copy = decodeLogRecord(json.loads(json.dumps(encodeLogRecord(record))))
    assert (copy.name, copy.levelno, copy.levelname, copy.lineno, copy.funcName) == (
        "VirtualBiopsy.segment.test",
        logging.ERROR,
        "ERROR",
        12,
        "segmentCase",
    )
    assert copy.getMessage() == "case A-1 failed after 3 steps"
    assert "ZeroDivisionError: division by zero" in copy.exc_text
    assert logging.Formatter().format(copy).endswith("ZeroDivisionError: division by zero")


@pytest.mark.parametrize("forged", [{}, {"record": None}, {"record": {"levelno": "high", "msg": 5, "args": ["%s"]}}])
def test_forged_log_records_decode_safely(forged):
    record = decodeLogRecord(forged)
    assert record.levelno == logging.INFO
    assert isinstance(record.getMessage(), str)
