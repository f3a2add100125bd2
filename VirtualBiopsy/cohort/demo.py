"""``virtual-biopsy demo``: a virtual cohort generated, then :func:`~VirtualBiopsy.cohort.cohortRun.run` on it.

One code path with ``virtual-biopsy run``: ``DIR/virtual-cohort`` holds the generated cohort (images, masks,
manifest, clinical table), ``DIR/run`` the run folder (tables, scenes, cohort analyses, report). The same demo
command again on its folder finishes a killed demo: a complete cohort of the same size, seed and grid is reused (one
that was being written is discarded) and the run continues where it stopped.
"""

from __future__ import annotations

import json
import pathlib
import shutil

from VirtualBiopsy.cohort.cohortRun import RunResult, run
from VirtualBiopsy.cohort.pipelineConfig import PipelineConfig
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import requireNewFolder
from VirtualBiopsy.progress import CancelToken, ProgressCallback, noProgress

COHORT_FOLDER = "virtual-cohort"
RUN_FOLDER = "run"


def runDemo(
    outDir: str | pathlib.Path,
    cases: int = 24,
    seed: int = 0,
    size: int = 128,
    config: PipelineConfig | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RunResult:
    """Generate a virtual cohort in ``outDir/virtual-cohort`` and run the pipeline on it into ``outDir/run``; on a
    folder an earlier demo call left (finished or killed), reuse its cohort and continue its run.

    :param config: the pipeline settings (default: the ``demo`` preset).
    :param resume: accept settings that differ from the earlier demo's run (only what they affect is redone).
    :raises InputError: when ``outDir`` holds something other than a demo, or a demo of another cohort size, seed
        or grid (nothing is overwritten).
    """
    outDir = pathlib.Path(outDir).expanduser()
    manifest = _earlierCohort(outDir, cases, seed, size)
    progress = progress or noProgress
    if manifest is None:
        progress(0.0, f"Generating {cases} virtual patients")
        manifest = generateCohort(
            outDir / COHORT_FOLDER,
            cases=cases,
            seed=seed,
            size=size,
            progress=lambda fraction, message: progress(0.2 * fraction, message),
            cancel=cancel,
        )
    return run(
        manifest,
        outDir / RUN_FOLDER,
        config=config or PipelineConfig.preset("demo"),
        workers=workers,
        resume=resume,
        progress=lambda fraction, message: progress(0.2 + 0.8 * fraction, message),
        cancel=cancel,
    )


def _earlierCohort(outDir: pathlib.Path, cases: int, seed: int, size: int) -> pathlib.Path | None:
    """The manifest of the complete cohort an earlier demo left in ``outDir`` (``None``: generate one), after
    removing a cohort that was being written when that demo was killed.

    :raises InputError: when ``outDir`` holds anything but a demo's folders, or a cohort of other parameters.
    """
    if not outDir.is_dir() or not any(outDir.iterdir()):
        requireNewFolder(outDir)
        return None
    leftovers = list(outDir.glob(f".{COHORT_FOLDER}.*.partial"))
    other = [e.name for e in outDir.iterdir() if e.name not in (COHORT_FOLDER, RUN_FOLDER) and e not in leftovers]
    if other:
        raise InputError(
            f"Output folder {outDir} is not a demo folder (it holds {', '.join(sorted(other)[:5])}); nothing was "
            "overwritten. Give a new or empty folder, or the folder of an earlier demo to finish it."
        )
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    cohort = outDir / COHORT_FOLDER
    if not (cohort / "manifest.csv").is_file():
        if (outDir / RUN_FOLDER).exists():
            raise InputError(
                f"Output folder {outDir} holds a demo run but not its cohort ({cohort}/manifest.csv is missing); give a "
                "new folder for a new demo."
            )
        return None
    try:
        recorded = json.loads((cohort / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{cohort}/provenance.json is missing or corrupt ({error}); give a new folder.") from error
    asked = {"cases": cases, "seed": seed, "size": size}
    earlier = {key: recorded.get(key) for key in asked}
    if earlier != asked:
        shown = ", ".join(f"--{key} {value}" for key, value in earlier.items())
        raise InputError(
            f"Output folder {outDir} holds a demo of another cohort ({shown}); nothing was overwritten. Give those "
            "options to finish that demo, or a new folder."
        )
    return cohort / "manifest.csv"
