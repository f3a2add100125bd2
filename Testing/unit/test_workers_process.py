"""ProcessRunner with real child processes: progress, results, logs and errors cross intact;
crashes become ModelError with the exit status; nothing of the task corrupts the protocol.

Tasks live in ``workerTasks`` (this folder), which the worker imports through ``extraPythonPath``.
"""

import logging
import os
import pathlib
import sys
import threading

import psutil
import pytest

from VirtualBiopsy.errors import GeometryError, InputError, ModelError
from VirtualBiopsy.workers.inlineRunner import InlineRunner
from VirtualBiopsy.workers.processRunner import ProcessRunner, describeStatus

TASKS = str(pathlib.Path(__file__).resolve().parent)


@pytest.fixture
def runner():
    return ProcessRunner(extraPythonPath=[TASKS])


def test_progress_arrives_in_order_on_the_calling_thread_and_the_result_round_trips(runner):
    reports, threads = [], set()

    def progress(fraction, message):
        reports.append((fraction, message))
        threads.add(threading.get_ident())

    arguments = {"steps": 25, "name": "case-7 T2 ü", "nested": {"spacing": [0.5, 0.5, 3.0], "flag": None}}
    result = runner.run("workerTasks:countSteps", arguments, progress)
    assert reports == [((step + 1) / 25, f"step {step + 1} of 25") for step in range(25)]
    assert threads == {threading.get_ident()}
    assert result["echo"] == arguments
    assert result["steps"] == list(range(25))
    assert result["pid"] != os.getpid()


def test_same_result_as_the_inline_runner(runner):
    arguments = {"steps": 4, "name": "same"}
    inline = InlineRunner().run("workerTasks:countSteps", arguments)
    worker = runner.run("workerTasks:countSteps", arguments)
    assert {key: worker[key] for key in ("echo", "steps")} == {key: inline[key] for key in ("echo", "steps")}


def test_worker_log_records_reach_this_process_loggers(runner, caplog):
    caplog.set_level(logging.INFO)
    runner.run("workerTasks:countSteps", {"steps": 2, "name": "logged"})
    records = [record for record in caplog.records if record.name == "workerTasks"]
    assert [(record.levelname, record.getMessage()) for record in records] == [
        ("WARNING", "counted 2 steps for logged")
    ]
    assert records[0].process != os.getpid()


