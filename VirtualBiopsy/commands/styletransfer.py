"""``virtual-biopsy styletransfer``: train a CycleGAN between two sites of a cohort, apply it to an image.

``train`` reads a cohort manifest, trains source-site → target-site on one sequence in a worker process
(progress bar), writes the new model folder ``--out`` (``generator.pt``, ``config.json``, ``losses.csv``) and
registers a copy of it, with its tree hash, in the user's model manifest under ``--id``. Every finished epoch is
saved in ``--out``'s work folder ``MODELDIR.partial-work``: a training stopped by Ctrl+C or killed leaves no model
folder, and ``--resume`` continues it from its last finished epoch (the same model as an uninterrupted run);
``--restart`` discards it. ``apply`` translates one image with a model folder or a registered id.
"""

from __future__ import annotations

import argparse
import pathlib

from VirtualBiopsy.commands.tableOptions import addPathOptions, pathOptions


def addParser(commands) -> None:
    """Add the ``styletransfer`` parser and its ``train`` and ``apply`` subcommands."""
    parser = commands.add_parser(
        "styletransfer",
        help="train a CycleGAN between two sites (or field strengths) and apply it to images",
        description="Deep style transfer between MR domains with a slice-wise 2D CycleGAN (ResNet generators, "
        "PatchGAN discriminators), trained on unpaired volumes of two sites of a cohort.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        help="train source site → target site on one sequence and register the model",
        description="Train a CycleGAN that translates one sequence from --source-site to --target-site on the cases "
        "of a cohort manifest, write the new model folder --out and register it (with its SHA-256 tree hash) "
        "in the user's model manifest.",
    )
    train.add_argument(
        "--manifest",
        type=pathlib.Path,
        required=True,
        metavar="COHORT.csv",
        help="cohort manifest with a 'site' column (see 'virtual-biopsy synth')",
    )
    train.add_argument("--sequence", required=True, metavar="NAME", help="sequence column to translate (e.g. T2)")
    train.add_argument("--source-site", required=True, metavar="SITE", help="site whose images are translated")
    train.add_argument("--target-site", required=True, metavar="SITE", help="site whose appearance is learned")
    train.add_argument("--out", type=pathlib.Path, required=True, metavar="MODELDIR", help="new model folder")
    train.add_argument("--epochs", type=int, default=10, metavar="N", help="epochs (default: %(default)s)")
    train.add_argument(
        "--iterations-per-epoch",
        type=int,
        default=50,
        metavar="N",
        help="training steps per epoch (default: %(default)s)",
    )
    train.add_argument(
        "--device",
        default="auto",
        metavar="auto|cpu|cuda",
        help="where to train: auto (a GPU if torch sees one), cpu, cuda or cuda:N (default: auto)",
    )
    train.add_argument(
        "--config",
        default="small",
        metavar="small|full|YAML",
        help="networks and training settings: small (CPU: 16 filters, 3 residual blocks, 64×64 "
        "slices), full (GPU: 64 filters, 9 blocks, 256×256), or a YAML file of CycleGanConfig "
        "settings (default: %(default)s)",
    )
    train.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for torch (default: torch's choice; 1 is often faster on a busy machine)",
    )
    train.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: %(default)s)")
    again = train.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped or killed training of MODELDIR from its last finished epoch (kept in "
        "MODELDIR.partial-work); give the options it was started with",
    )
    again.add_argument(
        "--restart", action="store_true", help="discard MODELDIR.partial-work, a stopped training, and start over"
    )
    train.add_argument(
        "--id", dest="modelId", metavar="ID", help="the registered model's id (default: MODELDIR's name)"
    )
    train.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder to register in (default: the platform's data folder)",
    )
    addPathOptions(train)
    train.set_defaults(run=runTrain)
    apply = actions.add_parser(
        "apply",
        help="translate one image with a trained model",
        description="Translate an image into the model's target domain, slice by slice, on the image's own grid "
        "(same size, spacing, origin and direction); voxels outside the head are 0.",
    )
    apply.add_argument("--model", required=True, metavar="MODELDIR|ID", help="model folder or registered model id")
    apply.add_argument("--image", type=pathlib.Path, required=True, metavar="PATH", help="image file to translate")
    apply.add_argument("--out", type=pathlib.Path, required=True, metavar="PATH", help="new image file to write")
    apply.add_argument("--device", default="auto", metavar="auto|cpu|cuda", help="where to run (default: auto)")
    apply.add_argument("--batch-size", type=int, default=8, metavar="N", help="slices per network call (default: 8)")
    apply.add_argument(
        "--models-dir",
        type=pathlib.Path,
        metavar="DIR",
        help="the user's models folder that lists ID (default: the platform's data folder)",
    )
    apply.set_defaults(run=runApply)


