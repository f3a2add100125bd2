"""``virtual-biopsy demo``: a virtual cohort generated, then :func:`~VirtualBiopsy.cohort.cohortRun.run` on it.

One code path with ``virtual-biopsy run``: ``DIR/virtual-cohort`` holds the generated cohort (images, masks,
manifest, clinical table), ``DIR/run`` the run folder (tables, scenes, cohort analyses, report).
"""

from __future__ import annotations

import pathlib

from VirtualBiopsy.cohort.cohortRun import RunResult, run
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.files import requireNewFolder
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress


def runDemo(
    outDir: str | pathlib.Path,
    cases: int = 24,
    seed: int = 0,
    size: int = 128,
    config: PipelineConfig | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RunResult:
    """Generate a virtual cohort in ``outDir/virtual-cohort`` and run the pipeline on it into ``outDir/run``.

    :param config: the pipeline settings (default: the ``demo`` preset).
    :raises InputError: when ``outDir`` exists and is not empty (nothing is overwritten).
    """
    outDir = requireNewFolder(outDir)
    progress = progress or noProgress
    progress(0.0, f"Generating {cases} virtual patients")
    manifest = generateCohort(
        outDir / "virtual-cohort",
        cases=cases,
        seed=seed,
        size=size,
        progress=lambda fraction, message: progress(0.2 * fraction, message),
        cancel=cancel,
    )
    return run(
        manifest,
        outDir / "run",
        config=config or PipelineConfig.preset("demo"),
        workers=workers,
        progress=lambda fraction, message: progress(0.2 + 0.8 * fraction, message),
        cancel=cancel,
    )
