"""Starting a local Dask cluster (loopback only, single-threaded BLAS/OpenMP/ITK in workers)
and connecting to an existing scheduler, with clear errors."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from VirtualBiopsy.errors import InputError, requirePackage

logger = logging.getLogger(__name__)

#: Variables that size the thread pools of numerical libraries (OpenMP, BLAS, numexpr, ITK).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS",
)

#: Only this machine can reach a cluster we start.
LOOPBACK = "127.0.0.1"


def workerEnvironment() -> dict[str, str]:
    """Environment each worker process starts with: one thread per numerical library pool, so
    the worker's task threads (one per core it was given) do not oversubscribe the cores."""
    return {name: "1" for name in THREAD_VARIABLES}


@contextlib.contextmanager
def _environmentSetTo(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore what was there.

    Dask reads the pre-spawn environment from the configuration, but a variable
    already set in this process wins over it, and the nanny leaves it set here;
    this makes the worker values ours and leaves this process as it was.
    """
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def startLocalCluster(workers: int, threadsPerWorker: int = 1) -> Any:
    """Start a ``distributed.LocalCluster`` of ``workers`` processes listening on loopback only.

    No dashboard; the scheduler's HTTP endpoint takes a free loopback port (not 8787,
    which other clusters on the machine may hold).

    :raises DependencyError: when ``distributed`` is not installed.
    """
    distributed = requirePackage("distributed", "dask[distributed]")
    dask = requirePackage("dask")
    environment = workerEnvironment()
    preSpawn = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **environment}
    settings = {
        "distributed.nanny.pre-spawn-environ": preSpawn,
        # a worker holds only the cases it is running: a case that kills its worker process
        # (segfault, out of memory) then takes no queued case down with it
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings), _environmentSetTo(environment):
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=threadsPerWorker,
            processes=True,
            host=LOOPBACK,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": f"{LOOPBACK}:0"},
            silence_logs=logging.ERROR,
        )
    logger.info("Started a local Dask cluster of %d worker processes at %s", workers, cluster.scheduler_address)
    return cluster


def connectClient(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address`` (not made the default client).

    :raises InputError: when the address is malformed or no scheduler answers within ``timeout`` seconds.
    """
    distributed = requirePackage("distributed", "dask[distributed]")
    fix = (
        "Check the address (tcp://HOST:PORT, as `dask scheduler` prints it) and that the scheduler runs and is "
        "reachable from here; start one with `dask scheduler` (and workers with `dask worker ADDRESS`), "
        "or use --workers N for a local cluster instead."
    )
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except ValueError as error:
        raise InputError(f"The Dask scheduler address {address!r} is not valid ({error}). {fix}") from error
    except (OSError, TimeoutError) as error:
        raise InputError(
            f"Could not connect to the Dask scheduler at {address!r} within {timeout:g} s ({error}). {fix}"
        ) from error
    workerCount = len(client.scheduler_info().get("workers", {}))
    if workerCount == 0:
        logger.warning("The Dask scheduler at %s has no workers yet; cases wait until workers join.", address)
    else:
        logger.info("Connected to the Dask scheduler at %s with %d workers", address, workerCount)
    return client
