"""Measure what harmonization does on the virtual cohort (docs/harmonization-evaluation.md).

1. Generate a virtual cohort in memory (``--cases`` patients over SiteA/SiteB/SiteC, ``--seed``, ``--size``).
2. Extract radiomics (the ``mr-default`` preset: original image, every 3D feature class) on T1c and
   FLAIR inside the ground-truth tumour mask from three versions of the images:

   - ``raw``: the images as scanned, bin width 25 (the preset's);
   - ``zscore``: z-scored inside the head (Otsu foreground), bin width 0.1 SD (as the demo);
   - ``nyul``: Nyúl-standardized inside the head with landmarks fitted on the whole cohort
     (one scale per sequence, standard range 0–100 for the 1st–99th percentiles), bin width 2.

3. Run ``virtual-biopsy harmonize evaluate`` with the methods ``none`` and ``combat`` (the raw
   features, as given and ComBat-harmonized), ``zscore``, ``nyul`` and ``nyul+combat``, site as the
   batch and grade (LGG/HGG) as the downstream task, and print its ``summary.md``: once on every
   feature (``evaluation-seedS``) and once without the shape features (``evaluation-noshape-seedS``),
   which come from the ground-truth mask alone, carry no scanner effect and separate the grades.

The feature tables are kept in ``--work`` (``features_raw.csv``, ``features_zscore.csv``,
``features_nyul.csv``, ``clinical.csv``) and reused when present, so the evaluation can be rerun
alone. Run from the repository root::

    nice -n 10 python scripts/evaluateHarmonization.py --work /tmp/vb-harmonization --cases 60 --size 96
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import pandas as pd

# this checkout's VirtualBiopsy, not an installed one
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

VARIANTS = {"raw": 25.0, "zscore": 0.1, "nyul": 2.0}  # variant → radiomics bin width
SEQUENCES = ("T1c", "FLAIR")


def extractTables(work: pathlib.Path, cases: int, seed: int, size: int) -> None:
    """Write the three feature tables and the clinical table into ``work``."""
    import SimpleITK as sitk

    from VirtualBiopsy.data.virtualCohort import generateCase
    from VirtualBiopsy.extract.config import ExtractionConfig
    from VirtualBiopsy.extract.extraction import extractFeatures
    from VirtualBiopsy.harmonize.foreground import foregroundMask
    from VirtualBiopsy.harmonize.normalization import applyNyul, fitNyulLandmarks, zScoreNormalize

    start = time.perf_counter()
    generated, clinical = [], []
    for index in range(cases):
        case = generateCase(index, seed, size)
        images = {name: case.images[name] for name in SEQUENCES}
        heads = {name: foregroundMask(image) for name, image in images.items()}
        generated.append((case.patient, images, heads, case.mask))
        clinical.append(case.clinical)
    print(f"generated {cases} cases at {size}^3 in {time.perf_counter() - start:.0f} s", flush=True)
    models = {
        name: fitNyulLandmarks(
            [images[name] for _, images, _, _ in generated],
            [heads[name] for _, _, heads, _ in generated],
            sequence=name,
        )
        for name in SEQUENCES
    }
    settings = {
        variant: ExtractionConfig(preset="mr-default", binWidth=width).settings() for variant, width in VARIANTS.items()
    }
    rows: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    for number, (patient, images, heads, mask) in enumerate(generated):
        versions = {
            "raw": images,
            "zscore": {name: zScoreNormalize(image, heads[name]) for name, image in images.items()},
            "nyul": {name: applyNyul(image, heads[name], models[name]) for name, image in images.items()},
        }
        for variant, variantImages in versions.items():
            result = extractFeatures(variantImages, sitk.Cast(mask, sitk.sitkUInt8), settings[variant])
            rows[variant].append({"patient": patient, **result.features})
        if number % 10 == 9:
            print(f"extracted {number + 1}/{cases} cases, {time.perf_counter() - start:.0f} s", flush=True)
    for variant, table in rows.items():
        pd.DataFrame(table).to_csv(work / f"features_{variant}.csv", index=False)
    pd.DataFrame(clinical).to_csv(work / "clinical.csv", index=False)
    print(f"feature tables written to {work} in {time.perf_counter() - start:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=pathlib.Path, required=True, help="folder for the feature tables and results")
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    work = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    if not all((work / f"features_{variant}.csv").is_file() for variant in VARIANTS):
        extractTables(work, arguments.cases, arguments.seed, arguments.size)
    for variant in VARIANTS:
        table = pd.read_csv(work / f"features_{variant}.csv")
        table.drop(columns=[c for c in table.columns if "_shape_" in c]).to_csv(
            work / f"features_{variant}_noshape.csv", index=False
        )
    for suffix, name in (("", "evaluation"), ("_noshape", "evaluation-noshape")):
        status = evaluate(work, suffix, work / f"{name}-seed{arguments.seed}", arguments.seed)
        if status != 0:
            return status
    return 0


def evaluate(work: pathlib.Path, suffix: str, out: pathlib.Path, seed: int) -> int:
    """Run ``harmonize evaluate`` on the tables ``features_<variant><suffix>.csv`` and print the summary."""
    from VirtualBiopsy import cli

    start = time.perf_counter()
    status = cli.main(
        [
            "harmonize",
            "evaluate",
            "--features",
            str(work / f"features_raw{suffix}.csv"),
            "--features",
            f"zscore={work / f'features_zscore{suffix}.csv'}",
            "--features",
            f"nyul={work / f'features_nyul{suffix}.csv'}",
            "--clinical",
            str(work / "clinical.csv"),
            "--batch",
            "site",
            "--task",
            "grade",
            "--methods",
            "none,combat,zscore,nyul,nyul+combat",
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
    )
    if status == 0:
        print(f"evaluation took {time.perf_counter() - start:.0f} s\n")
        print((out / "summary.md").read_text())
    return status


if __name__ == "__main__":
    sys.exit(main())
