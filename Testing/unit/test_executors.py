"""Case executors: same outcomes in input order on every executor, per-case failures,
progress, cancel without leftover processes, external schedulers and clear errors.

Dask tests start real LocalClusters of spawned worker processes; the functions they
run live in ``executorTasks`` (imported by name in the workers).
"""

import os
import socket
import threading
import time

import executorTasks as tasks
import psutil
import pytest

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.executors import (
    CaseExecutor,
    CaseOutcome,
    DaskExecutor,
    SerialExecutor,
    caseKeys,
    makeExecutor,
)
from VirtualBiopsy.progress import CancelToken

SEEDS = list(range(6))
ITK_THREADS_HERE = os.environ.get("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")


def tripled(value: int) -> int:
    """Defined in the test module: workers import ``test_executors`` by name (they inherit ``sys.path``)."""
    return value * 3


def childPids() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def workerProcesses(pids: set[int]) -> list[int]:
    """The pids among ``pids`` that are live spawned worker processes (not multiprocessing's resource tracker)."""
    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(process.cmdline()):
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def freeLoopbackPort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def twoWorkers():
    """One local cluster of two worker processes shared by the tests that only map on it."""
    with DaskExecutor(workers=2) as executor:
        yield executor


# --- serial executor and common behaviour (fast) ---------------------------------------------


def test_serial_outcomes_in_order_with_values_and_times():
    outcomes = SerialExecutor().map(tasks.seededStatistics, [2, 0, 1])
    assert [o.key for o in outcomes] == ["0", "1", "2"]  # plain numbers get their index as key
    assert [o.value["seed"] for o in outcomes] == [2, 0, 1]
    assert all(o.ok and o.error is None for o in outcomes)
    assert outcomes[1].seconds > outcomes[0].seconds > 0  # seed 0 sleeps longest


def test_failing_cases_become_failures_and_the_batch_goes_on():
    outcomes = SerialExecutor().map(tasks.failOnBadInput, ["a", "bad", "bug", "b"])
    assert [o.value for o in outcomes] == ["A", None, None, "B"]
    bad, bug = outcomes[1].error, outcomes[2].error
    assert (bad.typeName, bad.expected, bad.traceback) == ("InputError", True, None)
    assert "empty mask" in bad.message and str(bad).startswith("InputError: Case 'bad'")
    assert (bug.typeName, bug.expected) == ("ZeroDivisionError", False)
    assert "executorTasks.py" in bug.traceback and "1 / 0" in bug.traceback


def test_serial_progress_once_per_case_and_cancel():
    reports = []
    SerialExecutor().map(tasks.failOnBadInput, ["x", "bad"], progress=lambda f, m: reports.append((f, m)))
    assert reports == [(0.5, "x done"), (1.0, "bad failed")]

    token = CancelToken()

    def cancelAfterFirst(fraction, message):
        token.cancel()

    with pytest.raises(CancelledError, match="after 1 of 3 cases"):
        SerialExecutor().map(tasks.failOnBadInput, ["a", "b", "c"], progress=cancelAfterFirst, cancel=token)


def test_case_keys():
    class Case:
        def __init__(self, patient):
            self.patient = patient

    assert caseKeys([Case("P1"), Case("P2")]) == ["P1", "P2"]
    assert caseKeys(["a", "b"]) == ["a", "b"]
    assert caseKeys([3.5, None]) == ["0", "1"]
    assert caseKeys([1, 2], keys=["x", "y"]) == ["x", "y"]
    with pytest.raises(InputError, match="2 keys for 3 cases"):
        caseKeys([1, 2, 3], keys=["a", "b"])
    with pytest.raises(InputError, match=r"repeated: \['P1'\]"):
        caseKeys([Case("P1"), Case("P1")])


def test_make_executor_and_argument_errors():
    assert isinstance(makeExecutor(None, None), SerialExecutor)
    local = makeExecutor(workers=3, scheduler=None)
    assert isinstance(local, DaskExecutor) and local.workers == 3 and local.ownsCluster
    remote = makeExecutor(None, "tcp://10.0.0.5:8786")
    assert isinstance(remote, DaskExecutor) and not remote.ownsCluster and remote.address is None
    assert all(isinstance(e, CaseExecutor) for e in (local, remote, SerialExecutor()))
    with pytest.raises(InputError, match="not both"):
        makeExecutor(2, "tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="not both"):
        DaskExecutor(workers=2, scheduler="tcp://127.0.0.1:8786")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="at least 1"):
            makeExecutor(bad, None)
    with pytest.raises(InputError, match="threadsPerWorker"):
        DaskExecutor(workers=1, threadsPerWorker=0)
    assert DaskExecutor().map(tasks.sleepFor, []) == []  # nothing to do starts nothing


# --- Dask ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_outcomes_identical_across_executors_and_worker_counts(twoWorkers):
    serial = SerialExecutor().map(tasks.seededStatistics, SEEDS)
    before = childPids()
    oneWorker = DaskExecutor(workers=1).map(tasks.seededStatistics, SEEDS)  # starts and stops its own cluster
    assert workerProcesses(childPids() - before) == [], "a cluster started by map() must be closed when it returns"
    reports = []
    twoWorkerOutcomes = twoWorkers.map(tasks.seededStatistics, SEEDS, progress=lambda f, m: reports.append((f, m)))

    for outcomes in (oneWorker, twoWorkerOutcomes):
        assert [o.key for o in outcomes] == [str(s) for s in SEEDS]
        assert [o.value for o in outcomes] == [o.value for o in serial]  # bit-identical floats
        assert all(isinstance(o, CaseOutcome) and o.ok and o.seconds > 0 for o in outcomes)
    # progress: once per case, increasing, ending at 1.0; on two workers cases finish out of input order
    assert [f for f, _ in reports] == [(i + 1) / len(SEEDS) for i in range(len(SEEDS))]
    finishedOrder = [m.removesuffix(" done") for _, m in reports]
    assert sorted(finishedOrder) == [str(s) for s in SEEDS]
    assert finishedOrder != [str(s) for s in SEEDS], "expected out-of-order completion on two workers"


