"""Runs cases in parallel on Dask: a local cluster of worker processes, or an existing cluster."""

from __future__ import annotations

import logging
import os
import pickle
import queue
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from VirtualBiopsy.errors import CancelledError, InputError, requirePackage
from VirtualBiopsy.executors.base import caseKeys
from VirtualBiopsy.executors.daskCluster import connectClient, startLocalCluster
from VirtualBiopsy.executors.outcome import CaseError, CaseOutcome, callCase, logOutcome
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

logger = logging.getLogger(__name__)

_PICKLE_FIX = (
    "Functions and cases run in other processes: use a top-level function of an importable module "
    "(or of the script being run) and cases made of plain data (paths, strings, numbers, dataclasses)."
)

#: How often (seconds) the cancel token is checked while no case completes.
POLL_SECONDS = 0.1


class DaskExecutor:
    """A :class:`~VirtualBiopsy.executors.base.CaseExecutor` on a Dask cluster.

    - ``DaskExecutor(workers=N)`` starts a ``distributed.LocalCluster`` of ``N``
      worker processes (``threadsPerWorker`` threads each) bound to 127.0.0.1,
      without dashboard, and closes it when done. Worker processes start with
      ``OMP_NUM_THREADS``, the BLAS variables and ``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS``
      set to 1 (each task thread is meant to use one core). With neither argument,
      one worker per CPU core.
    - ``DaskExecutor(scheduler="tcp://HOST:PORT")`` connects to a running cluster;
      it never closes a cluster it did not start. Its workers must be able to
      import ``VirtualBiopsy`` and the mapped function's module.
    - ``resources={"GPU": 1}`` runs each case only on workers that declare that
      resource (``dask worker --resources GPU=1``), e.g. to pin GPU inference.

    Used as a context manager the cluster lives for the whole block (later
    ``map`` calls find warm workers); otherwise each ``map`` starts and stops it.
    Cancelling a run on a cluster this executor started closes that cluster, so no
    worker process outlives the run: workers still busy with a case are killed
    (the nanny waits about 4 s for them first). A case running on an external
    cluster cannot be interrupted: it finishes there and its result is dropped.
    A worker process that dies (crash, out of memory) fails its case
    (``KilledWorker`` once Dask's retries are spent); the other cases go on.

    :raises InputError: ``workers`` < 1, ``threadsPerWorker`` < 1, both ``workers`` and ``scheduler``.
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        threadsPerWorker: int = 1,
        connectTimeout: float = 10.0,
        resources: dict[str, float] | None = None,
    ) -> None:
        if workers is not None and scheduler is not None:
            raise InputError(
                f"Got both workers={workers} and scheduler={scheduler!r}; pass --workers N to start a local "
                "cluster or --scheduler ADDRESS to use an existing one, not both."
            )
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise InputError(f"The number of Dask workers must be a whole number of at least 1; got {workers!r}.")
        if isinstance(threadsPerWorker, bool) or not isinstance(threadsPerWorker, int) or threadsPerWorker < 1:
            raise InputError(f"threadsPerWorker must be a whole number of at least 1; got {threadsPerWorker!r}.")
        if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
            raise InputError(f"The Dask scheduler address must be like tcp://HOST:PORT; got {scheduler!r}.")
        if scheduler is None and workers is None:
            workers = os.cpu_count() or 1
        self.workers = workers
        self.scheduler = scheduler
        self.threadsPerWorker = threadsPerWorker
        self.connectTimeout = connectTimeout
        self.resources = dict(resources) if resources else None
        self._cluster: Any = None
        self._client: Any = None

    @property
    def address(self) -> str | None:
        """The scheduler's address while connected, else ``None``."""
        return None if self._client is None else self._client.scheduler.address

    @property
    def ownsCluster(self) -> bool:
        """Whether this executor starts (and closes) the cluster itself."""
        return self.scheduler is None

    def start(self) -> None:
        """Start the local cluster or connect to the scheduler (nothing if already done)."""
        if self._client is not None:
            return
        if self.scheduler is None:  # self.ownsCluster, spelled out so that type checkers narrow the scheduler
            assert self.workers is not None, "__init__ sets workers when there is no scheduler"
            distributed = requirePackage("distributed", "dask[distributed]")
            self._cluster = startLocalCluster(self.workers, self.threadsPerWorker)
            try:
                self._client = distributed.Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                self._cluster = None
                raise
        else:
            self._client = connectClient(self.scheduler, self.connectTimeout)

    def close(self) -> None:
        """Disconnect, and stop the worker processes of a cluster this executor started."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
            logger.info("Closed the local Dask cluster")

    def __enter__(self) -> DaskExecutor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def map(
        self,
        function: Callable[[Any], Any],
        items: Sequence[Any],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[CaseOutcome]:
        """Run ``function(item)`` for every item on the cluster.

        :returns: one outcome per item, in input order.
        :raises CancelledError: when ``cancel`` is set; pending cases are cancelled.
        """
        keyList = caseKeys(items, keys)
        if not keyList:
            return []
        if cancel is not None:
            cancel.raiseIfCancelled()
        startedHere = self._client is None
        self.start()
        try:
            return self._run(function, items, keyList, progress or noProgress, cancel)
        except CancelledError:
            if self.ownsCluster:
                self.close()  # kills workers still busy with cancelled cases
            raise
        finally:
            if startedHere:
                self.close()

    def _run(
        self,
        function: Callable[[Any], Any],
        items: Sequence[Any],
        keyList: list[str],
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> list[CaseOutcome]:
        batch = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        completed: queue.SimpleQueue[Any] = queue.SimpleQueue()
        _checkPicklable(function, "The function")
        outcomes: list[CaseOutcome | None] = [None] * len(items)
        pending: dict[Any, int] = {}
        try:
            try:  # one graph for the batch, so the scheduler queues cases it has no free thread for
                daskKeys = [f"vb-case-{batch}-{index}" for index in range(len(items))]
                futures = self._client.map(
                    callCase,
                    [function] * len(items),
                    items,
                    keyList,
                    key=daskKeys,
                    pure=False,
                    resources=self.resources,
                )
            except (TypeError, pickle.PicklingError) as error:
                raise InputError(f"The cases could not be sent to the Dask workers ({error}). {_PICKLE_FIX}") from error
            for index, future in enumerate(futures):
                pending[future] = index
                future.add_done_callback(completed.put)  # runs in a Dask thread; the queue hands it over
            while pending:
                if cancel is not None and cancel.cancelled:
                    raise CancelledError(
                        f"The batch was cancelled after {len(items) - len(pending)} of {len(items)} cases."
                    )
                try:
                    future = completed.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                if future not in pending:
                    continue
                index = pending.pop(future)
                outcome = _outcomeOf(future, keyList[index], time.perf_counter() - started)
                future.release()
                logOutcome(outcome)
                outcomes[index] = outcome
                done = len(items) - len(pending)
                progress(done / len(items), f"{outcome.key} {'done' if outcome.ok else 'failed'}")
        finally:
            if pending:
                self._client.cancel(list(pending), force=True)
        return [outcome for outcome in outcomes if outcome is not None]  # every slot is filled once pending is empty


def _outcomeOf(future: Any, key: str, elapsed: float) -> CaseOutcome:
    """The outcome a finished future carries; a worker crash or a cancelled task becomes a failed case."""
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        failure = CaseError("CancelledError", "the case was cancelled on the Dask cluster", "(not raised by the case)")
        return CaseOutcome(key, error=failure, seconds=elapsed)
    error = future.exception()
    if isinstance(error, CancelledError):
        raise error
    # callCase catches the function's exceptions, so this is the cluster's failure (e.g. KilledWorker)
    failure = CaseError(type(error).__name__, str(error), "(raised by the Dask cluster, not by the case)")
    return CaseOutcome(key, error=failure, seconds=elapsed)


def _checkPicklable(function: Callable[[Any], Any], what: str) -> None:
    """Raise :class:`InputError` when ``function`` cannot be pickled the way Dask sends it (cloudpickle)."""
    cloudpickle = requirePackage("cloudpickle")
    try:
        cloudpickle.dumps(function)
    except Exception as error:  # noqa: BLE001 - pickling raises many kinds
        name = getattr(function, "__qualname__", repr(function))
        raise InputError(f"{what} {name!r} could not be sent to the Dask workers ({error}). {_PICKLE_FIX}") from error
