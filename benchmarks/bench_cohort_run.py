"""``virtual-biopsy run`` throughput, re-run cost and peak memory per case.

1. **Workers**: the per-case pipeline (the ``demo`` preset: z-score, the demo nnU-Net model, ``mr-default``
   radiomics on two sequences; cohort analyses and report off) on a 12-case virtual cohort with a local Dask
   cluster of 1 worker and of 2 workers, each into a new run folder; the ratio of the wall times (target ≥ 1.7×
   with 2 workers, on a machine with at least 2 free cores). Both include starting the cluster.
2. **Re-run**: the whole ``demo`` preset (cases, every cohort analysis, the report) on a 24-case cohort, then
   the same call again with nothing changed; the second run's time over the first's (target ≤ 5%).
3. **Memory**: the peak resident memory of each case, from the run's ledger (each case resets the peak first).

Run: ``.venv/bin/python benchmarks/bench_cohort_run.py [--quick]`` (``--quick``: 4 and 8 cases at 64³).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import statistics
import sys
import tempfile
import time

from VirtualBiopsy.cohort import PipelineConfig, run
from VirtualBiopsy.cohort.ledger import RunLedger
from VirtualBiopsy.data.virtualCohort import generateCohort


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def casesOnly() -> PipelineConfig:
    return PipelineConfig.fromDict({"analyses": {"enabled": False}}, PipelineConfig.preset("demo"))


def peakMemory(runFolder: pathlib.Path) -> list[int]:
    ledger = RunLedger(runFolder)
    peaks = []
    for case in ledger.cases():
        values = [entry.peakMemoryBytes for entry in ledger.history(case) if entry.peakMemoryBytes]
        if values:
            peaks.append(max(values))
    return peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    size = 64 if arguments.quick else 128
    workerCases, rerunCases = (4, 8) if arguments.quick else (12, 24)
    with tempfile.TemporaryDirectory(prefix="bench-cohort-run-") as folder:
        root = pathlib.Path(folder)
        manifest = generateCohort(root / "workers-cohort", cases=workerCases, seed=0, size=size)
        one, _ = timed(lambda: run(manifest, root / "one", config=casesOnly(), workers=1, report=False))
        two, _ = timed(lambda: run(manifest, root / "two", config=casesOnly(), workers=2, report=False))
        same = (root / "one" / "features.csv").read_bytes() == (root / "two" / "features.csv").read_bytes()
        print(f"{workerCases} cases at {size}^3, demo preset without cohort analyses:")
        print(f"  1 worker  {one:7.1f} s\n  2 workers {two:7.1f} s\n  speed-up  {one / two:7.2f}x (target >= 1.7x)")
        print(f"  features.csv identical with 1 and 2 workers: {same}")

        manifest = generateCohort(root / "rerun-cohort", cases=rerunCases, seed=0, size=size)
        first, result = timed(lambda: run(manifest, root / "full", preset="demo"))
        again, _ = timed(lambda: run(manifest, root / "full", preset="demo"))
        print(f"{rerunCases} cases at {size}^3, the whole demo preset (cases, cohort analyses, report):")
        print(f"  first run {first:7.1f} s ({len(result.done)} done, {len(result.failed)} failed)")  # type: ignore[attr-defined]
        print(f"  re-run    {again:7.1f} s = {100 * again / first:.1f}% of the first (target <= 5%)")

        peaks = [peak / 2**20 for peak in peakMemory(root / "full")]
        print(
            f"Peak resident memory per case (MiB, {len(peaks)} cases, from the ledger): "
            f"median {statistics.median(peaks):.0f}, max {max(peaks):.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
