"""Top-level functions the executor tests run on workers.

They live in a module of their own (not in the test file) so that worker
processes import them by name: a LocalCluster's spawned workers start with the
test runner's ``sys.path``, which holds this folder.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

from VirtualBiopsy.errors import InputError


def seededStatistics(seed: int) -> dict[str, float]:
    """A deterministic numpy computation seeded by ``seed``; earlier seeds take longer,
    so on several workers cases complete out of input order."""
    time.sleep(0.04 * max(0, 6 - seed))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(60, 60))
    eigenvalues = np.linalg.eigvalsh(matrix @ matrix.T)
    return {"seed": seed, "largest": float(eigenvalues[-1]), "trace": float(np.trace(matrix @ matrix.T))}


def failOnBadInput(item: str) -> str:
    """Raise :class:`InputError` for ``"bad"``, a bug (``ZeroDivisionError``) for ``"bug"``; else echo."""
    if item == "bad":
        raise InputError(f"Case {item!r} has an empty mask; segment the tumour first.")
    if item == "bug":
        return str(1 / 0)
    return item.upper()


def sleepFor(seconds: float) -> int:
    """Sleep ``seconds`` and return the worker's process id."""
    time.sleep(seconds)
    return os.getpid()


def sleepThenMark(arguments: tuple[float, str]) -> str:
    """Sleep, then create the marker file: it exists only if the case ran to its end."""
    seconds, marker = arguments
    time.sleep(seconds)
    pathlib.Path(marker).touch()
    return marker


def threadSettings(_: object) -> dict[str, object]:
    """Thread-pool settings a worker process sees."""
    import SimpleITK as sitk

    return {
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "itkThreads": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
        "pid": os.getpid(),
    }


def crashOn(item: str) -> str:
    """Kill the worker process abruptly (as a segfault or the OOM killer would) for ``"crash"``."""
    if item == "crash":
        os._exit(1)
    return item
