"""A tiny virtual cohort and a tiny trained CycleGAN, made once per test session (each test copies what it
changes). Imported by the style-transfer tests."""

from __future__ import annotations

import atexit
import functools
import pathlib
import shutil
import tempfile

#: Settings small enough to train a few steps in seconds on two shared cores.
TINY_CONFIG = {
    "generatorFilters": 8,
    "residualBlocks": 1,
    "discriminatorFilters": 8,
    "sliceSize": 32,
    "batchSize": 2,
    "poolSize": 4,
}


@functools.cache
def sessionFolder() -> pathlib.Path:
    folder = pathlib.Path(tempfile.mkdtemp(prefix="vb-styletransfer-tests-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.cache
def tinyCohort() -> pathlib.Path:
    """A virtual cohort of 8 cases at 32³ (sites A: 3, B: 1, C: 4); returns its manifest."""
    from VirtualBiopsy.data.virtualCohort import generateCohort

    return generateCohort(sessionFolder() / "cohort", cases=8, seed=0, size=32)


def siteImages(site: str, sequence: str = "T2") -> list[str]:
    """The tiny cohort's ``sequence`` images of ``site``."""
    from VirtualBiopsy.data.manifest import readManifest

    cohort = readManifest(tinyCohort())
    return [str(case.sequences[sequence]) for case in cohort.cases if case.site == site]


def trainTiny(
    out: pathlib.Path,
    source: list[str],
    target: list[str],
    epochs: int = 2,
    iterations: int = 3,
    seed: int = 0,
    **changes,
) -> dict:
    """Train the tiny configuration in this process; returns the task's result."""
    from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
    from VirtualBiopsy.harmonize.styleTransfer.training import (
        trainCycleGan,
        trainingArguments,
    )
    from VirtualBiopsy.progress import noProgress

    arguments = trainingArguments(
        source,
        target,
        str(out),
        "T2",
        "SiteA",
        "SiteB",
        CycleGanConfig.fromDict({**TINY_CONFIG, **changes}),
        epochs,
        iterations,
        "cpu",
        seed,
        threads=1,
    )
    return trainCycleGan(arguments, noProgress)


@functools.cache
def trainedTinyModel() -> tuple[pathlib.Path, dict]:
    """A tiny SiteA → SiteB T2 model (2 epochs of 3 steps): its folder and the training result."""
    folder = sessionFolder() / "siteA-to-siteB"
    return folder, trainTiny(folder, siteImages("SiteA"), siteImages("SiteB"))
