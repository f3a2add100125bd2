"""``virtual-biopsy outcome cnn train|gradcam|features``: a 3D CNN classifier on tumour-centred crops.

``train`` trains in a worker process (``ProcessRunner``; on a GPU out of memory, once more on the CPU) and
writes the new model folder ``--out`` (``weights.pt``, ``config.json``), then lists it in the user's model
manifest with its SHA-256 (id: ``--id`` or the folder's name). ``gradcam`` writes the map on the grid of the
model's first sequence (and, with ``--png DIR``, three slices with the map overlaid); ``features`` writes the
deep-feature table of a cohort. Bad input exits with 2 and one line on stderr, and nothing is written; no output
is overwritten.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil

from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions

_IMAGE_SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".mha", ".mhd")


def addParser(actions) -> None:
    """Add ``cnn`` with its ``train``, ``gradcam`` and ``features`` actions."""
    parser = actions.add_parser(
        "cnn",
        help="3D CNN classifier on tumour crops: train, Grad-CAM maps, deep features",
        description="A 3D CNN (MONAI DenseNet/ResNet) on tumour-centred crops of the chosen "
        "sequences: train it on a cohort, map where it looks (Grad-CAM), export deep features.",
    )
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder (default: ~/.local/share/virtual-biopsy/models)",
    )

    train = steps.add_parser(
        "train",
        parents=[common],
        help="train a classifier on a cohort",
        description="Train a classifier for a binary clinical column (e.g. grade) on "
        "tumour-centred crops, validating on a stratified split by patient with early stopping "
        "on the validation AUC. Writes the new folder --out and registers it.",
    )
    train.add_argument("--manifest", type=pathlib.Path, required=True, metavar="COHORT.csv", help="cohort manifest")
    train.add_argument(
        "--clinical",
        type=pathlib.Path,
        required=True,
        metavar="C.csv",
        help="clinical table with 'patient' and the target column",
    )
    train.add_argument("--target", required=True, metavar="COL", help="binary column to predict (e.g. grade)")
    train.add_argument("--sequences", metavar="A,B", help="sequences, in channel order (default: all the manifest's)")
    train.add_argument("--epochs", type=int, default=30, help="most epochs (default: %(default)s)")
    train.add_argument(
        "--patience",
        type=int,
        default=10,
        help="epochs without a better validation AUC before stopping (default: %(default)s)",
    )
    train.add_argument("--batch-size", type=int, default=4, help="crops per step (default: %(default)s)")
    train.add_argument("--crop-size", type=int, default=32, help="crop voxels per side (default: %(default)s)")
    train.add_argument("--crop-spacing", type=float, default=2.0, help="crop spacing, mm (default: %(default)s)")
    train.add_argument("--network", default="DenseNet", choices=("DenseNet", "ResNet"), help="(default: %(default)s)")
    train.add_argument(
        "--network-size",
        default="small",
        choices=("small", "full"),
        help="small for CPUs and tests, full for GPUs (default: %(default)s)",
    )
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--id", dest="modelId", metavar="ID", help="model id in the manifest (default: --out's name)")
    train.add_argument("--out", type=pathlib.Path, required=True, metavar="MODELDIR", help="new model folder")
    addPathOptions(train)
    train.set_defaults(run=runTrain)

    cam = steps.add_parser(
        "gradcam",
        parents=[common],
        help="Grad-CAM map of one patient",
        description="Grad-CAM (or Grad-CAM++) of the model's prediction for one patient, "
        "resampled onto the grid of the model's first sequence, normalized to [0, 1].",
    )
    cam.add_argument("--model", required=True, metavar="MODELDIR|ID", help="model folder or registered id")
    cam.add_argument(
        "--image",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="image of a sequence the model takes (repeatable)",
    )
    cam.add_argument("--mask", type=pathlib.Path, required=True, help="tumour mask on the images' grid")
    cam.add_argument(
        "--class", dest="classIndex", metavar="C", help="class to explain, name or index (default: the predicted class)"
    )
    cam.add_argument("--method", default="gradcam", choices=("gradcam", "gradcampp"), help="(default: %(default)s)")
    cam.add_argument("--layer", help="network layer (default: the last convolutional block)")
    cam.add_argument("--out", type=pathlib.Path, required=True, metavar="MAP.nrrd", help="new map file")
    cam.add_argument("--png", type=pathlib.Path, metavar="DIR", help="new folder for axial/coronal/sagittal PNGs")
    cam.set_defaults(run=runGradCam)

    features = steps.add_parser(
        "features",
        parents=[common],
        help="deep features of a cohort",
        description="Pooled penultimate-layer activations of every patient of a cohort: "
        "a table with patient, deep_0000, deep_0001, ...",
    )
    features.add_argument("--model", required=True, metavar="MODELDIR|ID", help="model folder or registered id")
    features.add_argument("--manifest", type=pathlib.Path, required=True, metavar="COHORT.csv", help="cohort")
    features.add_argument("--out", type=pathlib.Path, required=True, metavar="FEATURES.csv", help="new CSV file")
    addPathOptions(features)
    features.set_defaults(run=runFeatures)


def runTrain(arguments: argparse.Namespace) -> int:
    """Check the inputs, train in a worker process, register the model."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import requireNewFolder
    from VirtualBiopsy.models.modelDetection import requireModelId
    from VirtualBiopsy.outcome.deep.cohortData import readTargets
    from VirtualBiopsy.outcome.deep.modelFolder import registerModel
    from VirtualBiopsy.outcome.deep.networks import checkCrop
    from VirtualBiopsy.outcome.deep.training import TrainingSettings
    from VirtualBiopsy.outcome.deep.trainingTask import TASK
    from VirtualBiopsy.workers.deviceFallback import checkDevice, runWithDeviceFallback
    from VirtualBiopsy.workers.processRunner import ProcessRunner

    out = requireNewFolder(arguments.out, "Model folder")
    registry = _registry(arguments)
    modelId = requireModelId(arguments.modelId or out.name)
    if any(entry.id.lower() == modelId.lower() for entry in registry.list()):
        raise InputError(f"A model with id '{modelId}' exists already; choose another --id (e.g. --id {modelId}-2).")
    checkDevice(arguments.device)
    checkCrop(arguments.crop_size, arguments.crop_spacing)
    paths = pathOptions(arguments)
    cohort = readManifest(arguments.manifest, **paths)
    cohort.requireValid()
    sequences = [s.strip() for s in arguments.sequences.split(",")] if arguments.sequences else cohort.sequences
    unknown = [s for s in sequences if s.lower() not in {c.lower() for c in cohort.sequences}]
    if unknown or not all(sequences):
        raise InputError(
            f"--sequences names {', '.join(unknown) or 'an empty sequence'}, not a column of "
            f"{arguments.manifest} ({', '.join(cohort.sequences)}); choose among those."
        )
    readTargets(arguments.clinical, arguments.target, cohort.patients)
    settings = TrainingSettings(
        network=arguments.network,
        networkSize=arguments.network_size,
        epochs=arguments.epochs,
        batchSize=arguments.batch_size,
        patience=arguments.patience,
        seed=arguments.seed,
    )
    settings.check()
    task = {
        "manifest": str(arguments.manifest.absolute()),
        "clinical": str(arguments.clinical.absolute()),
        "target": arguments.target,
        "out": str(out.absolute()),
        "sequences": sequences,
        "cropSize": arguments.crop_size,
        "cropSpacing": arguments.crop_spacing,
        "device": arguments.device,
        "dataRoots": [str(root) for root in paths["dataRoots"]],
        "allowOutsidePaths": paths["allowOutsidePaths"],
        **settings.toDict(),
    }
    with progressBar("cnn train") as progress:
        result = runWithDeviceFallback(ProcessRunner(), TASK, task, progress)
    entry = registerModel(out, registry, modelId)
    print(f"Model: {out} (id '{entry.id}', SHA-256 {entry.sha256}, registered in {registry.userManifest})")
    print(
        f"Validation AUC {result['validationAuc']:.3f} at epoch {result['bestEpoch']} of {result['epochsRun']} "
        f"(device {result['device']})"
    )
    return 0


