"""``virtual-biopsy segment``: segment one case with an AI model (nnU-Net or MONAI).

``--model`` is a model id of the registry (``virtual-biopsy models list``) or the path of a model
folder or TorchScript file used in place (not trusted: its checkpoints load with ``weights_only``).
A catalogue model not yet in the model cache is fetched first (``virtual-biopsy models fetch``).
Images are given as ``--image NAME=PATH`` (one per sequence the model needs, matched by name:
T1c, T2, FLAIR, …) or one ``--image PATH`` for a one-sequence model. ``--out`` ending in
``.seg.nrrd`` is a Slicer segmentation (one named, coloured segment per model label), any other
volume extension (``.nrrd``, ``.nii.gz``) a label map on the input's grid. Provenance (model id,
version, hashes, channel mapping, device, folds, test-time augmentation) goes to
``OUT.provenance.json``. Images far outside the data an nnU-Net model was trained on (its spacing and
intensities) give a warning on stderr, also recorded in the provenance (``domainWarnings``). The network runs in a worker process; nothing is written unless every
output is complete, and nothing is overwritten.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

_VOLUME_EXTENSIONS = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def addParser(commands) -> None:
    """Add the ``segment`` parser."""
    parser = commands.add_parser(
        "segment",
        help="segment a case with an AI model (nnU-Net, MONAI) into a segmentation or label map",
        description="Segment one case with an nnU-Net or MONAI model. Images are matched to the model's input "
        "sequences by name (--image T1c=t1c.nrrd --image FLAIR=flair.nrrd; aliases such as T1Gd, T1ce for T1c "
        "are understood); extra images are ignored with a warning. OUT.seg.nrrd is a Slicer segmentation, "
        "OUT.nrrd or OUT.nii.gz a label map on the input grid; OUT.provenance.json records the model, its "
        "hashes, the channel mapping, device, folds and test-time augmentation.",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="ID|PATH",
        help="model id (see 'virtual-biopsy models list') or a model folder / TorchScript file",
    )
    parser.add_argument(
        "--image",
        action="append",
        required=True,
        metavar="[NAME=]PATH",
        help="input image; NAME=PATH names its sequence (repeatable, one per model input)",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        required=True,
        metavar="SEG",
        help="new .seg.nrrd segmentation, or .nrrd/.nii.gz label map",
    )
    parser.add_argument(
        "--probabilities",
        type=pathlib.Path,
        metavar="PATH",
        help="also write the class probabilities (one vector volume, background first)",
    )
    parser.add_argument(
        "--uncertainty",
        type=pathlib.Path,
        metavar="PATH",
        help="also write the normalised softmax entropy (0 certain .. 1 uniform)",
    )
    parser.add_argument(
        "--variance",
        type=pathlib.Path,
        metavar="PATH",
        help="also write the variance across folds (nnU-Net, two or more folds)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto, cpu or cuda[:N] (default: %(default)s); a GPU that runs out of memory falls back to the CPU once",
    )
    parser.add_argument("--no-tta", action="store_true", help="no test-time mirroring (faster, slightly less accurate)")
    parser.add_argument(
        "--folds",
        nargs="+",
        metavar="FOLD",
        help="nnU-Net folds to ensemble (default: all of the model's folds), e.g. --folds 0 1 2 or --folds all",
    )
    parser.add_argument("--keep-largest", action="store_true", help="keep the largest connected component per label")
    parser.add_argument("--fill-holes", action="store_true", help="fill enclosed holes per label")
    parser.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder (default: ~/.local/share/virtual-biopsy/models)",
    )
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Check everything, run the model in a worker, write the outputs and the provenance sidecar."""
    import tempfile

    from VirtualBiopsy.commands.extract import parseImages, readImage
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.models.manifest import entryToDict
    from VirtualBiopsy.segment.backends.channels import mapChannels
    from VirtualBiopsy.segment.config import SegmentationConfig
    from VirtualBiopsy.segment.inferenceTask import TASK
    from VirtualBiopsy.workers.deviceFallback import checkDevice, runWithDeviceFallback
    from VirtualBiopsy.workers.processRunner import ProcessRunner

    out = pathlib.Path(arguments.out)
    segmentationFile = out.name.lower().endswith(".seg.nrrd")
    extras = {kind: getattr(arguments, kind) for kind in ("probabilities", "uncertainty", "variance")}
    sidecar = out.with_name(f"{_stem(out)}.provenance.json")
    _requireNewOutputs({"--out": out, **{f"--{k}": v for k, v in extras.items() if v}, "provenance": sidecar})
    checkDevice(arguments.device)
    folds = SegmentationConfig(folds=",".join(arguments.folds or [])).foldList()
    entry, modelPath = _model(arguments.model, arguments.models_dir)
    named = {name or "": path for name, (path, _) in parseImages(arguments.image).items()}
    images = {name: readImage(path, f"image '{name}'" if name else "image") for name, path in named.items()}
    mapChannels(images, entry.inputs)  # a missing sequence or grid mismatch: one line, before any work

    with tempfile.TemporaryDirectory(prefix="virtual-biopsy-segment-", dir=out.parent) as temporary:
        labelMapFile = pathlib.Path(temporary) / "labels.nrrd" if segmentationFile else out
        outputs = {"labelMap": str(labelMapFile), **{kind: str(path) for kind, path in extras.items() if path}}
        task = {
            "images": {name: str(path) for name, path in named.items()},
            "model": entryToDict(entry),
            "modelPath": str(modelPath),
            "device": arguments.device,
            "testTimeAugmentation": not arguments.no_tta,
            "folds": folds,
            "keepLargestComponent": arguments.keep_largest,
            "fillHoles": arguments.fill_holes,
            "outputs": outputs,
        }
        with progressBar("segment") as progress:
            result = runWithDeviceFallback(ProcessRunner(), TASK, task, progress)
        written = [pathlib.Path(path) for kind, path in outputs.items() if kind != "labelMap" or not segmentationFile]
        try:
            if segmentationFile:
                _writeSegmentation(labelMapFile, out, entry, result["foundLabels"])
                written.append(out)
            from VirtualBiopsy.files import writeTextAtomically

            writeTextAtomically(json.dumps(result["provenance"], indent=2, default=str), sidecar)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
    names = {label.value: label.name for label in entry.labels}
    found = ", ".join(names.get(value, f"label {value}") for value in result["foundLabels"]) or "nothing (empty)"
    print(f"Segmentation: {out} (found: {found})")
    for kind, path in extras.items():
        if path:
            print(f"{kind.capitalize()}: {path}")
    print(f"Provenance: {sidecar}")
    for warning in result["provenance"].get("domainWarnings") or []:
        print(f"virtual-biopsy segment: warning: {warning}", file=sys.stderr)
    return 0


