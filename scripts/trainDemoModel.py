"""Train the built-in demo model ``demo``: a small nnU-Net for the virtual cohort's whole tumour.

Generates a virtual cohort (fixed seed), trains nnU-Net 3d_fullres on CPU on FLAIR and T1c
with a reduced plan (3 mm voxels, 48³ patches, 8–64 features), evaluates the Dice
similarity coefficient on held-out cases the model never saw (on their original
1.875 mm grid), and — only when the median held-out DSC reaches the target — copies the
model folder to ``--out`` (default ``VirtualBiopsy/resources/models/demo``).

Run from the repository root::

    nice -n 10 python scripts/trainDemoModel.py --work /tmp/demo-training

Measured on 2 shared CPU cores (load 5–13): 37.6 min for fingerprint, planning, preprocessing
and 16 × 75 iterations; 47 min in all with case generation and the 20 held-out predictions.
Data augmentation runs in one background process, so a rerun gives a similar, not a
bit-identical, model.

``--register-only`` skips training and evaluation and records the model already in
``--out`` in the shipped model manifest.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

#: Everything that defines the demo model; recorded in ``evaluation.json``.
DEMO_SEED = 2026
SEQUENCES = ["FLAIR", "T1c"]
DEFAULT_OUT = REPOSITORY / "VirtualBiopsy" / "resources" / "models" / "demo"
TARGET_MEDIAN_DSC = 0.85
TUMOUR_TERMINOLOGY = "SCT^108369006^Neoplasm"
PLAN_OVERRIDES = {
    "targetSpacing": [3.0, 3.0, 3.0],
    "patchSize": [48, 48, 48],
    "batchSize": 2,
    "featuresPerStage": [8, 16, 32, 64],
}


def demoConfig(epochs: int, iterationsPerEpoch: int):
    """The :class:`~VirtualBiopsy.segment.training.config.TrainingConfig` of the demo model."""
    from VirtualBiopsy.segment.training.config import TrainingConfig

    config = TrainingConfig(
        configuration="3d_fullres",
        epochs=epochs,
        iterationsPerEpoch=iterationsPerEpoch,
        validationIterationsPerEpoch=4,
        fold="all",
        device="cpu",
        seed=DEMO_SEED,
        augmentationProcesses=1,
        planOverrides=PLAN_OVERRIDES,
        sequences=list(SEQUENCES),
        datasetId=990,
        modelName="VirtualCohortDemo",
        version="1",
        licence="Apache-2.0",
        modelDescription="Demo: whole tumour on FLAIR + T1c of the virtual cohort (small nnU-Net, 3 mm, CPU-trained)",
        source=f"scripts/trainDemoModel.py, virtual cohort seed {DEMO_SEED} (synthetic data, no patient data)",
    )
    config.validate()
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=pathlib.Path, required=True, help="new or empty scratch folder")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="where the accepted model goes")
    parser.add_argument("--train-cases", type=int, default=40)
    parser.add_argument("--test-cases", type=int, default=20)
    parser.add_argument("--size", type=int, default=128, help="virtual cohort grid size (voxels per axis)")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--iterations-per-epoch", type=int, default=75)
    parser.add_argument("--register-only", action="store_true", help="only record --out in the model manifest")
    arguments = parser.parse_args(argv)
    if arguments.register_only:
        return register(arguments.out)
    from VirtualBiopsy.files import requireNewFolder

    work = requireNewFolder(arguments.work, "Work folder")
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    config = demoConfig(arguments.epochs, arguments.iterations_per_epoch)
    dataset = exportTrainingCases(work / "raw", arguments.train_cases, arguments.size, config)
    result = train(dataset, work, config)
    from VirtualBiopsy.segment.training.modelTraining import describeModelFolder

    describeModelFolder(work / "model", config)
    evaluation = evaluate(work / "model", arguments.train_cases, arguments.test_cases, arguments.size)
    evaluation.update(
        {
            "seed": DEMO_SEED,
            "trainCases": arguments.train_cases,
            "size": arguments.size,
            "trainingSeconds": round(result["seconds"], 1),
            "totalSeconds": round(time.monotonic() - started, 1),
            "target": TARGET_MEDIAN_DSC,
        }
    )
    (work / "model" / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in evaluation.items() if k != "perCase"}, indent=2))
    if evaluation["medianDsc"] < TARGET_MEDIAN_DSC:
        print(
            f"Median held-out DSC {evaluation['medianDsc']:.3f} is below the target {TARGET_MEDIAN_DSC}; "
            f"the model stays in {work / 'model'} and is not shipped."
        )
        return 1
    import shutil

    requireNewFolder(arguments.out, "Demo model folder")
    shutil.copytree(work / "model", arguments.out, dirs_exist_ok=True)
    print(f"Model written to {arguments.out}")
    return register(arguments.out)


def generate(indices: range, size: int):
    from VirtualBiopsy.data.virtualCohort import generateCase

    for index in indices:
        yield generateCase(index=index, seed=DEMO_SEED, size=size)


def exportTrainingCases(root: pathlib.Path, count: int, size: int, config) -> pathlib.Path:
    from VirtualBiopsy.segment.training.datasetExport import TrainingCase, exportDataset

    cases = (
        TrainingCase(case.patient, {name: case.images[name] for name in SEQUENCES}, case.mask)
        for case in generate(range(count), size)
    )
    export = exportDataset(cases, root, config.exportConfig(), caseCount=count)
    print(f"Exported {len(export.cases)} training cases ({len(export.skipped)} skipped) to {export.folder}")
    return export.folder


def train(dataset: pathlib.Path, work: pathlib.Path, config) -> dict:
    from VirtualBiopsy.segment.training.nnunetTraining import TRAIN_TASK
    from VirtualBiopsy.workers.inlineRunner import InlineRunner

    started = time.monotonic()

    def report(fraction: float, message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {100 * fraction:5.1f}% {message}", flush=True)

    # This script's process is the worker: nnU-Net's environment is set and restored by the task.
    return InlineRunner().run(
        TRAIN_TASK,
        {
            "dataset": str(dataset),
            "workFolder": str(work / "nnunet"),
            "out": str(work / "model"),
            "settings": config.nnunetSettings().toDict(),
        },
        report,
    )


def evaluate(modelFolder: pathlib.Path, first: int, count: int, size: int) -> dict:
    """Dice of the model on held-out cases ``first .. first + count - 1`` (never used for training),
    predicted by the library's nnU-Net backend (weights-only checkpoint, no test-time mirroring)."""
    import numpy as np
    import SimpleITK as sitk

    from VirtualBiopsy.segment.backends.nnunetBackend import NnunetOptions, predictNnunet

    options = NnunetOptions(device="cpu", useMirroring=False)
    perCase, seconds = [], []
    for case in generate(range(first, first + count), size):
        started = time.monotonic()
        result = predictNnunet([case.images[name] for name in SEQUENCES], modelFolder, options)
        prediction = sitk.GetArrayFromImage(result.labelMap) > 0
        seconds.append(time.monotonic() - started)
        truth = sitk.GetArrayFromImage(case.mask) > 0
        dsc = 2.0 * np.logical_and(prediction, truth).sum() / (prediction.sum() + truth.sum())
        volume = float(truth.sum() * np.prod(case.mask.GetSpacing()) / 1000.0)
        perCase.append({"patient": case.patient, "dsc": round(float(dsc), 4), "tumourMl": round(volume, 1)})
        print(f"{case.patient}: DSC {dsc:.3f} (tumour {volume:.1f} ml, {seconds[-1]:.1f} s)", flush=True)
    values = np.array([entry["dsc"] for entry in perCase])
    return {
        "heldOutCases": count,
        "heldOutIndices": [first, first + count - 1],
        "medianDsc": float(np.median(values)),
        "minDsc": float(values.min()),
        "meanDsc": float(values.mean()),
        "secondsPerCase": float(np.median(seconds)),
        "perCase": perCase,
    }