def runTrain(arguments: argparse.Namespace) -> int:
    """Train in a worker, then register the model folder."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.errors import InputError, VirtualBiopsyError
    from VirtualBiopsy.harmonize.styleTransfer.registration import registerStyleModel
    from VirtualBiopsy.harmonize.styleTransfer.training import (
        TRAIN_TASK,
        trainingArguments,
    )
    from VirtualBiopsy.models.modelDetection import defaultModelId, requireModelId
    from VirtualBiopsy.models.registry import ModelRegistry
    from VirtualBiopsy.workers.deviceFallback import checkDevice, runWithDeviceFallback
    from VirtualBiopsy.workers.processRunner import ProcessRunner

    checkDevice(arguments.device)
    source, target, sourceSite, targetSite = siteImages(
        arguments.manifest, arguments.sequence, arguments.source_site, arguments.target_site, pathOptions(arguments)
    )
    task = trainingArguments(
        source,
        target,
        str(arguments.out),
        arguments.sequence,
        sourceSite,
        targetSite,
        _config(arguments.config),
        arguments.epochs,
        arguments.iterations_per_epoch,
        arguments.device,
        arguments.seed,
        arguments.threads,
        resume=arguments.resume,
        restart=arguments.restart,
    )
    modelId = requireModelId(arguments.modelId) if arguments.modelId else defaultModelId(arguments.out)
    registry = ModelRegistry(arguments.models_dir)
    taken = [entry.id for entry in registry.list() if entry.id.lower() == modelId.lower()]
    if taken:
        raise InputError(
            f"A model with id '{taken[0]}' is registered already; choose another --id (nothing was trained)."
        )
    try:
        with progressBar("styletransfer train") as progress:
            result = runWithDeviceFallback(ProcessRunner(), TRAIN_TASK, task, progress)
    except (KeyboardInterrupt, VirtualBiopsyError):
        _sayHowToResume(arguments.out)
        raise
    entry = registerStyleModel(arguments.out, modelId, arguments.models_dir)
    losses = result["losses"]
    print(
        f"Model folder: {arguments.out} ({len(source)} {sourceSite} → {len(target)} {targetSite} volumes, "
        f"{arguments.sequence}; {result['iterationsPerSecond']:.3f} iterations/s on {result['device']})"
    )
    print(
        f"Last epoch: cycle {losses['cycle']:.4f}, identity {losses['identity']:.4f}, adversarial "
        f"{losses['generatorAdversarial']:.4f}; losses per epoch in {arguments.out / 'losses.csv'}"
    )
    print(f"Registered as '{entry.id}' (sha256 {entry.sha256}) in {registry.userManifest}")
    if result.get("resumedAfterEpoch"):
        print(f"Resumed after epoch {result['resumedAfterEpoch']} of {arguments.epochs}.")
    return 0


def _sayHowToResume(out: pathlib.Path) -> None:
    """After a stopped or failed training: where its finished epochs are and how to go on (if any were saved)."""
    import sys

    from VirtualBiopsy.harmonize.styleTransfer.trainingState import CHECKPOINT_NAME
    from VirtualBiopsy.resumableWork import workFolderOf

    work = workFolderOf(out)
    if (work / CHECKPOINT_NAME).is_file():
        print(
            f"virtual-biopsy styletransfer: the finished epochs are kept in {work}; run the same command with "
            "--resume to continue, or with --restart to start over.",
            file=sys.stderr,
        )


def runApply(arguments: argparse.Namespace) -> int:
    """Translate one image in a worker, with the Style transfer panel's settings
    (:class:`~VirtualBiopsy.harmonize.styleTransfer.applicationConfig.StyleTransferConfig`)."""
    from VirtualBiopsy.commands.progressBar import progressBar
    from VirtualBiopsy.errors import InputError
    from VirtualBiopsy.harmonize.styleTransfer.applicationConfig import StyleTransferConfig
    from VirtualBiopsy.harmonize.styleTransfer.tasks import APPLY_TASK
    from VirtualBiopsy.workers.deviceFallback import runWithDeviceFallback
    from VirtualBiopsy.workers.processRunner import ProcessRunner

    config = StyleTransferConfig.fromDict(
        {"styleModel": arguments.model, "styleDevice": arguments.device, "styleBatchSize": arguments.batch_size}
    )
    if arguments.out.exists():
        raise InputError(f"Output file {arguments.out} exists already; nothing is overwritten. Choose a new --out.")
    if not arguments.image.is_file():
        raise InputError(f"The image file {arguments.image} was not found; check --image.")
    _requireModel(arguments.model, arguments.models_dir)
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    with progressBar("styletransfer apply") as progress:
        result = runWithDeviceFallback(
            ProcessRunner(),
            APPLY_TASK,
            {
                "image": str(arguments.image),
                "out": str(arguments.out),
                "modelsFolder": str(arguments.models_dir) if arguments.models_dir else None,
                **config.runArguments(),
            },
            progress,
        )
    print(
        f"Translated image: {arguments.out} ({result['sequence']}, {result['sourceDomain']} → "
        f"{result['targetDomain']}, model '{result['modelId']}' sha256 {result['sha256']}, on {result['device']})"
    )
    return 0


def siteImages(manifest: pathlib.Path, sequence: str, sourceSite: str, targetSite: str, paths: dict | None = None):
    """The image paths of ``sequence`` at the two sites of a cohort manifest, and the sites' names as written there.

    A site matches exactly, ignoring case, or with ``Site`` in front (``A`` → ``SiteA``); ``paths`` holds
    ``dataRoots``/``allowOutsidePaths`` for :func:`~VirtualBiopsy.data.manifest.readManifest`.

    :raises InputError: for an unknown sequence or site, equal sites, or a site without images.
    """
    from VirtualBiopsy.data.manifest import readManifest
    from VirtualBiopsy.errors import InputError

    cohort = readManifest(manifest, **(paths or {}))
    if sequence not in cohort.sequences:
        raise InputError(
            f"Manifest {manifest} has no sequence '{sequence}'; it has: {', '.join(cohort.sequences)}. "
            "Choose one with --sequence."
        )
    sites = sorted({case.site for case in cohort.cases if case.site})
    if not sites:
        raise InputError(f"Manifest {manifest} has no 'site' values; add a site column to tell the domains apart.")

    def resolve(value: str, option: str) -> str:
        for candidate in (value, f"Site{value}"):
            found = [site for site in sites if site.lower() == candidate.lower()]
            if found:
                return found[0]
        raise InputError(f"{option} '{value}' is not a site of manifest {manifest}; its sites are: {', '.join(sites)}.")

    source, target = resolve(sourceSite, "--source-site"), resolve(targetSite, "--target-site")
    if source == target:
        raise InputError(f"--source-site and --target-site are both '{source}'; give two different sites.")
    images = {
        site: [
            str(case.sequences[sequence])
            for case in cohort.validCases
            if case.site == site and sequence in case.sequences
        ]
        for site in (source, target)
    }
    for site, found in images.items():
        if not found:
            raise InputError(
                f"Site '{site}' has no usable {sequence} image in manifest {manifest}; check the "
                "manifest (virtual-biopsy synth writes one) or choose another site."
            )
    return images[source], images[target], source, target


def _config(value: str):
    """The CycleGAN settings ``--config`` names: a preset or a YAML file."""
    from VirtualBiopsy.harmonize.styleTransfer.config import PRESETS, CycleGanConfig
    from VirtualBiopsy.settings import readYamlFile

    if value in PRESETS:
        return CycleGanConfig.preset(value)
    if pathlib.Path(value).suffix.lower() not in (".yaml", ".yml", ".json"):
        from VirtualBiopsy.errors import InputError

        raise InputError(
            f"--config '{value}' is neither a configuration ({', '.join(PRESETS)}) nor a YAML file; "
            "give small, full or the path of a .yaml file of CycleGanConfig settings."
        )
    return CycleGanConfig.fromDict(readYamlFile(value, "CycleGAN settings file"))


def _requireModel(model: str, modelsDir: pathlib.Path | None) -> None:
    """Fail before the worker starts when ``model`` is neither a folder nor a registered id."""
    from VirtualBiopsy.models.registry import ModelRegistry

    if not pathlib.Path(model).is_dir():
        ModelRegistry(modelsDir).get(model)