def runGradCam(arguments: argparse.Namespace) -> int:
    """Write the Grad-CAM map (and PNGs) of one patient."""
    import sys

    from VirtualBiopsy.commands.extract import parseImages, readImage
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import (
        requireNewFolder,
        writeImageAtomically,
        writeTextAtomically,
    )
    from VirtualBiopsy.outcome.deep.config import DeepOutcomeConfig
    from VirtualBiopsy.outcome.deep.crops import insideCrop, tumourCentre
    from VirtualBiopsy.outcome.deep.gradcam import gradCam, insideOutsideRatio
    from VirtualBiopsy.outcome.deep.modelFolder import loadClassifier
    from VirtualBiopsy.outcome.deep.slicePngs import writeOverlayPngs

    out = pathlib.Path(arguments.out)
    sidecar = out.with_name(f"{_stem(out)}.json")
    if not out.name.lower().endswith(_IMAGE_SUFFIXES):
        raise InputError(f"--out {out} must name an image file ({', '.join(_IMAGE_SUFFIXES)}), e.g. gradcam.nrrd.")
    for path in (out, sidecar):
        if path.exists():
            raise InputError(f"{path} exists already; nothing is overwritten. Choose a new --out or remove it.")
    if arguments.png is not None:
        requireNewFolder(arguments.png, "PNG folder")
    # The Deep learning panel's settings (DeepOutcomeLogic.gradCamNode takes the same config).
    config = DeepOutcomeConfig.fromDict(
        {
            "deepModel": str(arguments.model),
            "gradCamMethod": arguments.method,
            "gradCamClass": arguments.classIndex or "",
            "gradCamLayer": arguments.layer or "",
        }
    )
    model = loadClassifier(config.deepModel, _registry(arguments))
    named = parseImages(arguments.image)
    if None in named:
        if len(model.channels) != 1:
            raise InputError(
                f"Model '{model.entry.id}' takes {', '.join(model.channels)}; name each image, e.g. "
                f"--image {model.channels[0]}=PATH."
            )
        named = {model.channels[0]: named[None]}
    images = {
        name: readImage(path, f"image '{name}'") for name, (path, _) in named.items() if name is not None
    }  # all of them: an unnamed image was named above
    mask = readImage(arguments.mask, "mask")
    result = gradCam(model, images, mask, config.gradCamMethod, config.classIndex(), config.gradCamLayer or None)
    if not result.defined:
        print(f"virtual-biopsy outcome cnn gradcam: undefined: {result.reason}; nothing was written.", file=sys.stderr)
        return 1
    assert result.map is not None and result.grid is not None, "computed here and defined"
    ratio = insideOutsideRatio(result.map, mask)
    cropRatio = insideOutsideRatio(result.map, mask, insideCrop(result.grid, result.map))
    record = {
        "model": model.entry.id,
        "modelSha256": model.entry.sha256,
        "method": result.method,
        "layer": result.layer,
        "class": result.className,
        "probabilities": dict(zip(model.classes, result.probabilities)),
        "insideOverOutside": ratio,
        "insideOverOutsideWithinCrop": cropRatio,
        "cropGrid": result.grid.toDict(),
        "images": {k: str(p) for k, (p, _) in named.items()},
        "mask": str(arguments.mask),
    }
    pngs = []
    if arguments.png is not None:
        reference = images[next(k for k in images if k.lower() == model.channels[0].lower())]
        pngs = writeOverlayPngs(reference, result.map, tumourCentre(mask), arguments.png)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        writeImageAtomically(result.map, out)
        writeTextAtomically(json.dumps(record, indent=2) + "\n", sidecar)
    except BaseException:
        out.unlink(missing_ok=True)
        if pngs:
            shutil.rmtree(arguments.png, ignore_errors=True)
        raise
    shown = ", ".join(f"{name} {p:.3f}" for name, p in zip(model.classes, result.probabilities))
    print(f"Grad-CAM ({result.method}, class {result.className}; probabilities {shown}): {out}; details: {sidecar}")
    print(
        "Mean map inside the tumour over outside: "
        + (f"{ratio:.2f}" if ratio is not None else "undefined (zero outside)")
        + " (whole image), "
        + (f"{cropRatio:.2f}" if cropRatio is not None else "undefined (zero outside)")
        + " (within the crop)"
    )
    if pngs:
        print(f"Slices: {', '.join(str(p) for p in pngs)}")
    return 0


