"""Picks the executor the command-line options ask for."""

from __future__ import annotations

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.executors.base import CaseExecutor
from VirtualBiopsy.executors.daskExecutor import DaskExecutor
from VirtualBiopsy.executors.serial import SerialExecutor


def makeExecutor(
    workers: int | None = None, scheduler: str | None = None, resources: dict[str, float] | None = None
) -> CaseExecutor:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS``.

    Neither → :class:`SerialExecutor`; ``workers`` → a :class:`DaskExecutor` that
    starts a local cluster of that many processes; ``scheduler`` → a
    :class:`DaskExecutor` on that existing cluster.

    ``resources`` (Dask only) sends each case to workers that declare them, e.g. ``{"GPU": 1}``.

    :raises InputError: when both are given, or ``workers`` < 1, or ``resources`` without Dask.
    """
    if workers is not None and scheduler is not None:
        raise InputError(
            f"Got both --workers {workers} and --scheduler {scheduler}; use --workers N for a local Dask cluster "
            "or --scheduler ADDRESS for an existing one, not both."
        )
    if workers is None and scheduler is None:
        if resources:
            raise InputError(
                f"Worker resources {resources} need Dask workers that declare them; add --scheduler ADDRESS "
                "(a cluster whose workers were started with --resources) or drop the resource."
            )
        return SerialExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler, resources=resources)