def register(modelFolder: pathlib.Path) -> int:
    """Record the model in the shipped manifest as ``demo`` (path relative to the manifest, file hashes)."""
    import dataclasses

    from VirtualBiopsy.models.hashing import fileSha256, treeDigest
    from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, readManifest, writeManifest
    from VirtualBiopsy.models.modelDetection import entryFromPath

    evaluation = json.loads((modelFolder / "evaluation.json").read_text(encoding="utf-8"))
    if evaluation["medianDsc"] < TARGET_MEDIAN_DSC:
        print(
            f"{modelFolder} has median held-out DSC {evaluation['medianDsc']:.3f} < {TARGET_MEDIAN_DSC}; "
            "not registered."
        )
        return 1
    entry = entryFromPath(modelFolder, "demo")
    relative = pathlib.Path(modelFolder).resolve().relative_to(SHIPPED_MANIFEST.parent.resolve()).as_posix()
    options = {**entry.options, "configuration": "3d_fullres", "folds": ["all"]}
    # The training record and the held-out evaluation ship with the weights, under the same tree hash.
    files = {**entry.files, **{name: fileSha256(modelFolder / name) for name in ("training.json", "evaluation.json")}}
    # The whole tumour is tagged as Slicer's "Tumor" type (SNOMED CT 108369006, Neoplasm).
    labels = tuple(dataclasses.replace(label, terminology=TUMOUR_TERMINOLOGY) for label in entry.labels)
    entry = dataclasses.replace(
        entry,
        path=relative,
        options=options,
        files=dict(sorted(files.items())),
        sha256=treeDigest(files),
        labels=labels,
    )
    others = [item for item in readManifest(SHIPPED_MANIFEST) if item.id != "demo"]
    writeManifest(SHIPPED_MANIFEST, [*others, entry])
    print(f"Registered 'demo' in {SHIPPED_MANIFEST} (sha256 {entry.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