@pytest.mark.slow
def test_dask_failures_are_per_case(twoWorkers):
    outcomes = twoWorkers.map(tasks.failOnBadInput, ["a", "bad", "bug", "b"], keys=["P1", "P2", "P3", "P4"])
    assert [o.key for o in outcomes] == ["P1", "P2", "P3", "P4"]
    assert [o.value for o in outcomes] == ["A", None, None, "B"]
    assert outcomes[1].error.typeName == "InputError" and outcomes[1].error.expected
    assert outcomes[2].error.typeName == "ZeroDivisionError" and "1 / 0" in outcomes[2].error.traceback


@pytest.mark.slow
def test_workers_are_local_single_threaded_and_leave_this_process_alone(twoWorkers):
    settings = [o.value for o in twoWorkers.map(tasks.threadSettings, ["a", "b", "c", "d"])]
    assert {(s["OMP_NUM_THREADS"], s["OPENBLAS_NUM_THREADS"], s["itkThreads"]) for s in settings} == {("1", "1", 1)}
    assert {s["pid"] for s in settings} <= childPids()
    assert twoWorkers.address.startswith("tcp://127.0.0.1:")
    ours = childPids() | {os.getpid()}
    listening = [c for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.pid in ours]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)
    assert os.environ.get("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS") == ITK_THREADS_HERE  # set for the workers only


@pytest.mark.slow
def test_functions_from_the_test_module_and_lambdas_reach_workers(twoWorkers):
    assert [o.value for o in twoWorkers.map(tripled, [1, 2])] == [3, 6]  # by reference
    assert [o.value for o in twoWorkers.map(lambda x: x * 3, [1, 2])] == [3, 6]  # by value (cloudpickle)
    lock = threading.Lock()
    with pytest.raises(InputError, match="could not be sent to the Dask workers"):
        twoWorkers.map(lambda x: (lock, x), [1])


@pytest.mark.slow
def test_a_crashing_worker_fails_only_its_case():
    dask = pytest.importorskip("dask")
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # no retries: fail on the first crash
        # the crash runs first; the other cases wait at the scheduler (worker-saturation 1.0), not on the
        # worker, so they survive it. (A case that finished on a worker just before it died can lose its
        # result; Dask then reruns it, up to allowed-failures times, 3 by default.)
        outcomes = DaskExecutor(workers=1).map(tasks.crashOn, ["crash", "a", "b", "c"])
    assert [o.value for o in outcomes] == [None, "a", "b", "c"]
    error = outcomes[0].error
    assert error.typeName == "KilledWorker" and not error.expected and outcomes[0].key == "crash"


@pytest.mark.slow
def test_cancel_stops_the_run_and_leaves_no_worker_processes(tmp_path):
    token = CancelToken()
    reports = []

    def cancelOnFirstCompletion(fraction, message):
        reports.append(message)
        token.cancel()

    markers = [tmp_path / f"case{index}" for index in range(4)]
    cases = [(0.1 if index == 0 else 20.0, str(marker)) for index, marker in enumerate(markers)]
    before = childPids()
    with DaskExecutor(workers=2) as executor:
        workerPids = workerProcesses(childPids() - before)
        assert len(workerPids) == 2
        with pytest.raises(CancelledError, match="after 1 of 4 cases"):
            executor.map(
                tasks.sleepThenMark,
                cases,
                progress=cancelOnFirstCompletion,
                cancel=token,
                keys=[str(index) for index in range(4)],
            )
        assert executor.address is None  # the cluster it started is closed at once
        assert workerProcesses(set(workerPids)) == []
    assert reports == ["0 done"]
    # the running and pending cases were stopped, not waited for
    assert [marker.exists() for marker in markers] == [True, False, False, False]


@pytest.mark.slow
def test_existing_cluster_by_address_is_used_and_left_running():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        executor = makeExecutor(None, cluster.scheduler_address)
        outcomes = executor.map(tasks.seededStatistics, [4, 5])
        assert [o.value for o in outcomes] == [o.value for o in SerialExecutor().map(tasks.seededStatistics, [4, 5])]
        assert executor.address is None  # disconnected after map
        assert cluster.status.name == "running" and len(cluster.scheduler_info["workers"]) == 1
        with DaskExecutor(scheduler=cluster.scheduler_address) as connected:
            assert connected.address == cluster.scheduler_address
        assert cluster.status.name == "running"


@pytest.mark.slow
def test_unreachable_scheduler_fails_fast_with_the_fix():
    address = f"tcp://127.0.0.1:{freeLoopbackPort()}"
    start = time.perf_counter()
    with pytest.raises(InputError, match="dask scheduler") as raised:
        DaskExecutor(scheduler=address, connectTimeout=2).map(tasks.sleepFor, [0.0])
    assert time.perf_counter() - start < 8
    assert address in str(raised.value) and "within 2 s" in str(raised.value)
    with pytest.raises(InputError, match="not valid|Could not connect"):
        DaskExecutor(scheduler="nonsense://x", connectTimeout=2).start()
