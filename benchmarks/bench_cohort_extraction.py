"""Cohort extraction (Dask, 2 workers, cropping) against a plain serial pyradiomics loop.

For each cohort the same settings run twice:

- **plain**: one ``RadiomicsFeatureExtractor(parameters).execute(imagePath, maskPath)`` per
  case and sequence, one after the other, on the whole image (shape features only on a
  case's first sequence, as ours computes them once); after one warm-up extraction, so
  imports and first-call costs are not counted;
- **ours**: :func:`VirtualBiopsy.extract.cohortExtraction.extractCohort` with a
  ``DaskExecutor(workers=2)`` (cropping on, no result cache), including hashing the inputs and
  writing the tables; timed on a warm cluster ("warm") and including starting the cluster
  and its first extraction ("cold").

Both sides run ``--repeats`` times (default 3) in this process, alternating plain and ours, and
the best time of each is kept (the machine may be shared: the line after each result lists
every run and the load). It prints both times, the ratio and whether the values of every run
match: original features must be identical, filtered (LoG, wavelet) features within 1e-6 relative.
Cohorts: pyradiomics' sample cases (brain1, brain2, breast1, lung1, lung2) and a virtual
cohort (8 cases at 128³, 3 sequences) with ``mr-default`` (target ≥ 1.8×), and the CT cases
lung1, lung2 with ``full`` (original + LoG + wavelet; target ≥ 4×).

Run: ``.venv/bin/python benchmarks/bench_cohort_extraction.py [--quick] [--repeats N] [--only ct]``
(``--quick``: a virtual cohort of 4 cases at 64³ and only lung1 for ``full``).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import pathlib
import sys
import tempfile
import time

from VirtualBiopsy.data.manifest import readManifest, writeManifest
from VirtualBiopsy.data.sampleData import fetchSampleData
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.executors import DaskExecutor
from VirtualBiopsy.extract.cohortExtraction import extractCohort
from VirtualBiopsy.extract.extraction import SHAPE_CLASSES
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

TOLERANCE = 1e-6


def plainLoop(manifest: pathlib.Path, settings: RadiomicsSettings) -> dict[str, dict[str, float]]:
    """pyradiomics on the files, case after case: ``{patient: {feature: value}}`` (our naming rule)."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    cohort = readManifest(manifest)
    prefix = len(cohort.sequences) > 1
    values = {}
    for case in cohort.cases:
        features: dict[str, float] = {}
        for position, (name, path) in enumerate(case.sequences.items()):
            extractor = RadiomicsFeatureExtractor(settings.pyradiomics)
            if position > 0:
                extractor.enabledFeatures = {
                    key: value for key, value in extractor.enabledFeatures.items() if key not in SHAPE_CLASSES
                }
            output = extractor.execute(str(path), str(case.mask), label=1)
            features.update(
                {
                    (f"{name}_{key}" if prefix else key): float(value)
                    for key, value in output.items()
                    if not key.startswith("diagnostics_")
                }
            )
        values[case.patient] = features
    return values


def compare(ours: dict[str, dict[str, float]], plain: dict[str, dict[str, float]]) -> tuple[bool, float, int]:
    """Whether the values match (original identical, filtered within TOLERANCE), the worst relative
    difference and the number of values compared."""
    worst, ok, count = 0.0, True, 0
    for patient, expected in plain.items():
        got = ours.get(patient, {})
        for name, value in expected.items():
            count += 1
            mine = got.get(name, math.nan)
            if math.isnan(value) and math.isnan(mine):
                continue
            difference = abs(mine - value) / max(abs(value), 1e-12) if not math.isnan(mine) else math.inf
            worst = max(worst, difference)
            original = "original_" in name
            ok = ok and (mine == value if original else difference <= TOLERANCE)
    return ok, worst, count


def ourFeatures(result) -> dict[str, dict[str, float]]:
    return {
        case.patient: {**case.value["features"], **{name: math.nan for name in case.value["undefined"]}}
        for case in result.succeeded
    }