def runFeatures(arguments: argparse.Namespace) -> int:
    """Write the deep-feature table of a cohort."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.files import writeTextAtomically
    from VirtualBiopsy.outcome.deep.cohortData import cohortCrops
    from VirtualBiopsy.outcome.deep.features import deepFeatureTable
    from VirtualBiopsy.outcome.deep.modelFolder import loadClassifier

    out = pathlib.Path(arguments.out)
    if out.suffix.lower() != ".csv":
        raise InputError(f"--out {out} must name a .csv file, e.g. deep_features.csv.")
    if out.exists():
        raise InputError(f"{out} exists already; nothing is overwritten. Choose a new --out or remove it.")
    model = loadClassifier(arguments.model, _registry(arguments))
    paths = pathOptions(arguments)
    readManifest(arguments.manifest, **paths).requireValid()
    with progressBar("cnn features") as progress:
        crops = cohortCrops(arguments.manifest, model.channels, model.cropSize, model.cropSpacing, progress, **paths)
    table = deepFeatureTable(model, crops)
    out.parent.mkdir(parents=True, exist_ok=True)
    writeTextAtomically(table.to_csv(index=False, float_format="%.9g"), out)
    print(f"Deep features: {out} ({len(table)} patients, {table.shape[1] - 1} features, model '{model.entry.id}')")
    return 0


def _registry(arguments: argparse.Namespace):
    from VirtualBiopsy.models.registry import ModelRegistry

    return ModelRegistry(arguments.models_dir)


def _stem(path: pathlib.Path) -> str:
    name = path.name
    for suffix in sorted(_IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
