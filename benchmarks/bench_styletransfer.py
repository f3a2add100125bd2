"""CycleGAN style transfer on the virtual cohort: CPU training speed and the measured effect.

Generates a virtual cohort, trains ``--source`` → ``--target`` (T2 by default) with the small configuration
(or ``--config full``) on the source site's training half and all target-site volumes, then translates the
source site's held-out half and prints, against the target site's head intensities, the 1-D Wasserstein
distance and the histogram distance (:mod:`VirtualBiopsy.harmonize.styleTransfer.evaluation`) of:

- **untranslated**: the source images as they are;
- **rescaled**: the source images linearly mapped (their 0.5–99.5 head percentiles) onto the target range
  the model recorded: what the model's intensity mapping alone does, with no learning;
- **translated**: the CycleGAN's output.

Run: ``.venv/bin/python benchmarks/bench_styletransfer.py [--cases 40] [--size 64] [--epochs 8]
[--iterations 50] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import numpy as np
import SimpleITK as sitk

from VirtualBiopsy.data.manifest import readManifest
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.harmonize.foreground import foregroundMask
from VirtualBiopsy.harmonize.styleTransfer.application import applyStyleTransfer, loadStyleModel
from VirtualBiopsy.harmonize.styleTransfer.config import CycleGanConfig
from VirtualBiopsy.harmonize.styleTransfer.evaluation import headIntensities, intensityDistances
from VirtualBiopsy.harmonize.styleTransfer.slices import fromUnitRange, robustRange, toUnitRange
from VirtualBiopsy.harmonize.styleTransfer.training import trainCycleGan, trainingArguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--sequence", default="T2")
    parser.add_argument("--source", default="SiteA")
    parser.add_argument("--target", default="SiteB")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--config", default="small", choices=("small", "full"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vb-bench-styletransfer-") as folder:
        folder = pathlib.Path(folder)
        cohort = readManifest(generateCohort(folder / "cohort", cases=arguments.cases, seed=0, size=arguments.size))
        images = {
            site: [case.sequences[arguments.sequence] for case in cohort.cases if case.site == site]
            for site in (arguments.source, arguments.target)
        }
        sources, targets = images[arguments.source], images[arguments.target]
        if len(sources) < 2 or not targets:
            raise SystemExit(
                f"Too few cases: {len(sources)} {arguments.source}, {len(targets)} {arguments.target}; raise --cases."
            )
        training, heldOut = sources[: len(sources) // 2], sources[len(sources) // 2 :]
        print(
            f"cohort: {arguments.cases} cases at {arguments.size}³; {arguments.source}: {len(training)} training + "
            f"{len(heldOut)} held out; {arguments.target}: {len(targets)}"
        )
        task = trainingArguments(
            [str(p) for p in training],
            [str(p) for p in targets],
            str(folder / "model"),
            arguments.sequence,
            arguments.source,
            arguments.target,
            CycleGanConfig.preset(arguments.config),
            arguments.epochs,
            arguments.iterations,
            arguments.device,
            arguments.seed,
            threads=arguments.threads,
        )
        started = time.perf_counter()
        result = trainCycleGan(task, lambda fraction, message: None)
        steps = arguments.epochs * arguments.iterations
        print(
            f"training: {steps} iterations in {time.perf_counter() - started:.1f} s "
            f"({result['iterationsPerSecond']:.3f} iterations/s, {arguments.config} configuration, "
            f"{arguments.threads} thread(s), {result['device']})"
        )
        for epoch in result["history"]:
            print(
                f"  epoch {epoch['epoch']}: cycle {epoch['cycle']:.4f} identity {epoch['identity']:.4f} "
                f"adversarial {epoch['generatorAdversarial']:.4f} D {epoch['discriminatorSource']:.4f}/"
                f"{epoch['discriminatorTarget']:.4f}"
            )
        model = loadStyleModel(folder / "model")
        originals = [sitk.ReadImage(str(path)) for path in heldOut]
        masks = [foregroundMask(image) for image in originals]
        reference = headIntensities([sitk.ReadImage(str(path)) for path in targets])
        rescaled = []
        for image, mask in zip(originals, masks):
            voxels, head = sitk.GetArrayFromImage(image).astype(np.float32), sitk.GetArrayFromImage(mask) > 0
            scaled = toUnitRange(voxels, robustRange(voxels, head, 0.5, 99.5))
            rescaled.append(sitk.GetImageFromArray(fromUnitRange(scaled, model.targetRange)))
        started = time.perf_counter()
        translated = [applyStyleTransfer(image, model, device=arguments.device) for image in originals]
        print(f"application: {len(originals)} volumes in {time.perf_counter() - started:.2f} s")
        print(f"distance to {arguments.target}'s head intensities (units of its 0.5–99.5 percentile range):")
        print(f"  {'images':<14}{'wasserstein':>12}{'histogramL1':>13}")
        for name, group in (("untranslated", originals), ("rescaled", rescaled), ("translated", translated)):
            distances = intensityDistances(headIntensities(group, masks), reference)
            print(f"  {name:<14}{distances['wasserstein']:>12.4f}{distances['histogramL1']:>13.4f}")


if __name__ == "__main__":
    main()