def bench(
    title: str,
    manifest: pathlib.Path,
    settings: RadiomicsSettings,
    executor: DaskExecutor,
    folder: pathlib.Path,
    target: float,
    repeats: int,
) -> None:
    """Time both sides ``repeats`` times, alternating (plain, ours, plain, ours, ...), print the best
    of each and their ratio; every repetition's values are compared."""
    cases = len(readManifest(manifest).cases)
    plainTimes, oursTimes, matches, worst, count = [], [], True, 0.0, 0
    for repeat in range(repeats):
        start = time.perf_counter()
        plain = plainLoop(manifest, settings)
        plainTimes.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = extractCohort(manifest, folder / f"out-{title}-{repeat}", settings, executor=executor)
        oursTimes.append(time.perf_counter() - start)
        if result.failed:
            print(f"  failures: {[case.error for case in result.failed]}")
        ok, difference, count = compare(ourFeatures(result), plain)
        matches, worst = matches and ok and not result.failed, max(worst, difference)
    ratio = min(plainTimes) / min(oursTimes)
    print(
        f"{title}: {cases} cases, {settings.name}: plain pyradiomics loop {min(plainTimes):.1f} s, ours (Dask 2 "
        f"workers, cropped) {min(oursTimes):.1f} s (best of {repeats}, alternating) -> {ratio:.2f}x (target >= "
        f"{target}x: {'met' if ratio >= target else 'NOT met'}); values match: {'yes' if matches else 'no'} "
        f"(worst relative difference {worst:.2g} over {count} values)"
    )
    print(
        f"  all runs: plain {' '.join(f'{t:.1f}' for t in plainTimes)} s, ours {' '.join(f'{t:.1f}' for t in oursTimes)}"
        f" s; ratio per repetition {' '.join(f'{p / o:.2f}' for p, o in zip(plainTimes, oursTimes))}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    sys.stdout.flush()


def sampleManifest(folder: pathlib.Path, names: list[str]) -> pathlib.Path:
    cases = fetchSampleData(cases=names)
    rows = [{"patient": name, "image": cases[name].image, "mask": cases[name].label} for name in names]
    return writeManifest(rows, folder / f"samples-{'-'.join(names)}.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller virtual cohort and only lung1 for 'full'")
    parser.add_argument("--repeats", type=int, default=3, help="timings per side (best kept; default 3)")
    parser.add_argument("--only", choices=["samples", "virtual", "ct"], help="run one cohort only")
    arguments = parser.parse_args()
    import radiomics

    radiomics.setVerbosity(logging.ERROR)  # pyradiomics' notes (e.g. "GLCM is symmetrical") off the terminal
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (others may share it)")
    default, full = RadiomicsSettings.fromPreset("mr-default"), RadiomicsSettings.fromPreset("full")
    with tempfile.TemporaryDirectory(prefix="bench-cohort-") as temporary:
        folder = pathlib.Path(temporary)
        samples = sampleManifest(folder, ["brain1", "brain2", "breast1", "lung1", "lung2"])
        size, count = (64, 4) if arguments.quick else (128, 8)
        if arguments.only in (None, "virtual"):
            start = time.perf_counter()
            virtual = generateCohort(folder / "virtual", cases=count, seed=0, size=size)
            print(f"virtual cohort: {count} cases at {size}^3 generated in {time.perf_counter() - start:.1f} s")
        warmup = sampleManifest(folder, ["brain1"])
        plainLoop(warmup, default)  # imports and first-call costs of the plain loop
        start = time.perf_counter()
        with DaskExecutor(workers=2) as executor:
            extractCohort(warmup, folder / "warmup", default, executor=executor)
            print(
                f"cold start: Dask cluster of 2 workers started and first case extracted in "
                f"{time.perf_counter() - start:.1f} s (not counted below: the cluster is warm)"
            )
            repeats, only = arguments.repeats, arguments.only
            if only in (None, "samples"):
                bench("sample cases", samples, default, executor, folder, 1.8, repeats)
            if only in (None, "virtual"):
                bench("virtual cohort", virtual, default, executor, folder, 1.8, repeats)
            if only in (None, "ct"):
                ct = sampleManifest(folder, ["lung1"] if arguments.quick else ["lung1", "lung2"])
                bench("CT cases", ct, full, executor, folder, 4.0, repeats)


if __name__ == "__main__":
    main()
