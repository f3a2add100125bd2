"""What a resumable long job (a training) keeps between runs: its work folder beside the output, and the states of
the global random generators as plain values (tensors, lists, numbers: they load with ``weights_only=True``)."""

from __future__ import annotations

import os
import pathlib
import random
import shutil
from collections.abc import Iterable
from typing import Any

import numpy as np

#: The work folder's suffix: ``<out>.partial-work``.
WORK_SUFFIX = ".partial-work"


def workFolderOf(out: str | os.PathLike) -> pathlib.Path:
    """The work folder of the output ``out``: ``<out>.partial-work`` beside it."""
    out = pathlib.Path(out).expanduser()
    return out.parent / f"{out.name}{WORK_SUFFIX}"


def discardWork(work: pathlib.Path, entries: Iterable[str], leftovers: Iterable[str] = ()) -> None:
    """Remove the files and folders named ``entries`` and those matching the ``leftovers`` patterns from ``work``,
    then the folder if that leaves it empty (anything else someone put there stays, and so does the folder)."""
    for name in entries:
        path = work / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for pattern in leftovers:
        for leftover in work.glob(pattern):
            leftover.unlink(missing_ok=True)
    try:
        work.rmdir()
    except OSError:
        pass


def globalRandomStates(torch) -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global random generators, as plain values."""
    kind, keys, position, hasGauss, gauss = np.random.get_state()
    version, state, pythonGauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": [int(k) for k in keys], "rest": [int(position), int(hasGauss), float(gauss)]},
        "python": {"version": version, "state": list(state), "gauss": pythonGauss},
    }


def restoreGlobalRandomStates(states: dict[str, Any], torch) -> None:
    """Set the global generators to what :func:`globalRandomStates` recorded."""
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], np.array(numpy["keys"], dtype=np.uint32), *numpy["rest"]))
    python = states["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
