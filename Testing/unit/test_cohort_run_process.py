"""The Cohort run's background process, for real: a small Python child that writes progress events and starts
processes of its own (one in its group, one that leaves it with setsid) stands in for ``virtual-biopsy run``.
Polling never waits for it; Cancel stops the child and every descendant within a few seconds, also a child
that ignores Ctrl-C."""

import json
import os
import pathlib
import stat
import sys
import textwrap
import time

import psutil
import pytest

from VirtualBiopsy.cohort.runEvents import EventsFollower
from VirtualBiopsy.cohort.runProcess import CohortRunProcess
from VirtualBiopsy.cohort.runRequest import CohortRunRequest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and SIGINT as on Linux and macOS")

CHILD = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    out, cases, ignoreInterrupt = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "ignore"
    if ignoreInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    grandchildren = [subprocess.Popen(sleeper), subprocess.Popen(sleeper, start_new_session=True)]
    with open(os.path.join(out, "pids.json"), "w") as stream:
        json.dump([os.getpid(), *[p.pid for p in grandchildren]], stream)
    def event(kind, case=None, done=0, stage=None, status=None):
        record = {"time": "2026-12-07T09:00:00+00:00", "event": kind, "case": case, "stage": stage,
                  "status": status, "seconds": None, "error": None, "done": done, "failed": 0, "total": cases}
        with open(os.path.join(out, "events.jsonl"), "a") as stream:
            stream.write(json.dumps(record) + "\\n")
    event("run-started")
    print("started", flush=True)
    for index in range(cases):
        event("case-started", f"VB{index:04d}", index)
        time.sleep(0.2)
        event("stage-finished", f"VB{index:04d}", index, "extract", "done")
        event("case-finished", f"VB{index:04d}", index + 1)
    event("run-finished", done=cases)
    for process in grandchildren:
        process.kill()
        process.wait()
    print("finished", file=sys.stderr, flush=True)
    """
)


@pytest.fixture
def child(tmp_path) -> pathlib.Path:
    path = tmp_path / "child.py"
    path.write_text(CHILD, encoding="utf-8")
    return path


def waitFor(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def startedPids(folder: pathlib.Path) -> list[int]:
    path = folder / "pids.json"
    pids = waitFor(lambda: path.is_file() and path.read_text(encoding="utf-8").strip(), 20)
    assert pids, "the child did not start its processes"
    return json.loads(pids)


def test_a_run_is_followed_to_its_end(child, tmp_path):
    process = CohortRunProcess([sys.executable, str(child), str(tmp_path), "3", "obey"])
    follower = EventsFollower(tmp_path / "events.jsonl")
    assert process.poll() is None  # poll does not wait: the child is still at its first case
    assert waitFor(lambda: process.poll() is not None, 30)
    assert process.poll() == 0
    progress = follower.update()
    assert (progress.done, progress.total, progress.finished, progress.stages) == (3, 3, True, {"extract": {"done": 3}})
    assert process.output().split() == ["started", "finished"]
    process.close()
    assert not process.logPath.exists()


@pytest.mark.parametrize("interrupt", ["obey", "ignore"])
def test_cancel_stops_the_whole_process_tree(child, tmp_path, interrupt):
    process = CohortRunProcess([sys.executable, str(child), str(tmp_path), "1000", interrupt])
    pids = startedPids(tmp_path)
    follower = EventsFollower(tmp_path / "events.jsonl")
    assert waitFor(lambda: follower.update().running, 10), "no case started"
    assert all(alive(pid) for pid in pids)
    waitFor(lambda: process.poll() is None and False, 0.6)  # polls meanwhile: remembers the descendants
    process.stop(graceSeconds=1.0)
    assert process.stopping
    assert waitFor(lambda: process.poll(graceSeconds=0.5) is not None, 10)
    status = process.poll()
    assert not any(alive(pid) for pid in pids), {pid: alive(pid) for pid in pids}
    assert status != 0
    process.close()


def test_start_runs_the_cli_with_the_library_on_the_path(tmp_path):
    """``start`` hands the request's ``run`` arguments to the given Python, with this library first on its path."""
    manifest = tmp_path / "cohort.csv"
    manifest.write_text("patient\n", encoding="utf-8")
    python = tmp_path / "PythonSlicer"
    python.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'path': os.environ['PYTHONPATH'].split(os.pathsep)[0]}))\n"
        "sys.exit(2)\n",
        encoding="utf-8",
    )
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    request = CohortRunRequest.fromDict({"manifest": str(manifest), "outDir": str(tmp_path / "run")})
    process = CohortRunProcess.start(request, str(python), check=True)
    assert waitFor(lambda: process.poll() is not None, 20)
    assert process.poll() == 2
    report = json.loads(process.output())
    assert report["argv"] == ["-m", "VirtualBiopsy.cli", *request.arguments(check=True)]
    assert pathlib.Path(report["path"]) == pathlib.Path(__file__).resolve().parents[2]
    process.close()


def test_a_missing_python_is_reported(tmp_path):
    from VirtualBiopsy.errors import InputError

    with pytest.raises(InputError, match="Could not start"):
        CohortRunProcess([str(tmp_path / "no-such-python")])
