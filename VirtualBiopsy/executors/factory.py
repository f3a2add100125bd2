"""Picks the executor the command-line options ask for."""

from __future__ import annotations

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.executors.base import CaseExecutor
from VirtualBiopsy.executors.daskExecutor import DaskExecutor
from VirtualBiopsy.executors.serial import SerialExecutor


def makeExecutor(workers: int | None = None, scheduler: str | None = None) -> CaseExecutor:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS``.

    Neither → :class:`SerialExecutor`; ``workers`` → a :class:`DaskExecutor` that
    starts a local cluster of that many processes; ``scheduler`` → a
    :class:`DaskExecutor` on that existing cluster.

    :raises InputError: when both are given, or ``workers`` < 1.
    """
    if workers is not None and scheduler is not None:
        raise InputError(
            f"Got both --workers {workers} and --scheduler {scheduler}; use --workers N for a local Dask cluster "
            "or --scheduler ADDRESS for an existing one, not both."
        )
    if workers is None and scheduler is None:
        return SerialExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler)