def _model(model: str, modelsDir: pathlib.Path | None):
    """The entry and path of a registry id, or of a model folder/file given by path (used in place, untrusted),
    after its files and (untrusted) configuration were checked."""
    from VirtualBiopsy.models.modelCheck import checkModelBeforeUse
    from VirtualBiopsy.models.modelDetection import entryFromPath
    from VirtualBiopsy.models.registry import ModelRegistry

    path = pathlib.Path(model)
    if path.exists():
        entry = entryFromPath(path)
        modelPath = pathlib.Path(entry.path)
    else:
        registry = ModelRegistry(modelsDir)
        entry = registry.lookup(model)
        if entry.isCatalogue and not entry.isFetched:  # first use: fetched and verified, with its own progress bar
            from VirtualBiopsy.commands.progressBar import progressBar

            with progressBar("fetch model") as progress:
                entry = registry.get(model, progress=progress)
        modelPath = registry.modelPath(entry)
    checkModelBeforeUse(entry, modelPath)  # before any image is read or worker started; the worker checks again
    return entry, modelPath


def _writeSegmentation(labelMapFile: pathlib.Path, out: pathlib.Path, entry, found: list[int]) -> None:
    """A ``.seg.nrrd`` with one segment per model label (empty ones included) on the label map's grid."""
    import SimpleITK as sitk

    from VirtualBiopsy.mrml.scene import createScene
    from VirtualBiopsy.mrml.segmentations import labelmapImageToSegmentation
    from VirtualBiopsy.mrml.segmentLabels import completeModelSegments
    from VirtualBiopsy.mrml.storage import saveNode

    scene = createScene()
    try:
        labels = [(label.value, label.name, tuple(label.color), label.terminology) for label in entry.labels]
        known = {label.value for label in entry.labels}
        labels += [(value, f"Label_{value}", (0.5, 0.5, 0.5), "") for value in found if value not in known]
        segmentation = labelmapImageToSegmentation(sitk.ReadImage(str(labelMapFile)), scene, _stem(out))
        completeModelSegments(segmentation, labels)
        saveNode(segmentation, out)
    finally:
        scene.Clear(True)


def _requireNewOutputs(paths: dict[str, pathlib.Path]) -> None:
    from VirtualBiopsy.errors import InputError

    seen: dict[pathlib.Path, str] = {}
    for option, path in paths.items():
        path = pathlib.Path(path)
        if option != "provenance" and not path.name.lower().endswith(_VOLUME_EXTENSIONS):
            raise InputError(f"{option} {path} must end in .seg.nrrd (--out only), .nrrd, .nii.gz, .nii or .mha.")
        if path.exists():
            raise InputError(f"{option} {path} exists already; nothing is overwritten. Choose a new path or remove it.")
        if not path.parent.is_dir():
            raise InputError(f"The folder of {option} {path} does not exist; create it first.")
        resolved = path.resolve()
        if resolved in seen:
            raise InputError(f"{option} and {seen[resolved]} name the same file {path}; give each output its own path.")
        seen[resolved] = option


def _stem(path: pathlib.Path) -> str:
    name = pathlib.Path(path).name
    for suffix in (".seg.nrrd", ".nii.gz"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return pathlib.Path(name).stem