def test_log_levels_of_this_process_apply_in_the_worker(runner, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("workerTasks").setLevel(logging.ERROR)
    try:
        runner.run("workerTasks:countSteps", {"steps": 2, "name": "quiet"})
    finally:
        logging.getLogger("workerTasks").setLevel(logging.NOTSET)
    assert not [record for record in caplog.records if record.name == "workerTasks"]


@pytest.mark.parametrize(
    ("task", "errorClass"),
    [("workerTasks:raiseInputError", InputError), ("workerTasks:raiseGeometryError", GeometryError)],
)
def test_library_errors_come_back_as_the_same_class_with_their_message(runner, task, errorClass):
    message = "Image 'T2' has 2 dimensions (256, 256); give a 3D volume."
    with pytest.raises(errorClass) as raised:
        runner.run(task, {"message": message})
    assert type(raised.value) is errorClass
    assert str(raised.value) == message


def test_other_exceptions_become_model_error_with_type_message_and_traceback_in_the_log(runner, caplog):
    with pytest.raises(ModelError, match=r"ZeroDivisionError: division by zero") as raised:
        runner.run("workerTasks:raiseBug", {})
    assert type(raised.value) is ModelError
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert any("in _divide" in text and "numerator / denominator" in text for text in errors)


def test_an_exception_logged_in_the_worker_keeps_its_traceback(runner, caplog):
    with pytest.raises(ModelError, match=r"ValueError: weights have the wrong shape \(3, 3\)"):
        runner.run("workerTasks:failAfterLogging", {})
    [record] = [record for record in caplog.records if record.name == "workerTasks"]
    assert record.getMessage() == "lookup failed while preparing"
    assert "KeyError: 'missing'" in record.exc_text


def test_exit_with_a_status_is_model_error_with_the_status_and_stderr_tail(runner):
    with pytest.raises(ModelError, match=r"exited with status 3 without reporting a result") as raised:
        runner.run("workerTasks:exitAbruptly", {"status": 3})
    assert "native library: fatal error in the last step" in str(raised.value)


def test_death_by_sigkill_is_model_error_naming_the_signal(runner):
    reports = []
    with pytest.raises(ModelError, match=r"killed by signal SIGKILL \(9\)"):
        runner.run("workerTasks:killSelf", {}, lambda fraction, message: reports.append(message))
    assert reports == ["about to die"]


@pytest.mark.parametrize(
    ("task", "match"),
    [
        ("workerTasks:notJson", r"not JSON \(Object of type set"),
        ("workerTasks:notADict", r"returned a list, not a dict"),
        ("workerTasks:doesNotExist", r"names no function"),
    ],
)
def test_bad_task_results_and_names_are_reported(runner, task, match):
    with pytest.raises((ModelError, InputError), match=match):
        runner.run(task, {})


def test_malformed_task_name_is_input_error(runner):
    with pytest.raises(InputError, match=r"'nothing' is not of the form 'package.module:function'"):
        runner.run("nothing", {})


@pytest.mark.parametrize("arguments", [{"image": object()}, {"values": {1, 2}}, {"path": pathlib.Path("a.nrrd")}])
def test_arguments_that_are_not_json_are_refused_before_any_process_starts(runner, arguments):
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    with pytest.raises(InputError, match=r"cannot be sent to a worker process.*Pass plain JSON values"):
        runner.run("workerTasks:countSteps", arguments)
    assert {child.pid for child in psutil.Process().children(recursive=True)} <= before


def test_arguments_must_be_a_dict(runner):
    with pytest.raises(InputError, match=r"must be a dict, got list"):
        runner.run("workerTasks:countSteps", [1, 2])


def test_missing_python_executable_is_input_error(tmp_path):
    missing = tmp_path / "no-python-here"
    with pytest.raises(InputError, match=r"Could not start the worker process .*no-python-here.*PythonSlicer"):
        ProcessRunner(pythonExecutable=str(missing)).run("workerTasks:countSteps", {"steps": 1, "name": "x"})


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_environment_and_own_process_group(runner):
    os.environ["VB_WORKER_DROPPED"] = "present here"
    try:
        configured = ProcessRunner(
            extraPythonPath=[TASKS], environment={"VB_WORKER_MARK": "42", "VB_WORKER_DROPPED": None}
        )
        result = configured.run("workerTasks:readEnvironment", {"names": ["VB_WORKER_MARK", "VB_WORKER_DROPPED"]})
    finally:
        del os.environ["VB_WORKER_DROPPED"]
    assert result["values"] == {"VB_WORKER_MARK": "42", "VB_WORKER_DROPPED": None}
    assert result["processGroup"] == result["pid"] != os.getpgid(0)


@pytest.mark.skipif(os.name != "posix", reason="the wrapper is a shell script")
def test_worker_uses_the_given_python_executable(tmp_path):
    """As inside Slicer, where PythonSlicer (a launcher) starts the real Python."""
    marker = tmp_path / "launched.txt"
    launcher = tmp_path / "PythonLauncher"
    launcher.write_text(f'#!/bin/sh\necho "$@" > "{marker}"\nexec "{sys.executable}" "$@"\n')
    launcher.chmod(0o755)
    result = ProcessRunner(pythonExecutable=str(launcher), extraPythonPath=[TASKS]).run(
        "workerTasks:countSteps", {"steps": 3, "name": "launched"}
    )
    assert result["steps"] == [0, 1, 2]
    assert marker.read_text(encoding="utf-8").strip() == "-m VirtualBiopsy.workers.child"


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (0, "exited with status 0"),
        (3, "exited with status 3"),
        (-9, "was killed by signal SIGKILL (9) (often the system's out-of-memory killer)"),
        (-15, "was killed by signal SIGTERM (15)"),
    ],
)
def test_describe_status(status, text):
    assert describeStatus(status) == text


def test_prints_of_the_task_and_its_subprocesses_go_to_stderr_not_the_protocol(runner, caplog):
    caplog.set_level(logging.DEBUG, logger="VirtualBiopsy.workers.processRunner")
    runner.run("workerTasks:countSteps", {"steps": 1, "name": "printing"})
    texts = [record.getMessage() for record in caplog.records if record.name == "VirtualBiopsy.workers.processRunner"]
    assert not [text for text in texts if text.startswith("Ignored a line")]
    for printed in (
        "a print from the task that is not protocol JSON",
        "{raw bytes on file descriptor 1",
        "a grandchild writing to its stdout",
    ):
        assert any(text.endswith(printed) for text in texts), printed


def test_python_warnings_in_the_worker_reach_this_process_logging(runner, caplog):
    runner.run("workerTasks:warnDeprecated", {})
    [record] = [record for record in caplog.records if record.name == "py.warnings"]
    assert record.levelno == logging.WARNING
    assert "FutureWarning: spacing argument is deprecated; pass pixdim" in record.getMessage()
