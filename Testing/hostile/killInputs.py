"""Kill-and-resume helpers: start ``virtual-biopsy`` in a new process, wait for a file that marks a finished step,
then SIGKILL the command and every process it started (its workers run in sessions of their own)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil

#: A result-cache entry's file name (the key is 64 hex digits).
_CACHE_ENTRY = re.compile(r"^[0-9a-f]{64}\.json$")
#: The tiny CycleGAN of the style-transfer cases (as in Testing/unit/styleTransferModels.py).
TINY_STYLE_CONFIG = {
    "generatorFilters": 8,
    "residualBlocks": 1,
    "discriminatorFilters": 8,
    "sliceSize": 32,
    "batchSize": 2,
    "poolSize": 4,
}


def command(*argv: str | os.PathLike) -> list[str]:
    """``virtual-biopsy ARGV`` as a new Python process's command line."""
    return [sys.executable, "-m", "VirtualBiopsy.cli", *map(str, argv)]


def runUntil(argv: list[str], done: Callable[[], bool], log: pathlib.Path, timeout: float = 300) -> bool:
    """Run ``argv`` until ``done()`` is true, then SIGKILL it and all its descendants; returns whether it was
    killed (``False``: it ended by itself first). Its output goes to ``log``."""
    with open(log, "wb") as stream:
        process = subprocess.Popen(argv, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            while process.poll() is None and time.monotonic() < deadline:
                if done():
                    killTree(process)
                    return True
                time.sleep(0.02)
            return False
        finally:
            if process.poll() is None:
                killTree(process)


def killTree(process: subprocess.Popen) -> None:
    """SIGKILL ``process``, its process group and every descendant (worker processes start their own groups)."""
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    for target in [*descendants]:
        try:
            target.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    psutil.wait_procs(descendants, timeout=30)


def cacheEntries(folder: pathlib.Path) -> int:
    """Complete entries in a result-cache folder (its half-written temporary files are hidden and not counted)."""
    return sum(1 for p in folder.iterdir() if _CACHE_ENTRY.match(p.name)) if folder.is_dir() else 0


def stagingLeftovers(out: pathlib.Path) -> list[str]:
    """Hidden staging siblings of ``out`` (``.NAME.*.partial``) that a writer left behind."""
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*.partial"))


def writeTinyStyleConfig(path: pathlib.Path) -> pathlib.Path:
    """The tiny CycleGAN settings as a settings file for ``styletransfer train --config``."""
    path.write_text(json.dumps(TINY_STYLE_CONFIG), encoding="utf-8")
    return path
